//! Lemmy (API v3): a post search (`/api/v3/search?type_=Posts`) or a
//! community's post list (`/api/v3/post/list`), newest first.
//!
//! Posts are identified by their ActivityPub id (`ap_id`), the same on every
//! instance, so a post federated to two instances is stored once.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::util::{
    endpoint, json_page, malformed, no_entries, non_empty, rfc3339, service_error, with_query_param,
};
use super::{Body, Engagement, Page, RawItem, Response, SourceError};
use crate::config::SourceConfig;

const EXPECTED: &str = "a Lemmy post list or search result";

/// The first URL to fetch: a search for the query (in the community, when
/// one is set too), else the community's post list.
pub fn first_page(source: &SourceConfig) -> Url {
    let query = source.query.as_deref();
    let community = source.params.community.as_deref();
    let segments: &[&str] = match query {
        Some(_) => &["api", "v3", "search"],
        None => &["api", "v3", "post", "list"],
    };
    let mut url = endpoint(&source.url, segments.iter().copied());
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(q) = query {
            pairs.append_pair("q", q);
            pairs.append_pair("type_", "Posts");
        }
        if let Some(community) = community {
            pairs.append_pair("community_name", community);
        }
        pairs.append_pair("sort", "New");
        pairs.append_pair("limit", "50");
    }
    url
}

/// The top level of both endpoints (search adds empty `comments`,
/// `communities` and `users`), or an error object.
#[derive(Deserialize)]
struct Envelope<'a> {
    /// Kept raw so that one post of an unexpected shape costs that post.
    #[serde(borrow, default)]
    posts: Option<Vec<&'a RawValue>>,
    /// The post list's opaque cursor (Lemmy 0.19+), sent back as `page_cursor`.
    #[serde(default)]
    next_page: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostView {
    post: Option<Post>,
    creator: Option<Creator>,
    counts: Option<Counts>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Post {
    id: Option<i64>,
    name: Option<String>,
    body: Option<String>,
    ap_id: Option<String>,
    published: Option<String>,
    deleted: Option<bool>,
    removed: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Creator {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Counts {
    score: Option<i64>,
    upvotes: Option<i64>,
    comments: Option<i64>,
}

/// Reads one response. `next` is the response URL with `page_cursor` set
/// when the post list gives a `next_page` cursor (search gives none).
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(response.body).map_err(|e| malformed(EXPECTED, response.body, e))?;
    let Some(posts) = envelope.posts else {
        return Err(service_error(envelope.error, envelope.message)
            .unwrap_or_else(|| malformed(EXPECTED, response.body, "it has no \"posts\"")));
    };
    let mut page = json_page(&posts, |view| item(view, response.url));
    if !no_entries(&page) {
        page.next = envelope
            .next_page
            .filter(|c| !c.is_empty())
            .map(|c| with_query_param(response.url, "page_cursor", &c));
    }
    Ok(page)
}

/// The item of one post view; `None` when it has no id, or was deleted by
/// its author or removed by a moderator (its text is gone or not public).
fn item(view: PostView, instance: &Url) -> Option<RawItem> {
    let post = view.post?;
    if post.deleted == Some(true) || post.removed == Some(true) {
        return None;
    }
    // `post.url` is the linked article; the post itself lives at `ap_id`.
    let ap_id = non_empty(post.ap_id);
    let url = ap_id.clone().or_else(|| {
        let id = post.id?;
        instance.join(&format!("/post/{id}")).ok().map(String::from)
    });
    let external_id = ap_id.or_else(|| post.id.map(|id| id.to_string()))?;
    let counts = view.counts.unwrap_or_default();
    Some(RawItem {
        external_id,
        url,
        author: view.creator.and_then(|c| non_empty(c.name)),
        title: non_empty(post.name),
        body: Body::Text(post.body.unwrap_or_default()),
        published: post.published.as_deref().and_then(timestamp),
        engagement: Engagement {
            likes: counts.upvotes,
            reposts: None,
            replies: counts.comments,
            score: counts.score,
        },
        // `language_id` is an index into the instance's language table, not
        // a code; language detection does better than a lookup here.
        lang_hint: None,
    })
}

/// A Lemmy timestamp: RFC 3339, or (older servers) without a zone, in UTC.
fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    rfc3339(text)
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceKind, SourceParams};
    use crate::sources::util::test_support::{self as support, *};

    const LIST_URL: &str =
        "https://test1.lemmy.ddenis.info/api/v3/post/list?community_name=music&sort=New&limit=50";

    fn parse_body(body: &[u8]) -> Result<Page, SourceError> {
        parse_json(parse, LIST_URL, None, body)
    }

    fn source(query: Option<&str>, community: Option<&str>) -> SourceConfig {
        let params = SourceParams {
            community: community.map(str::to_owned),
            max_pages: Some(1),
            ..SourceParams::default()
        };
        support::source(SourceKind::Lemmy, "https://lemmy.world", query, params)
    }

    #[test]
    fn first_page_urls() {
        assert_eq!(
            first_page(&source(Some("Lumio buds"), None)).as_str(),
            "https://lemmy.world/api/v3/search?q=Lumio+buds&type_=Posts&sort=New&limit=50"
        );
        assert_eq!(
            first_page(&source(None, Some("headphones"))).as_str(),
            "https://lemmy.world/api/v3/post/list?community_name=headphones&sort=New&limit=50"
        );
        let both = first_page(&source(Some("Lumio ünï"), Some("headphones@lemmy.ml")));
        assert_eq!(
            both.as_str(),
            "https://lemmy.world/api/v3/search?q=Lumio+%C3%BCn%C3%AF&type_=Posts&community_name=headphones%40lemmy.ml&sort=New&limit=50"
        );
        assert_eq!(both.query_pairs().next().unwrap().1, "Lumio ünï");
    }

    #[test]
    fn post_list() {
        let page = parse_body(&fixture("lemmy-post_list-v3.json")).unwrap();
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.skipped, 0);
        let link_post = &page.items[0];
        assert_eq!(link_post.external_id, "https://test1.lemmy.ddenis.info/post/180");
        // The post page, not the linked article (https://example.com/live).
        assert_eq!(link_post.url.as_deref(), Some("https://test1.lemmy.ddenis.info/post/180"));
        assert_eq!(link_post.author.as_deref(), Some("seed_mod1"));
        assert_eq!(link_post.title.as_deref(), Some("Live recording (thread 8)"));
        assert_eq!(link_post.body, Body::Text(String::new()));
        assert_eq!(link_post.published, time("2026-06-12T23:37:46.566375Z"));
        assert_eq!(
            link_post.engagement,
            Engagement { likes: Some(1), reposts: None, replies: Some(7), score: Some(1) }
        );
        assert_eq!(link_post.lang_hint, None);

        let text_post = &page.items[1];
        assert_eq!(text_post.external_id, "https://test1.lemmy.ddenis.info/post/179");
        assert_eq!(text_post.body, Body::Text("Lo-fi meets jazz.".into()));
        assert_eq!(text_post.author.as_deref(), Some("seed_botanist"));

        // Federated from test2: its own ap_id, not this instance's id 198.
        let federated = &page.items[2];
        assert_eq!(federated.external_id, "https://test2.lemmy.ddenis.info/post/102");
        assert_eq!(federated.author.as_deref(), Some("seed_canvas"));
        assert_eq!(federated.engagement.replies, Some(0));
    }

    #[test]
    fn next_page_cursor() {
        let page = parse_body(&fixture("lemmy-post_list-v3.json")).unwrap();
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://test1.lemmy.ddenis.info/api/v3/post/list?community_name=music&sort=New&limit=50&page_cursor=Pc6"
        );
        let again = format!("{LIST_URL}&page_cursor=Pc3");
        let page = parse_json(parse, &again, None, &fixture("lemmy-post_list-v3.json")).unwrap();
        assert_eq!(page.next.unwrap().query_pairs().filter(|(k, _)| k == "page_cursor").count(), 1);
        // An empty page ends paging even with a cursor.
        assert_eq!(parse_body(br#"{"posts":[],"next_page":"Pc9"}"#).unwrap(), Page::default());
    }

    #[test]
    fn search_result() {
        let body = br#"{"type_":"Posts","comments":[],"communities":[],"users":[],"posts":[
            {"post":{"id":7,"name":"Lumio review","body":"Great **sound**","ap_id":"https://lemmy.ml/post/7",
              "published":"2023-05-01T10:20:30.123456"},
             "creator":{"name":"alice","actor_id":"https://lemmy.ml/u/alice"},
             "counts":{"score":5,"upvotes":6,"downvotes":1,"comments":2}},
            {"post":{"id":8,"name":"gone","deleted":true,"ap_id":"https://lemmy.ml/post/8"}},
            {"post":{"name":"no id"}},
            {"post":{"id":9,"name":"no ap_id","published":"2023-05-01T10:20:30Z"}}]}"#;
        let page = parse_json(parse, "https://lemmy.world/api/v3/search?q=Lumio", None, body).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.skipped, 2);
        assert_eq!(page.next, None);
        let first = &page.items[0];
        assert_eq!(first.body, Body::Text("Great **sound**".into()));
        // A timestamp without a zone is UTC.
        assert_eq!(first.published, time("2023-05-01T10:20:30.123456Z"));
        assert_eq!(
            first.engagement,
            Engagement { likes: Some(6), reposts: None, replies: Some(2), score: Some(5) }
        );
        assert_eq!(page.items[1].external_id, "9");
        assert_eq!(page.items[1].url.as_deref(), Some("https://lemmy.world/post/9"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_body(br#"{"error":"couldnt_find_community"}"#),
            Err(SourceError::Service("couldnt_find_community".into()))
        );
        assert_eq!(
            parse_body(br#"{"error":"rate_limit_error","message":"slow down"}"#),
            Err(SourceError::Service("rate_limit_error: slow down".into()))
        );
        for body in [&b"[]"[..], b"{}", br#"{"posts":{}}"#, b"<html>", b""] {
            assert!(matches!(parse_body(body), Err(SourceError::Malformed { .. })), "{body:?}");
        }
    }

    #[test]
    fn truncated_bodies_do_not_panic() {
        let name = "lemmy-post_list-v3.json";
        assert_truncations_refused(parse_body, name, fixture(name).trim_ascii_end(), 1);
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
