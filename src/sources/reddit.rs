//! Reddit's public JSON listings: a subreddit's new posts, a site search, or
//! a search restricted to one subreddit.
//!
//! Every request carries `raw_json=1`: without it Reddit HTML-escapes `&`,
//! `<` and `>` in every string, and the text would be stored escaped.
//! Listings page forward with the `after` fullname.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::util::{endpoint, json_page, malformed, no_entries, non_empty, with_query_param};
use super::{Body, Engagement, Page, RawItem, Response, SourceError};
use crate::config::SourceConfig;

const EXPECTED: &str = "a Reddit listing";

/// Where relative permalinks point when the response came from a Reddit
/// host: `oauth.` and `old.` hosts serve the same posts as `www.`.
const WEB_ORIGIN: &str = "https://www.reddit.com";

/// The first URL to fetch: the subreddit's new posts, a site search sorted by
/// date, or (both set) a search restricted to the subreddit.
pub fn first_page(source: &SourceConfig) -> Url {
    let sub = source.params.subreddit.as_deref();
    let query = source.query.as_deref();
    let listing = if query.is_some() { "search.json" } else { "new.json" };
    let mut url = endpoint(&source.url, sub.into_iter().flat_map(|sub| ["r", sub]).chain([listing]));
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(q) = query {
            pairs.append_pair("q", q);
            if sub.is_some() {
                pairs.append_pair("restrict_sr", "1");
            }
            pairs.append_pair("sort", "new");
        }
        pairs.append_pair("limit", "100");
        pairs.append_pair("raw_json", "1");
    }
    url
}

/// The top level: a Listing, or an error object
/// (`{"message": "Forbidden", "error": 403, "reason": "quarantined"}`).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(borrow, default)]
    data: Option<ListingData<'a>>,
    #[serde(default)]
    message: Option<String>,
    /// A status number (`403`) or a code string, depending on the endpoint.
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct ListingData<'a> {
    #[serde(default)]
    after: Option<String>,
    /// Kept raw so that one child of an unexpected shape costs that child.
    #[serde(borrow, default)]
    children: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Child {
    kind: Option<String>,
    data: Option<Thing>,
}

/// A post (`t3`) or, in some listings, a comment (`t1`). `edited` (`false`
/// or a timestamp) and the other fields not needed are left unread.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Thing {
    name: Option<String>,
    id: Option<String>,
    permalink: Option<String>,
    title: Option<String>,
    /// A comment's post title.
    link_title: Option<String>,
    selftext: Option<String>,
    /// A comment's text.
    body: Option<String>,
    author: Option<String>,
    created_utc: Option<f64>,
    score: Option<i64>,
    ups: Option<i64>,
    num_comments: Option<i64>,
}

/// Reads one listing. `next` is this listing's URL with `after` set to the
/// listing's `after`, while there is one and the page was not empty.
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(response.body).map_err(|e| malformed(EXPECTED, response.body, e))?;
    if let Some(error) = envelope.error {
        return Err(SourceError::Service(service_message(error, envelope.message, envelope.reason)));
    }
    if let Some(kind) = envelope.kind.as_deref().filter(|k| *k != "Listing") {
        return Err(malformed(EXPECTED, response.body, format!("its kind is \"{kind}\", not \"Listing\"")));
    }
    let Some(ListingData { after, children: Some(children) }) = envelope.data else {
        return Err(malformed(EXPECTED, response.body, "it has no data.children"));
    };
    let base = web_origin(response.url);
    let mut page = json_page(&children, |child| item(child, &base));
    if !no_entries(&page) {
        page.next = after.filter(|a| !a.is_empty()).map(|after| next_url(response.url, &after));
    }
    Ok(page)
}

/// "Forbidden (error 403: quarantined)" from Reddit's error object.
fn service_message(error: serde_json::Value, message: Option<String>, reason: Option<String>) -> String {
    let code = match error {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let detail = match reason {
        Some(reason) => format!("error {code}: {reason}"),
        None => format!("error {code}"),
    };
    match message {
        Some(message) => format!("{message} ({detail})"),
        None => detail,
    }
}

/// The base for relative permalinks: the public web host for Reddit's own
/// API hosts; the response's own URL for anything else (a mirror, a test
/// server).
fn web_origin(response_url: &Url) -> Url {
    let reddit = response_url.host_str().is_some_and(|h| h == "reddit.com" || h.ends_with(".reddit.com"));
    if reddit {
        Url::parse(WEB_ORIGIN).unwrap_or_else(|_| response_url.clone())
    } else {
        response_url.clone()
    }
}

/// The item of one child; `None` when it has no id.
fn item(child: Child, base: &Url) -> Option<RawItem> {
    let thing = child.data?;
    let external_id = match (non_empty(thing.name), non_empty(thing.id), non_empty(child.kind)) {
        (Some(name), _, _) => name,
        // The fullname, as Reddit itself would write it.
        (None, Some(id), Some(kind)) => format!("{kind}_{id}"),
        (None, Some(id), None) => id,
        (None, None, _) => return None,
    };
    let text = non_empty(thing.selftext).or(thing.body).unwrap_or_default();
    Some(RawItem {
        external_id,
        url: non_empty(thing.permalink).and_then(|p| base.join(&p).ok()).map(String::from),
        author: non_empty(thing.author),
        title: non_empty(thing.title).or_else(|| non_empty(thing.link_title)),
        body: Body::Text(text),
        published: thing.created_utc.and_then(from_unix_float),
        engagement: Engagement {
            likes: thing.ups,
            reposts: None,
            replies: thing.num_comments,
            score: thing.score,
        },
        lang_hint: None,
    })
}

/// A time from float unix seconds (`1594424685.0`).
fn from_unix_float(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() {
        return None;
    }
    let whole = seconds.floor();
    // `as` saturates out-of-range floats; from_timestamp then rejects them.
    let nanos = ((seconds - whole) * 1e9) as u32;
    DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
}

/// The response URL with `after` (and `raw_json=1`) set, other parameters kept.
fn next_url(current: &Url, after: &str) -> Url {
    with_query_param(&with_query_param(current, "raw_json", "1"), "after", after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceKind, SourceParams};
    use crate::sources::util::test_support::{self as support, *};

    fn parse_body(body: &[u8]) -> Result<Page, SourceError> {
        parse_json(parse, "https://oauth.reddit.com/r/askreddit/new?limit=100&raw_json=1", None, body)
    }

    fn source(sub: Option<&str>, query: Option<&str>) -> SourceConfig {
        let params =
            SourceParams { subreddit: sub.map(str::to_owned), max_pages: Some(2), ..SourceParams::default() };
        support::source(SourceKind::Reddit, "https://www.reddit.com/", query, params)
    }

    #[test]
    fn first_page_for_a_subreddit() {
        assert_eq!(
            first_page(&source(Some("Android"), None)).as_str(),
            "https://www.reddit.com/r/Android/new.json?limit=100&raw_json=1"
        );
    }

    #[test]
    fn first_page_for_a_site_search() {
        assert_eq!(
            first_page(&source(None, Some("Kestrel X200"))).as_str(),
            "https://www.reddit.com/search.json?q=Kestrel+X200&sort=new&limit=100&raw_json=1"
        );
    }

    #[test]
    fn first_page_for_a_search_in_a_subreddit() {
        let url = first_page(&source(Some("Android"), Some("Kestrel \"X200\" über")));
        assert_eq!(
            url.as_str(),
            "https://www.reddit.com/r/Android/search.json?q=Kestrel+%22X200%22+%C3%BCber&restrict_sr=1&sort=new&limit=100&raw_json=1"
        );
        assert_eq!(url.query_pairs().next().unwrap().1, "Kestrel \"X200\" über");
    }

    #[test]
    fn first_page_always_asks_for_raw_json() {
        for (sub, query) in [(Some("a"), None), (None, Some("q")), (Some("a"), Some("q")), (None, None)] {
            let url = first_page(&source(sub, query));
            assert!(url.query_pairs().any(|(k, v)| k == "raw_json" && v == "1"), "{url}");
        }
    }

    #[test]
    fn new_posts_of_a_subreddit() {
        let page = parse_body(&fixture("reddit-r_new-askreddit.json")).unwrap();
        assert_eq!(page.items.len(), 100);
        assert_eq!(page.skipped, 0);
        let first = &page.items[0];
        assert_eq!(first.external_id, "t3_hozvuc");
        assert_eq!(
            first.url.as_deref(),
            Some(
                "https://www.reddit.com/r/AskReddit/comments/hozvuc/what_is_best_thing_america_has_done_for_the_world/"
            )
        );
        assert_eq!(first.author.as_deref(), Some("p1aguedoc"));
        assert_eq!(first.title.as_deref(), Some("What is best thing America has done for the world?"));
        assert_eq!(first.body, Body::Text(String::new()));
        assert_eq!(first.published, time("2020-07-10T23:44:45Z"));
        assert_eq!(
            first.engagement,
            Engagement { likes: Some(3), reposts: None, replies: Some(3), score: Some(3) }
        );
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://oauth.reddit.com/r/askreddit/new?limit=100&raw_json=1&after=t3_hozfbb"
        );
    }

    #[test]
    fn hot_posts_with_the_current_field_set() {
        let page = parse_body(&fixture("reddit-r_hot-popular.json")).unwrap();
        assert_eq!(page.items.len(), 100);
        assert_eq!(page.skipped, 0);
        let first = &page.items[0];
        assert_eq!(first.external_id, "t3_1skjxta");
        assert!(
            first
                .title
                .as_deref()
                .unwrap()
                .starts_with("Ulberg on Jiri showing mercy: “That’s bullshit, total")
        );
        assert!(matches!(&first.body, Body::Text(t) if t.starts_with("https://x.com/arielhelwani/status/")));
        assert_eq!(first.published, time("2026-04-13T18:44:08Z"));
        assert_eq!(first.engagement.score, Some(546));
        assert_eq!(first.engagement.replies, Some(495));
        assert!(
            page.items
                .iter()
                .all(|i| i.url.as_deref().is_some_and(|u| u.starts_with("https://www.reddit.com/r/")))
        );
        assert!(page.next.unwrap().query_pairs().any(|(k, v)| k == "after" && v == "t3_1skbyfv"));
    }

    #[test]
    fn search_results_with_edited_false_and_timestamps() {
        let page = parse_body(&fixture("reddit-search-praw_oauth_search.json")).unwrap();
        assert_eq!(page.items.len(), 31);
        assert_eq!(page.skipped, 0);
        // The last page of this search: no `after`.
        assert_eq!(page.next, None);
        // `edited` is a timestamp here ...
        let edited = &page.items[0];
        assert_eq!(edited.external_id, "t3_6ganxe");
        assert_eq!(edited.author.as_deref(), Some("cheesycow5"));
        assert!(
            matches!(&edited.body, Body::Text(t) if t.starts_with("I need to check the availability of a username"))
        );
        // ... and `false` here.
        assert_eq!(page.items[2].external_id, "t3_aoz5fp");
        // Markdown is kept as text, unescaped (raw_json=1).
        assert!(matches!(&page.items[2].body, Body::Text(t) if t.contains("||Submissions|Comments|")));
        assert!(page.items.iter().all(|i| !matches!(&i.body, Body::Text(t) if t.contains("&amp;"))));
    }

    #[test]
    fn edited_may_be_false_or_a_number() {
        for edited in ["false", "true", "1497037123.0", "1497037123", "null"] {
            let body = format!(
                r#"{{"kind":"Listing","data":{{"after":null,"children":[{{"kind":"t3","data":{{"name":"t3_a","id":"a",
                "permalink":"/r/x/comments/a/t/","title":"T","selftext":"S","edited":{edited},"created_utc":1497036556.5,
                "score":2,"ups":3,"num_comments":4}}}}]}}}}"#
            );
            let page = parse_body(body.as_bytes()).unwrap();
            assert_eq!(page.items.len(), 1, "edited = {edited}");
            assert_eq!(page.items[0].published, time("2017-06-09T19:29:16.5Z"));
        }
    }

    #[test]
    fn empty_listing() {
        let page = parse_body(&fixture("reddit-listing-empty.json")).unwrap();
        assert_eq!(page, Page::default());
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            parse_body(&fixture("reddit-error-403-forbidden.json")),
            Err(SourceError::Service("Forbidden (error 403)".into()))
        );
        assert_eq!(
            parse_body(&fixture("reddit-error-429-too_many_requests.json")),
            Err(SourceError::Service("Too Many Requests (error 429)".into()))
        );
        assert_eq!(
            parse_body(br#"{"reason":"private","message":"Forbidden","error":403}"#),
            Err(SourceError::Service("Forbidden (error 403: private)".into()))
        );
        let err = parse_body(&fixture("reddit-error-429-too_many_requests.html")).unwrap_err();
        assert!(matches!(err, SourceError::Malformed { expected: EXPECTED, .. }));
        assert!(err.to_string().contains("<!doctype html>"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        for body in [
            &b"[]"[..],
            b"{}",
            br#"{"kind":"t3","data":{"id":"x"}}"#,
            br#"{"kind":"Listing","data":{"children":{}}}"#,
            b"",
        ] {
            assert!(matches!(parse_body(body), Err(SourceError::Malformed { .. })), "{body:?}");
        }
    }

    #[test]
    fn children_without_id_are_skipped() {
        let body = br#"{"kind":"Listing","data":{"after":"t3_z","children":[
            {"kind":"t3","data":{"title":"no id"}},
            {"kind":"t3"},
            {"kind":"t3","data":{"id":"b","score":"high"}},
            {"kind":"t1","data":{"id":"c","body":"a comment","link_title":"Post","permalink":"/r/x/comments/a/t/c/"}}
        ]}}"#;
        let page = parse_body(body).unwrap();
        assert_eq!(page.skipped, 3);
        let comment = &page.items[0];
        assert_eq!(comment.external_id, "t1_c");
        assert_eq!(comment.title.as_deref(), Some("Post"));
        assert_eq!(comment.body, Body::Text("a comment".into()));
        assert_eq!(comment.url.as_deref(), Some("https://www.reddit.com/r/x/comments/a/t/c/"));
    }

    #[test]
    fn next_replaces_after_and_keeps_other_parameters() {
        let body = fixture("reddit-r_new-askreddit.json");
        let page = parse_json(
            parse,
            "https://www.reddit.com/search.json?q=a+b&after=t3_old&sort=new&raw_json=1",
            None,
            &body,
        )
        .unwrap();
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://www.reddit.com/search.json?q=a+b&sort=new&raw_json=1&after=t3_hozfbb"
        );
    }

    #[test]
    fn permalinks_of_other_hosts_resolve_against_the_response() {
        let body = fixture("reddit-r_new-askreddit.json");
        let page =
            parse_json(parse, "http://127.0.0.1:8080/r/askreddit/new.json?raw_json=1", None, &body).unwrap();
        assert!(
            page.items[0]
                .url
                .as_deref()
                .unwrap()
                .starts_with("http://127.0.0.1:8080/r/AskReddit/comments/hozvuc/")
        );
    }

    #[test]
    fn truncated_bodies_do_not_panic() {
        for name in ["reddit-search-praw_oauth_search.json", "reddit-r_hot-popular.json"] {
            assert_truncations_refused(parse_body, name, &fixture(name), 997);
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
