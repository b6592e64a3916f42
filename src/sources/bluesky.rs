//! Bluesky: post search on an AppView (`app.bsky.feed.searchPosts`).
//!
//! Posts are identified by their `at://` URI; the web link is built from the
//! author's handle and the record key, since the API gives none. Feeds of
//! the `{feed: [{post}]}` shape (an author feed) are read the same way.

use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::util::{
    endpoint, json_page, malformed, no_entries, non_empty, rfc3339, service_error, with_query_param,
};
use super::{Body, Engagement, Page, RawItem, Response, SourceError};
use crate::config::SourceConfig;

const EXPECTED: &str = "a Bluesky post search result";

/// The collection of posts in an `at://` URI.
const POST_COLLECTION: &str = "app.bsky.feed.post";

/// The first URL to fetch: the newest 100 posts matching the query.
pub fn first_page(source: &SourceConfig) -> Url {
    let mut url = endpoint(&source.url, ["xrpc", "app.bsky.feed.searchPosts"]);
    url.query_pairs_mut()
        .append_pair("q", source.query.as_deref().unwrap_or_default())
        .append_pair("limit", "100")
        .append_pair("sort", "latest");
    url
}

/// The top level: `posts` (search), `feed` (author feeds), or the XRPC error
/// envelope `{"error": "InvalidRequest", "message": "..."}`.
#[derive(Deserialize)]
struct Envelope<'a> {
    /// Kept raw so that one post of an unexpected shape costs that post.
    #[serde(borrow, default)]
    posts: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    feed: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// An entry of a feed: the post, plus reply and repost context not needed here.
#[derive(Deserialize, Default)]
#[serde(default)]
struct FeedEntry {
    post: Option<PostView>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PostView {
    uri: Option<String>,
    author: Option<Author>,
    record: Option<Record>,
    indexed_at: Option<String>,
    like_count: Option<i64>,
    repost_count: Option<i64>,
    reply_count: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Author {
    did: Option<String>,
    handle: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Record {
    text: Option<String>,
    created_at: Option<String>,
    langs: Option<Vec<String>>,
}

/// Reads one response. `next` is the response URL with the body's `cursor`
/// set, while the page was not empty.
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(response.body).map_err(|e| malformed(EXPECTED, response.body, e))?;
    let (raw_posts, in_feed) = match (envelope.posts, envelope.feed) {
        (Some(posts), _) => (posts, false),
        (None, Some(feed)) => (feed, true),
        (None, None) => {
            return Err(service_error(envelope.error, envelope.message).unwrap_or_else(|| {
                malformed(EXPECTED, response.body, "it has neither \"posts\" nor \"error\"")
            }));
        }
    };
    let mut page = if in_feed {
        json_page(&raw_posts, |entry: FeedEntry| entry.post.and_then(item))
    } else {
        json_page(&raw_posts, item)
    };
    if !no_entries(&page) {
        page.next =
            envelope.cursor.filter(|c| !c.is_empty()).map(|c| with_query_param(response.url, "cursor", &c));
    }
    Ok(page)
}

/// The item of one post; `None` when it has no URI.
fn item(view: PostView) -> Option<RawItem> {
    let uri = non_empty(view.uri)?;
    let author = view.author.unwrap_or_default();
    let handle = non_empty(author.handle);
    // An unverifiable handle is shown as "handle.invalid"; the DID always links.
    let profile = handle.as_deref().filter(|h| *h != "handle.invalid").or(author.did.as_deref());
    let url = profile
        .zip(record_key(&uri))
        .map(|(who, rkey)| format!("https://bsky.app/profile/{who}/post/{rkey}"));
    let record = view.record.unwrap_or_default();
    let published = record
        .created_at
        .as_deref()
        .and_then(rfc3339)
        .or_else(|| view.indexed_at.as_deref().and_then(rfc3339));
    Some(RawItem {
        url,
        author: handle,
        title: None,
        body: Body::Text(record.text.unwrap_or_default()),
        published,
        engagement: Engagement {
            likes: view.like_count,
            reposts: view.repost_count,
            replies: view.reply_count,
            score: None,
        },
        lang_hint: record.langs.and_then(|langs| langs.into_iter().find(|l| !l.trim().is_empty())),
        external_id: uri,
    })
}

/// The record key of a post URI (`at://<did>/app.bsky.feed.post/<rkey>`).
fn record_key(uri: &str) -> Option<&str> {
    let path = uri.strip_prefix("at://")?;
    let mut parts = path.split('/');
    let (_repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (collection == POST_COLLECTION && !rkey.is_empty() && parts.next().is_none()).then_some(rkey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceKind, SourceParams};
    use crate::sources::util::test_support::{self as support, *};

    const SEARCH_URL: &str =
        "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=redistricting&limit=100&sort=latest";

    fn parse_body(body: &[u8]) -> Result<Page, SourceError> {
        parse_json(parse, SEARCH_URL, None, body)
    }

    fn source(query: &str) -> SourceConfig {
        support::source(
            SourceKind::Bluesky,
            "https://public.api.bsky.app/",
            Some(query),
            SourceParams::default(),
        )
    }

    #[test]
    fn first_page_url() {
        assert_eq!(
            first_page(&source("Orbix")).as_str(),
            "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=Orbix&limit=100&sort=latest"
        );
        let url = first_page(&source("Orbix \"pro max\" #東京"));
        assert_eq!(
            url.as_str(),
            "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=Orbix+%22pro+max%22+%23%E6%9D%B1%E4%BA%AC&limit=100&sort=latest"
        );
        assert_eq!(url.query_pairs().next().unwrap().1, "Orbix \"pro max\" #東京");
    }

    #[test]
    fn search_posts() {
        let page = parse_body(&fixture("bluesky-searchPosts-redistricting.json")).unwrap();
        assert_eq!(page.items.len(), 25);
        assert_eq!(page.skipped, 0);
        let first = &page.items[0];
        assert_eq!(
            first.external_id,
            "at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/3lpk2u6qo222m"
        );
        assert_eq!(
            first.url.as_deref(),
            Some("https://bsky.app/profile/socpaperbot.bsky.social/post/3lpk2u6qo222m")
        );
        assert_eq!(first.author.as_deref(), Some("socpaperbot.bsky.social"));
        assert!(matches!(&first.body, Body::Text(t) if t.starts_with("Ends Versus Means: Public Opinion")));
        assert_eq!(first.published, time("2025-05-19T17:10:09.561858Z"));
        // No `langs` on this record.
        assert_eq!(first.lang_hint, None);

        let second = &page.items[1];
        assert_eq!(second.author.as_deref(), Some("cjtackett.bsky.social"));
        assert_eq!(second.lang_hint.as_deref(), Some("en"));
        assert_eq!(
            second.engagement,
            Engagement { likes: Some(4), reposts: Some(3), replies: Some(0), score: None }
        );
        // 4 of the 25 records have no `langs`.
        assert_eq!(page.items.iter().filter(|i| i.lang_hint.is_none()).count(), 4);
        // A createdAt with a +00:00 offset.
        let offset = page.items.iter().find(|i| i.external_id.ends_with("/3lpii6nwbyt2m")).unwrap();
        assert_eq!(offset.published, time("2025-05-19T02:03:20.286393Z"));
        assert!(page.items.iter().all(|i| i.url.is_some() && i.published.is_some()));
    }

    #[test]
    fn next_page_from_the_cursor() {
        let body = fixture("bluesky-searchPosts-redistricting.json");
        let page = parse_body(&body).unwrap();
        assert_eq!(page.next.unwrap().as_str(), format!("{SEARCH_URL}&cursor=25"));
        let page = parse_json(parse, &format!("{SEARCH_URL}&cursor=0"), None, &body).unwrap();
        assert_eq!(page.next.unwrap().as_str(), format!("{SEARCH_URL}&cursor=25"));
        // No cursor, or an empty page: the end.
        assert_eq!(parse_body(br#"{"posts":[]}"#).unwrap().next, None);
        assert_eq!(parse_body(br#"{"posts":[],"cursor":"50"}"#).unwrap().next, None);
    }

    #[test]
    fn author_feed() {
        let page = parse_body(&fixture("bluesky-getAuthorFeed-chriskenny.json")).unwrap();
        assert_eq!(page.items.len(), 50);
        assert_eq!(page.skipped, 0);
        assert!(page.items.iter().all(|i| i.external_id.starts_with("at://") && i.url.is_some()));
        let next = page.next.unwrap();
        assert_eq!(next.query_pairs().find(|(k, _)| k == "cursor").unwrap().1, "2024-03-21T23:36:16.378Z");
    }

    #[test]
    fn error_envelope() {
        assert_eq!(
            parse_body(&fixture("bluesky-error-400-invalid_request.json")),
            Err(SourceError::Service(
                "InvalidRequest: Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
                    .into()
            ))
        );
        assert_eq!(
            parse_body(br#"{"error":"AuthMissing"}"#),
            Err(SourceError::Service("AuthMissing".into()))
        );
        for body in [&b"[]"[..], b"{}", br#"{"posts":{}}"#, b"<html>", b""] {
            assert!(matches!(parse_body(body), Err(SourceError::Malformed { .. })), "{body:?}");
        }
    }

    #[test]
    fn odd_posts() {
        let body = br#"{"posts":[
            {"uri":"at://did:plc:abc/app.bsky.feed.post/3k","author":{"did":"did:plc:abc","handle":"handle.invalid"},
             "record":{"text":"hi","langs":["","de"]},"indexedAt":"2025-01-01T00:00:00Z"},
            {"author":{"handle":"x.bsky.social"},"record":{"text":"no uri"}},
            {"uri":"at://did:plc:abc/app.bsky.feed.repost/3x","record":{"text":"odd collection"}},
            {"uri":"at://did:plc:abc/app.bsky.feed.post/3z","likeCount":"lots"}
        ]}"#;
        let page = parse_body(body).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.skipped, 2);
        let first = &page.items[0];
        assert_eq!(first.url.as_deref(), Some("https://bsky.app/profile/did:plc:abc/post/3k"));
        assert_eq!(first.author.as_deref(), Some("handle.invalid"));
        assert_eq!(first.lang_hint.as_deref(), Some("de"));
        // No createdAt: indexedAt.
        assert_eq!(first.published, time("2025-01-01T00:00:00Z"));
        assert_eq!(page.items[1].url, None);
        assert_eq!(page.items[1].body, Body::Text("odd collection".into()));
    }

    #[test]
    fn record_keys() {
        assert_eq!(record_key("at://did:plc:x/app.bsky.feed.post/3lpk2u6qo222m"), Some("3lpk2u6qo222m"));
        assert_eq!(record_key("at://did:plc:x/app.bsky.feed.post/"), None);
        assert_eq!(record_key("at://did:plc:x/app.bsky.feed.post/a/b"), None);
        assert_eq!(record_key("https://did:plc:x/app.bsky.feed.post/a"), None);
        assert_eq!(record_key("at://did:plc:x"), None);
    }

    #[test]
    fn truncated_bodies_do_not_panic() {
        for name in ["bluesky-searchPosts-redistricting.json", "bluesky-getAuthorFeed-chriskenny.json"] {
            assert_truncations_refused(parse_body, name, fixture(name).trim_ascii_end(), 101);
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
