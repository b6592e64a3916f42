//! Hacker News, through the Algolia search API (`/api/v1/search_by_date`).
//!
//! One response is one page of up to 100 hits, newest first. Stories and
//! comments share the hit shape; a comment has no title or URL of its own, so
//! it borrows its story's title and gets its own HN permalink.

use chrono::DateTime;
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::util::{endpoint, json_page, malformed, non_empty, rfc3339};
use super::{Body, Engagement, Page, RawItem, Response, SourceError};
use crate::config::SourceConfig;

const EXPECTED: &str = "a Hacker News (Algolia) search result";

/// The permalink of an item on news.ycombinator.com, without its id.
const ITEM_URL: &str = "https://news.ycombinator.com/item?id=";

/// The first URL to fetch: the newest 100 hits for the query, limited to the
/// configured tags (several are OR-ed, in Algolia's `(a,b)` syntax).
pub fn first_page(source: &SourceConfig) -> Url {
    let mut url = endpoint(&source.url, ["api", "v1", "search_by_date"]);
    let tags = algolia_tags(&source.params.tags);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("query", source.query.as_deref().unwrap_or_default());
        if !tags.is_empty() {
            query.append_pair("tags", &tags);
        }
        query.append_pair("hitsPerPage", "100");
    }
    url
}

/// Algolia's `tags` filter: a single tag as is, several as an OR group.
fn algolia_tags(tags: &[String]) -> String {
    match tags {
        [] => String::new(),
        [one] => one.clone(),
        many => format!("({})", many.join(",")),
    }
}

/// The top level of a search response. Hits are kept raw so that one hit of
/// an unexpected shape costs that hit, not the page.
#[derive(Deserialize)]
struct SearchBody<'a> {
    #[serde(borrow, default)]
    hits: Option<Vec<&'a RawValue>>,
    /// Algolia's error responses are `{"message": "...", "status": 400}`.
    #[serde(default)]
    message: Option<String>,
}

/// One hit: a story or a comment. Every field is optional because newer
/// responses omit nulls.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: Option<String>,
    title: Option<String>,
    story_title: Option<String>,
    url: Option<String>,
    author: Option<String>,
    story_text: Option<String>,
    comment_text: Option<String>,
    created_at: Option<String>,
    created_at_i: Option<i64>,
    points: Option<i64>,
    num_comments: Option<i64>,
    #[serde(rename = "_tags")]
    tags: Option<Vec<String>>,
}

/// Reads one search response. Algolia paginates by page number, but a
/// search by date only ever needs its newest page, so `next` is always `None`.
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let body: SearchBody<'_> =
        serde_json::from_slice(response.body).map_err(|e| malformed(EXPECTED, response.body, e))?;
    let Some(hits) = body.hits else {
        return Err(match body.message {
            Some(message) => SourceError::Service(message),
            None => {
                SourceError::Malformed { expected: EXPECTED, detail: "the object has no \"hits\"".into() }
            }
        });
    };
    Ok(json_page(&hits, item))
}

/// The item of one hit; `None` when it has no id.
fn item(hit: Hit) -> Option<RawItem> {
    let id = non_empty(hit.object_id)?;
    let is_comment =
        hit.comment_text.is_some() || hit.tags.as_deref().is_some_and(|t| t.iter().any(|t| t == "comment"));
    let url = non_empty(hit.url).unwrap_or_else(|| format!("{ITEM_URL}{id}"));
    let published = hit
        .created_at
        .as_deref()
        .and_then(rfc3339)
        .or_else(|| hit.created_at_i.and_then(|s| DateTime::from_timestamp(s, 0)));
    let text = non_empty(hit.story_text).or_else(|| non_empty(hit.comment_text)).unwrap_or_default();
    Some(RawItem {
        url: Some(url),
        author: non_empty(hit.author),
        title: non_empty(hit.title).or_else(|| non_empty(hit.story_title)),
        body: Body::Html(text),
        published,
        engagement: Engagement {
            // Algolia reports a placeholder score on comments (HN hides
            // comment scores), so only a story's points are engagement.
            likes: if is_comment { None } else { hit.points },
            replies: hit.num_comments,
            ..Engagement::default()
        },
        lang_hint: None,
        external_id: id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceKind, SourceParams};
    use crate::sources::util::test_support::{self as support, *};

    fn parse_body(body: &[u8]) -> Result<Page, SourceError> {
        parse_json(parse, "http://127.0.0.1:8080/api/v1/search_by_date?query=apple&tags=story", None, body)
    }

    fn source(query: &str, tags: &[&str]) -> SourceConfig {
        let tags = tags.iter().map(|t| t.to_string()).collect();
        let params = SourceParams { tags, ..SourceParams::default() };
        support::source(SourceKind::HackerNews, "https://hn.algolia.com/", Some(query), params)
    }

    #[test]
    fn first_page_with_one_tag() {
        let url = first_page(&source("apple", &["story"]));
        assert_eq!(
            url.as_str(),
            "https://hn.algolia.com/api/v1/search_by_date?query=apple&tags=story&hitsPerPage=100"
        );
    }

    #[test]
    fn first_page_ors_several_tags() {
        let url = first_page(&source("apple", &["story", "comment"]));
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("query".into(), "apple".into()),
                ("tags".into(), "(story,comment)".into()),
                ("hitsPerPage".into(), "100".into())
            ]
        );
        assert!(url.as_str().contains("tags=%28story%2Ccomment%29"), "{url}");
    }

    #[test]
    fn first_page_encodes_spaces_and_unicode() {
        let url = first_page(&source("Kestrel phone & café", &["story"]));
        assert!(url.as_str().contains("query=Kestrel+phone+%26+caf%C3%A9&"), "{url}");
        assert_eq!(url.query_pairs().next().unwrap().1, "Kestrel phone & café");
    }

    #[test]
    fn first_page_keeps_a_base_path() {
        let mut src = source("x", &["story"]);
        src.url = Url::parse("http://127.0.0.1:9000/algolia/").unwrap();
        assert_eq!(first_page(&src).path(), "/algolia/api/v1/search_by_date");
    }

    #[test]
    fn stories() {
        let page = parse_body(&fixture("hackernews-search_by_date-story.json")).unwrap();
        assert_eq!(page.items.len(), 20);
        assert_eq!(page.skipped, 0);
        assert_eq!(page.next, None);
        let first = &page.items[0];
        assert_eq!(first.external_id, "7849958");
        assert_eq!(
            first.url.as_deref(),
            Some("https://itunes.apple.com/au/app/coinjar-for-iphone/id725209873?mt=8&ign-mpt=uo%3D4")
        );
        assert_eq!(first.author.as_deref(), Some("kristianp"));
        assert_eq!(first.title.as_deref(), Some("CoinJar for iPhone on the App Store on iTunes"));
        assert_eq!(first.body, Body::Html(String::new()));
        assert_eq!(first.published, time("2014-06-05T02:56:33Z"));
        assert_eq!(
            first.engagement,
            Engagement { likes: Some(1), replies: Some(0), ..Engagement::default() }
        );
        assert_eq!(first.lang_hint, None);
        assert!(page.items.iter().all(|i| i.url.is_some() && i.title.is_some() && i.published.is_some()));

        // An Ask HN post: an empty url, so the HN permalink; its text is HTML.
        let ask = page.items.iter().find(|i| i.external_id == "7848873").unwrap();
        assert_eq!(ask.url.as_deref(), Some("https://news.ycombinator.com/item?id=7848873"));
        assert!(matches!(&ask.body, Body::Html(t) if t.starts_with("I&#x27;ve already accepted")));
        assert_eq!(ask.engagement, Engagement { likes: Some(1), replies: Some(9), ..Engagement::default() });
    }

    #[test]
    fn comments() {
        let page = parse_body(&fixture("hackernews-search_by_date-comment.json")).unwrap();
        assert_eq!(page.items.len(), 20);
        assert_eq!(page.skipped, 0);
        let first = &page.items[0];
        assert_eq!(first.external_id, "7850047");
        assert_eq!(first.url.as_deref(), Some("https://news.ycombinator.com/item?id=7850047"));
        assert_eq!(first.author.as_deref(), Some("catshirt"));
        assert_eq!(first.title.as_deref(), Some("How my school rejected an app made for students"));
        assert!(
            matches!(&first.body, Body::Html(t) if t.starts_with("you think the university board wouldn&#x27;t"))
        );
        assert_eq!(first.published, time("2014-06-05T03:22:47Z"));
        assert_eq!(first.engagement, Engagement::default());
        assert!(page.items.iter().all(|i| matches!(&i.body, Body::Html(t) if !t.is_empty())));
    }

    #[test]
    fn newer_hits_without_nulls_and_unix_times() {
        let body = br#"{"hits":[
            {"objectID":"1","title":"T","created_at_i":1401936993,"points":5,"_tags":["story"]},
            {"title":"no id"},
            {"objectID":"3","points":"not a number"},
            {"objectID":""}
        ],"exhaustive":{"nbHits":true}}"#;
        let page = parse_body(body).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.skipped, 3);
        assert_eq!(page.items[0].published, time("2014-06-05T02:56:33Z"));
        assert_eq!(page.items[0].url.as_deref(), Some("https://news.ycombinator.com/item?id=1"));
        assert_eq!(page.items[0].author, None);
    }

    #[test]
    fn errors() {
        let err = parse_body(br#"{"message":"invalid tags","status":400}"#).unwrap_err();
        assert_eq!(err, SourceError::Service("invalid tags".into()));
        assert!(matches!(parse_body(br#"{"hits":{}}"#), Err(SourceError::Malformed { .. })));
        assert!(matches!(parse_body(b"[]"), Err(SourceError::Malformed { .. })));
        let err = parse_body(&fixture("reddit-error-429-too_many_requests.html")).unwrap_err();
        assert!(err.to_string().contains("<!doctype html>"), "{err}");
        assert!(matches!(
            parse_body(&fixture("reddit-listing-empty.json")),
            Err(SourceError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_bodies_do_not_panic() {
        for name in ["hackernews-search_by_date-story.json", "hackernews-search_by_date-comment.json"] {
            assert_truncations_refused(parse_body, name, &fixture(name), 97);
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
