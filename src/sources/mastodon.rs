//! Mastodon (and API-compatible servers): a hashtag timeline
//! (`/api/v1/timelines/tag/{tag}`) or a status search (`/api/v2/search`).
//!
//! Statuses are identified by their ActivityPub `uri`, which is the same on
//! every instance, so a post seen through two instances is stored once.
//! Timelines page backwards through the `Link` response header.

use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::util::{endpoint, json_page, malformed, no_entries, non_empty, rfc3339};
use super::{Body, Engagement, Page, RawItem, Response, SourceError};
use crate::config::SourceConfig;

const EXPECTED: &str = "a Mastodon list of statuses or search result";

/// The most statuses Mastodon returns per request.
const LIMIT: &str = "40";

/// The first URL to fetch: the hashtag timeline when `params.tag` is set,
/// else a search for the query (statuses only, without resolving remote URLs).
pub fn first_page(source: &SourceConfig) -> Url {
    let tag = source.params.tag.as_deref();
    let segments: &[&str] = match (tag, &source.query) {
        (Some(tag), _) => &["api", "v1", "timelines", "tag", tag],
        (None, Some(_)) => &["api", "v2", "search"],
        // Config validation requires a tag or a query; the public
        // timeline is the harmless answer should neither arrive.
        (None, None) => &["api", "v1", "timelines", "public"],
    };
    let mut url = endpoint(&source.url, segments.iter().copied());
    {
        let mut query = url.query_pairs_mut();
        match (tag, &source.query) {
            (None, Some(q)) => {
                query.append_pair("q", q);
                query.append_pair("type", "statuses");
                query.append_pair("limit", LIMIT);
                query.append_pair("resolve", "false");
            }
            _ => {
                query.append_pair("limit", LIMIT);
            }
        }
    }
    url
}

/// `/api/v2/search` answers an object; errors are objects too.
#[derive(Deserialize)]
struct SearchBody<'a> {
    #[serde(borrow, default)]
    statuses: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    error: Option<String>,
    /// OAuth errors add a human-readable description.
    #[serde(default)]
    error_description: Option<String>,
}

/// One status. Every field is optional: servers and versions differ in what
/// they send (and Mastodon forks omit some).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Status {
    uri: Option<String>,
    url: Option<String>,
    account: Option<Account>,
    content: Option<String>,
    created_at: Option<String>,
    language: Option<String>,
    favourites_count: Option<i64>,
    reblogs_count: Option<i64>,
    replies_count: Option<i64>,
    reblog: Option<Box<Status>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Account {
    acct: Option<String>,
    username: Option<String>,
}

/// Reads one response: an array of statuses (a timeline) or a search result
/// object with `statuses`. `next` comes from the `Link` header's `rel="next"`.
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let mut page = json_page(&statuses(response.body)?, item);
    // The last page of a timeline is empty; stopping there avoids asking
    // again for a page known to be empty, whatever the header says.
    if !no_entries(&page) {
        page.next = response.link.and_then(next_link).and_then(|target| absolute(response.url, target));
    }
    Ok(page)
}

/// The raw statuses of a body, or the error it reports.
fn statuses(body: &[u8]) -> Result<Vec<&RawValue>, SourceError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(body).map_err(|e| malformed(EXPECTED, body, e)),
        Some(b'{') => {
            let object: SearchBody<'_> =
                serde_json::from_slice(body).map_err(|e| malformed(EXPECTED, body, e))?;
            match (object.statuses, object.error) {
                (Some(statuses), _) => Ok(statuses),
                (None, Some(error)) => Err(SourceError::Service(match object.error_description {
                    Some(description) => format!("{error}: {description}"),
                    None => error,
                })),
                (None, None) => Err(SourceError::Malformed {
                    expected: EXPECTED,
                    detail: "the object has neither \"statuses\" nor \"error\"".into(),
                }),
            }
        }
        _ => Err(malformed(EXPECTED, body, "neither a JSON array nor an object")),
    }
}

/// The item of one status (of the reblogged status, for a boost); `None`
/// when it has no id.
fn item(status: Status) -> Option<RawItem> {
    let status = match status.reblog {
        Some(original) => *original,
        None => status,
    };
    let uri = non_empty(status.uri);
    let url = non_empty(status.url).or_else(|| uri.clone());
    let external_id = uri.or_else(|| url.clone())?;
    let author = status.account.and_then(|a| non_empty(a.acct).or_else(|| non_empty(a.username)));
    Some(RawItem {
        external_id,
        url,
        author,
        title: None,
        body: Body::Html(status.content.unwrap_or_default()),
        published: status.created_at.as_deref().and_then(rfc3339),
        engagement: Engagement {
            likes: status.favourites_count,
            reposts: status.reblogs_count,
            replies: status.replies_count,
            score: None,
        },
        lang_hint: non_empty(status.language),
    })
}

/// The target of the `rel="next"` link of an RFC 8288 `Link` header.
///
/// Targets may hold commas and parameters may be quoted, so the header is
/// walked link by link rather than split on commas.
fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        rest = &rest[close + 1..];
        let params_end = end_of_params(rest);
        if has_rel_next(&rest[..params_end]) {
            return Some(target.trim());
        }
        rest = &rest[params_end..];
    }
}

/// Where the parameters of one link end: at the first comma outside quotes.
fn end_of_params(params: &str) -> usize {
    let mut quoted = false;
    for (i, c) in params.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return i,
            _ => {}
        }
    }
    params.len()
}

/// Whether link parameters (`; rel="next prev"; title=...`) name `next`.
fn has_rel_next(params: &str) -> bool {
    params.split(';').filter_map(|p| p.split_once('=')).any(|(name, value)| {
        name.trim().eq_ignore_ascii_case("rel")
            && value.trim().trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
    })
}

/// A link target resolved against the response URL; only web URLs.
fn absolute(base: &Url, target: &str) -> Option<Url> {
    base.join(target).ok().filter(|u| matches!(u.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceKind, SourceParams};
    use crate::sources::util::test_support::{self as support, *};

    const PAGE_URL: &str = "http://127.0.0.1:3000/api/v1/timelines/tag/lumio?limit=40";

    fn parse_with(body: &[u8], link: Option<&str>) -> Result<Page, SourceError> {
        parse_json(parse, PAGE_URL, link, body)
    }

    fn parse_body(body: &[u8]) -> Result<Page, SourceError> {
        parse_with(body, None)
    }

    fn source(tag: Option<&str>, query: Option<&str>) -> SourceConfig {
        let params =
            SourceParams { tag: tag.map(str::to_owned), max_pages: Some(3), ..SourceParams::default() };
        support::source(SourceKind::Mastodon, "https://mastodon.social", query, params)
    }

    #[test]
    fn first_page_for_a_tag() {
        let url = first_page(&source(Some("lumio"), None));
        assert_eq!(url.as_str(), "https://mastodon.social/api/v1/timelines/tag/lumio?limit=40");
        let url = first_page(&source(Some("café"), None));
        assert_eq!(url.as_str(), "https://mastodon.social/api/v1/timelines/tag/caf%C3%A9?limit=40");
    }

    #[test]
    fn first_page_for_a_search() {
        let url = first_page(&source(None, Some("Lumio X2 ärger")));
        assert_eq!(
            url.as_str(),
            "https://mastodon.social/api/v2/search?q=Lumio+X2+%C3%A4rger&type=statuses&limit=40&resolve=false"
        );
        assert_eq!(url.query_pairs().next().unwrap().1, "Lumio X2 ärger");
    }

    #[test]
    fn tag_timeline() {
        let page = parse_body(&fixture("mastodon-timelines_tag-statuses.json")).unwrap();
        assert_eq!(page.items.len(), 10);
        assert_eq!(page.skipped, 0);
        let first = &page.items[0];
        assert_eq!(
            first.external_id,
            "http://localhost:3000/ap/users/117020566092212359/statuses/117020581413876942"
        );
        assert_eq!(first.url.as_deref(), Some("http://localhost:3000/@mastodonpy_test_2/117020581413876942"));
        assert_eq!(first.author.as_deref(), Some("mastodonpy_test_2"));
        assert_eq!(first.title, None);
        assert!(matches!(&first.body, Body::Html(t) if t.starts_with("<p>Toot number 29! <a href=")));
        assert_eq!(first.published, time("2026-08-01T13:52:47.767Z"));
        assert_eq!(first.lang_hint.as_deref(), Some("ja"));
        assert_eq!(
            first.engagement,
            Engagement { likes: Some(0), reposts: Some(0), replies: Some(0), score: None }
        );
    }

    #[test]
    fn empty_tag_timeline_ends_paging() {
        let link = r#"<https://mastodon.social/api/v1/timelines/tag/x?max_id=1>; rel="next""#;
        let page = parse_with(&fixture("mastodon-timelines_tag-empty.json"), Some(link)).unwrap();
        assert_eq!(page, Page::default());
    }

    #[test]
    fn public_timelines() {
        let page = parse_body(&fixture("mastodon-timelines_public-statuses.json")).unwrap();
        assert_eq!(page.items.len(), 8);
        assert_eq!(page.items[1].author.as_deref(), Some("admin"));
        assert_eq!(page.items[1].body, Body::Html("<p>you can&#39;t say that on television</p>".into()));
        assert_eq!(page.items[1].lang_hint.as_deref(), Some("en"));

        let page = parse_body(&fixture("mastodon-timelines_public-mastodon_social.json")).unwrap();
        assert_eq!(page.items.len(), 20);
        assert_eq!(page.skipped, 0);
        let first = &page.items[0];
        assert_eq!(
            first.external_id,
            "https://friendica.chilemasto.casa/objects/e7f1d4da94e7709966bfc900101aebf181299505"
        );
        assert_eq!(first.author.as_deref(), Some("elmostrador@friendica.chilemasto.casa"));
        assert_eq!(first.published, time("2020-04-16T16:45:08Z"));
        assert_eq!(first.lang_hint.as_deref(), Some("es"));
        // The one status with `language: null`.
        let unknown: Vec<_> = page.items.iter().filter(|i| i.lang_hint.is_none()).collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].author.as_deref(), Some("Heibonn_hiroro@pawoo.net"));
        assert!(page.items.iter().all(|i| i.url.is_some() && i.published.is_some()));
    }

    #[test]
    fn search_results() {
        let page = parse_body(&fixture("mastodon-v2_search-mastodon_social.json")).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, None);
        let second = &page.items[1];
        assert_eq!(second.external_id, "https://social.sublingual.xyz/users/Jo/statuses/116388107097123650");
        assert_eq!(second.url.as_deref(), Some("https://social.sublingual.xyz/@Jo/116388107097123650"));
        assert_eq!(second.author.as_deref(), Some("Jo@social.sublingual.xyz"));
        assert_eq!(second.published, time("2026-04-11T21:06:15Z"));
        assert_eq!(
            second.engagement,
            Engagement { likes: Some(4), reposts: Some(1), replies: Some(0), score: None }
        );
        assert_eq!(page.items[0].engagement.replies, Some(1));

        assert_eq!(parse_body(&fixture("mastodon-v2_search-empty.json")).unwrap(), Page::default());
    }

    #[test]
    fn error_bodies_are_service_errors() {
        assert_eq!(
            parse_body(&fixture("mastodon-error-404-record_not_found.json")),
            Err(SourceError::Service("Record not found".into()))
        );
        assert_eq!(
            parse_body(&fixture("mastodon-error-401-invalid_token.json")),
            Err(SourceError::Service("The access token is invalid".into()))
        );
        assert_eq!(
            parse_body(br#"{"error":"invalid_grant","error_description":"expired"}"#),
            Err(SourceError::Service("invalid_grant: expired".into()))
        );
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        for body in [&b""[..], b"   ", b"\"text\"", b"{}", b"{\"statuses\":{}}", b"[1,"] {
            assert!(matches!(parse_body(body), Err(SourceError::Malformed { .. })), "{body:?}");
        }
        let err = parse_body(&fixture("reddit-error-429-too_many_requests.html")).unwrap_err();
        assert!(err.to_string().contains("<!doctype html>"), "{err}");
    }

    #[test]
    fn a_reblog_is_read_as_the_original_status() {
        let body = br#"[{"id":"9","uri":"https://a.example/users/b/statuses/9/activity","url":null,
            "account":{"acct":"booster"},"content":"","reblogs_count":0,
            "reblog":{"id":"5","uri":"https://b.example/users/o/statuses/5","url":"https://b.example/@o/5",
              "account":{"username":"o","acct":"o@b.example"},"content":"<p>Great phone</p>",
              "created_at":"2025-01-02T03:04:05.000Z","language":"en",
              "favourites_count":7,"reblogs_count":2,"replies_count":1}}]"#;
        let page = parse_body(body).unwrap();
        let item = &page.items[0];
        assert_eq!(item.external_id, "https://b.example/users/o/statuses/5");
        assert_eq!(item.url.as_deref(), Some("https://b.example/@o/5"));
        assert_eq!(item.author.as_deref(), Some("o@b.example"));
        assert_eq!(item.body, Body::Html("<p>Great phone</p>".into()));
        assert_eq!(item.engagement.reposts, Some(2));
    }

    #[test]
    fn statuses_without_id_or_of_the_wrong_shape_are_skipped() {
        let body = br#"[{"content":"no uri"},{"uri":"u:1","url":null,"account":{"username":"x"}},
            {"uri":"u:2","favourites_count":"many"},42]"#;
        let page = parse_body(body).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.skipped, 3);
        assert_eq!(page.items[0].url.as_deref(), Some("u:1"));
        assert_eq!(page.items[0].author.as_deref(), Some("x"));
        assert_eq!(page.items[0].body, Body::Html(String::new()));
    }

    #[test]
    fn next_page_from_the_link_header() {
        let body = fixture("mastodon-timelines_tag-statuses.json");
        let link = "<https://mastodon.social/api/v1/timelines/tag/lumio?limit=40&max_id=117020581339834938>; \
                    rel=\"next\", <https://mastodon.social/api/v1/timelines/tag/lumio?limit=40&min_id=1170>; rel=\"prev\"";
        let page = parse_with(&body, Some(link)).unwrap();
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://mastodon.social/api/v1/timelines/tag/lumio?limit=40&max_id=117020581339834938"
        );
        // Only `prev`: no next page.
        let prev_only = "<https://mastodon.social/api/v1/timelines/tag/lumio?min_id=1>; rel=\"prev\"";
        assert_eq!(parse_with(&body, Some(prev_only)).unwrap().next, None);
        assert_eq!(parse_body(&body).unwrap().next, None);
    }

    #[test]
    fn link_headers_are_parsed_robustly() {
        assert_eq!(next_link(r#"<a?x=1,2>; rel="prev", <b?y=3,4>; rel="next""#), Some("b?y=3,4"));
        assert_eq!(next_link(r#"<a>; title="x, rel=next"; rel=prev, <b>; REL="Next""#), Some("b"));
        assert_eq!(next_link(r#"<a>; rel="prev next""#), Some("a"));
        assert_eq!(next_link("<a>;rel=next"), Some("a"));
        assert_eq!(next_link(r#"<a>; rel="nextish""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unterminated; rel=next"), None);
        assert_eq!(next_link("garbage"), None);
        // A relative target resolves against the response URL.
        let body = fixture("mastodon-timelines_tag-statuses.json");
        let page = parse_with(&body, Some("</api/v1/timelines/tag/lumio?max_id=5>; rel=next")).unwrap();
        assert_eq!(page.next.unwrap().as_str(), "http://127.0.0.1:3000/api/v1/timelines/tag/lumio?max_id=5");
        let page = parse_with(&body, Some("<javascript:alert(1)>; rel=next")).unwrap();
        assert_eq!(page.next, None);
    }

    #[test]
    fn truncated_bodies_do_not_panic() {
        for name in [
            "mastodon-timelines_tag-statuses.json",
            "mastodon-timelines_public-mastodon_social.json",
            "mastodon-v2_search-mastodon_social.json",
        ] {
            assert_truncations_refused(parse_body, name, &fixture(name), 89);
        }
    }

    /// Bodies of other services (and this one's errors) are read or refused,
    /// never a panic.
    #[test]
    fn any_fixture_body_is_read_or_refused() {
        for body in all_fixtures() {
            let _ = parse_body(&body);
        }
    }
}
