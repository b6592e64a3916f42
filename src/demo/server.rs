//! The demo's source server: the bundled sample posts rendered, on
//! 127.0.0.1, in the formats brandpulse reads from the real services.
//!
//! | path | looks like | read by |
//! | --- | --- | --- |
//! | `/robots.txt` | allows everything (the fetcher obeys robots.txt for feeds and pages) | `fetch` |
//! | `/news/feed.xml` | a tech news site's RSS 2.0 feed (`dc:creator`, `slash:comments`) | `feed` |
//! | `/social/api/v1/timelines/tag/{tag}` | a Mastodon hashtag timeline, 40 a page, `Link` header paging | `mastodon` |
//! | `/forum/latest` | a forum's "latest posts" page | `html` with [`forum_selectors`] |
//! | `/hn/api/v1/search_by_date` | Hacker News' Algolia search: the hits containing every query word | `hackernews` |
//!
//! Everything is rendered once at start. Ids and permalinks come from each
//! post's line in the data and point at fictional hosts, never at this
//! server's port, so a second demo (on another port, another day) stores
//! nothing twice.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use url::Url;

use super::{SOCIAL_PAGE, SOCIAL_TAG, SampleEngagement, SamplePost, SampleSource, Timeline, slug};
use crate::config::HtmlSelectors;
use crate::text::escape;

/// The news site the feed belongs to.
const NEWS_SITE: &str = "https://gadgetwire.example";
/// The Mastodon instance the demo timeline is on.
const SOCIAL_HOST: &str = "social.demo.example";
/// The forum the page belongs to.
const FORUM_SITE: &str = "https://forum.kestrel-mobile.example";
/// Sample status ids are this plus the line: 18 digits, like Mastodon's.
const STATUS_ID_BASE: u64 = 113_500_000_000_000_000;
/// Sample HN object ids are this plus the line.
const HN_ID_BASE: u64 = 42_100_000;
/// Sample forum post ids are this plus the line.
const FORUM_ID_BASE: u64 = 20_000;
/// How long `stop` waits for the server to finish.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The selectors of the demo forum page (the `html` source's `params.selectors`).
pub fn forum_selectors() -> HtmlSelectors {
    HtmlSelectors {
        item: "article.post".to_owned(),
        title: Some("h2.topic-title a".to_owned()),
        text: Some(".post-body".to_owned()),
        link: Some("a.permalink".to_owned()),
        author: Some(".author".to_owned()),
        time: Some("time".to_owned()),
    }
}

/// A running demo source server. Stop it with [`DemoServer::stop`]; dropping
/// it also asks it to stop.
pub struct DemoServer {
    url: Url,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl DemoServer {
    /// Renders `posts` and serves them on 127.0.0.1 at a free port.
    pub async fn start(posts: Vec<SamplePost>, timeline: Timeline) -> std::io::Result<DemoServer> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = listener.local_addr()?;
        let url = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let rendered = Arc::new(Rendered::new(&posts, &timeline, &url));
        let app = Router::new()
            .route("/robots.txt", get(robots))
            .route("/news/feed.xml", get(feed))
            .route("/forum/latest", get(forum))
            .route("/social/api/v1/timelines/tag/{tag}", get(timeline_page))
            .route("/hn/api/v1/search_by_date", get(search_by_date))
            .with_state(rendered);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "the demo source server failed");
            }
        });
        Ok(DemoServer { url, stop: Some(stop), task })
    }

    /// The server's base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> Url {
        self.url.clone()
    }

    /// Stops the server and waits (briefly) for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(STOP_WAIT, &mut self.task).await.is_err() {
            // A client holding a connection open must not hold up the demo.
            self.task.abort();
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every response, rendered once.
struct Rendered {
    /// The server's base URL (for Mastodon's `Link` header).
    base: Url,
    feed: String,
    forum: String,
    /// (id, status), newest first.
    statuses: Vec<(String, Value)>,
    /// Newest first.
    hits: Vec<Hit>,
}

/// One HN hit with what the search filters on.
struct Hit {
    /// Lowercase title and text.
    searchable: String,
    /// A story (else a comment).
    story: bool,
    json: Value,
}

impl Rendered {
    fn new(posts: &[SamplePost], timeline: &Timeline, base: &Url) -> Rendered {
        let mut dated: Vec<(DateTime<Utc>, &SamplePost)> =
            posts.iter().map(|p| (timeline.published(p), p)).collect();
        // Newest first, as every one of these services lists.
        dated.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.line.cmp(&a.1.line)));
        let of =
            |kind: SampleSource| dated.iter().filter(move |(_, p)| p.source == kind).map(|(t, p)| (*t, *p));
        Rendered {
            base: base.clone(),
            feed: rss(of(SampleSource::News), timeline.now),
            forum: forum_page(of(SampleSource::Forum)),
            statuses: of(SampleSource::Social).map(|(t, p)| (status_id(p), status(p, t))).collect(),
            hits: of(SampleSource::Hn).map(|(t, p)| hit(p, t)).collect(),
        }
    }
}

async fn robots() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "User-agent: *\nAllow: /\n")
}

async fn feed(State(r): State<Arc<Rendered>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")], r.feed.clone())
}

async fn forum(State(r): State<Arc<Rendered>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], r.forum.clone())
}

/// Query parameters of a Mastodon timeline.
#[derive(Deserialize)]
struct TimelineQuery {
    limit: Option<usize>,
    max_id: Option<String>,
}

/// A hashtag timeline page: up to `limit` (at most 40) statuses older than
/// `max_id`, with Mastodon's `Link: <...max_id=...>; rel="next", <...min_id=...>; rel="prev"`.
async fn timeline_page(
    State(r): State<Arc<Rendered>>,
    Path(tag): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(20).clamp(1, SOCIAL_PAGE);
    // Another hashtag's timeline is empty on this instance.
    let statuses: &[(String, Value)] = if tag.eq_ignore_ascii_case(SOCIAL_TAG) { &r.statuses } else { &[] };
    let start = match &q.max_id {
        Some(max_id) => statuses.iter().position(|(id, _)| id == max_id).map_or(statuses.len(), |i| i + 1),
        None => 0,
    };
    let page = &statuses[start.min(statuses.len())..(start + limit).min(statuses.len())];
    let body = Value::Array(page.iter().map(|(_, s)| s.clone()).collect()).to_string();
    let mut response = ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response();
    if let (Some((first, _)), Some((last, _))) = (page.first(), page.last()) {
        let page_url = |key: &str, id: &str| {
            let mut url = r.base.clone();
            url.set_path(&format!("/social/api/v1/timelines/tag/{tag}"));
            url.query_pairs_mut().append_pair("limit", &limit.to_string()).append_pair(key, id);
            url
        };
        let link = format!(
            "<{}>; rel=\"next\", <{}>; rel=\"prev\"",
            page_url("max_id", last),
            page_url("min_id", first)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Query parameters of an Algolia search.
#[derive(Deserialize)]
struct SearchQuery {
    query: Option<String>,
    tags: Option<String>,
    #[serde(rename = "hitsPerPage")]
    hits_per_page: Option<usize>,
}

/// Algolia's `search_by_date`: the newest hits that contain every word of
/// the query and carry one of the tags (`story`, `(story,comment)`).
async fn search_by_date(State(r): State<Arc<Rendered>>, Query(q): Query<SearchQuery>) -> Response {
    let query = q.query.unwrap_or_default();
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let tags: HashSet<String> = q
        .tags
        .as_deref()
        .unwrap_or("")
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let per_page = q.hits_per_page.unwrap_or(20).clamp(1, 1000);
    let matching: Vec<&Hit> = r
        .hits
        .iter()
        .filter(|h| words.iter().all(|w| h.searchable.contains(w.as_str())))
        .filter(|h| tags.is_empty() || tags.contains(if h.story { "story" } else { "comment" }))
        .collect();
    let hits: Vec<Value> = matching.iter().take(per_page).map(|h| h.json.clone()).collect();
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    params.append_pair("query", &query);
    if let Some(tags) = &q.tags {
        params.append_pair("tags", tags);
    }
    params.append_pair("hitsPerPage", &per_page.to_string());
    let body = json!({
        "hits": hits,
        "nbHits": matching.len(),
        "page": 0,
        "nbPages": matching.len().div_ceil(per_page),
        "hitsPerPage": per_page,
        "exhaustiveNbHits": true,
        "exhaustiveTypo": true,
        "query": query,
        "params": format!("advancedSyntax=true&analytics=false&{}", params.finish()),
        "processingTimeMS": 1,
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
        .into_response()
}

/// Plain text as HTML paragraphs (blank lines part them, single breaks stay breaks).
fn paragraphs(text: &str, render: impl Fn(&str) -> String) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", p.lines().map(&render).collect::<Vec<_>>().join("<br />")))
        .collect()
}

/// The first words of a title as a URL slug.
fn title_slug(title: &str) -> String {
    let words: Vec<&str> = title.split_whitespace().take(8).collect();
    slug(&words.join(" "))
}

// --- RSS -----------------------------------------------------------------

fn rss<'a>(items: impl Iterator<Item = (DateTime<Utc>, &'a SamplePost)>, now: DateTime<Utc>) -> String {
    let mut body = String::new();
    let mut newest = None;
    for (published, post) in items {
        newest = newest.or(Some(published));
        let title = post.title.clone().unwrap_or_else(|| post.text.chars().take(80).collect());
        let link = format!("{NEWS_SITE}/{}/{}/", published.format("%Y/%m/%d"), title_slug(&title));
        body.push_str(&format!(
            "    <item>\n      <title>{}</title>\n      <link>{}</link>\n      \
             <guid isPermaLink=\"false\">gadgetwire-story-{}</guid>\n      <dc:creator>{}</dc:creator>\n      \
             <pubDate>{}</pubDate>\n      <description>{}</description>\n      \
             <slash:comments>{}</slash:comments>\n    </item>\n",
            escape(&title),
            escape(&link),
            post.line,
            escape(&post.author),
            published.to_rfc2822(),
            escape(&paragraphs(&post.text, escape)),
            post.engagement.replies,
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:slash=\"http://purl.org/rss/1.0/modules/slash/\">\n  <channel>\n    \
         <title>Gadget Wire</title>\n    <link>{NEWS_SITE}/</link>\n    \
         <description>Phones, audio and wearables: news and reviews</description>\n    \
         <language>en-us</language>\n    <lastBuildDate>{}</lastBuildDate>\n    \
         <generator>brandpulse demo</generator>\n{body}  </channel>\n</rss>\n",
        newest.unwrap_or(now).to_rfc2822()
    )
}

// --- Forum ---------------------------------------------------------------

fn forum_page<'a>(posts: impl Iterator<Item = (DateTime<Utc>, &'a SamplePost)>) -> String {
    let mut articles = String::new();
    for (published, post) in posts {
        let id = FORUM_ID_BASE + post.line as u64;
        // Topic starters have a title; replies in a "latest posts" list do not.
        let heading = match &post.title {
            Some(title) => format!(
                "      <h2 class=\"topic-title\"><a href=\"{FORUM_SITE}/t/{}/{id}\">{}</a></h2>\n",
                title_slug(title),
                escape(title)
            ),
            None => String::new(),
        };
        articles.push_str(&format!(
            "    <article class=\"post\" id=\"post-{id}\">\n{heading}      <div class=\"meta\">\n        \
             <a class=\"author\" href=\"/u/{}\">{}</a>\n        \
             <a class=\"permalink\" href=\"{FORUM_SITE}/p/{id}\"><time datetime=\"{}\">{}</time></a>\n        \
             <span class=\"likes\">{} likes</span> <span class=\"replies\">{} replies</span>\n      </div>\n      \
             <div class=\"post-body\">{}</div>\n    </article>\n",
            escape(&slug(&post.author)),
            escape(&post.author),
            published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            published.format("%-d %b %Y, %H:%M"),
            post.engagement.likes,
            post.engagement.replies,
            paragraphs(&post.text, escape),
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <title>Latest posts - Kestrel Community</title>\n</head>\n<body>\n  <header>\n    \
         <h1><a href=\"{FORUM_SITE}/\">Kestrel Community</a></h1>\n    \
         <nav><a href=\"{FORUM_SITE}/c/x200\">X200 series</a> <a href=\"{FORUM_SITE}/c/tablets\">Tablets</a> \
         <a href=\"{FORUM_SITE}/c/wearables\">Wearables</a></nav>\n  </header>\n  \
         <main class=\"latest-posts\">\n{articles}  </main>\n  <footer>Kestrel Community forum</footer>\n\
         </body>\n</html>\n"
    )
}

// --- Mastodon ------------------------------------------------------------

fn status_id(post: &SamplePost) -> String {
    (STATUS_ID_BASE + post.line as u64).to_string()
}

/// Mastodon's rendering of a toot: paragraphs, and `#tags` as hashtag links.
fn toot_html(text: &str) -> String {
    paragraphs(text, |line| {
        let mut out = String::new();
        let mut chars = line.char_indices().peekable();
        let mut previous: Option<char> = None;
        while let Some((i, c)) = chars.next() {
            let starts_tag = c == '#'
                && previous.is_none_or(char::is_whitespace)
                && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric() || *n == '_');
            if starts_tag {
                let rest = &line[i + 1..];
                let end = rest.find(|n: char| !(n.is_alphanumeric() || n == '_')).unwrap_or(rest.len());
                let tag = &rest[..end];
                out.push_str(&format!(
                    "<a href=\"https://{SOCIAL_HOST}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                    escape(&tag.to_lowercase()),
                    escape(tag)
                ));
                for _ in 0..tag.chars().count() {
                    chars.next();
                }
                previous = tag.chars().last();
                continue;
            }
            out.push_str(&escape(&c.to_string()));
            previous = Some(c);
        }
        out
    })
}

/// The hashtags of a text, lowercased, as Mastodon lists them.
fn hashtags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let found = text.split_whitespace().filter_map(|w| w.strip_prefix('#')).map(|t| {
        t.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>().to_lowercase()
    });
    for tag in found {
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

fn status(post: &SamplePost, published: DateTime<Utc>) -> Value {
    let id = status_id(post);
    // `user@instance` is a remote account; a bare handle is local to the demo instance.
    let (username, home) = match post.author.split_once('@') {
        Some((user, host)) => (user.to_owned(), host.to_owned()),
        None => (post.author.clone(), SOCIAL_HOST.to_owned()),
    };
    let account_id = (STATUS_ID_BASE / 1000
        + u64::from(post.author.bytes().fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b))))
    .to_string();
    let time = published.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let SampleEngagement { likes, replies, reposts } = post.engagement;
    let tags: Vec<Value> = hashtags(&post.text)
        .into_iter()
        .map(|t| json!({"name": t, "url": format!("https://{SOCIAL_HOST}/tags/{t}")}))
        .collect();
    let account = json!({
    "id": account_id,
    "username": username,
    "acct": post.author,
    "display_name": username,
    "locked": false,
    "bot": false,
    "discoverable": true,
    "group": false,
    "created_at": "2023-04-01T00:00:00.000Z",
    "note": "",
    "url": format!("https://{home}/@{username}"),
    "uri": format!("https://{home}/users/{username}"),
    "avatar": format!("https://{SOCIAL_HOST}/avatars/original/missing.png"),
    "avatar_static": format!("https://{SOCIAL_HOST}/avatars/original/missing.png"),
    "followers_count": 120,
    "following_count": 80,
    "statuses_count": 400,
    "emojis": [],
    "fields": []
    });
    json!({
        "id": id,
        "created_at": time,
        "in_reply_to_id": null,
        "in_reply_to_account_id": null,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": format!("https://{home}/users/{username}/statuses/{id}"),
        "url": format!("https://{home}/@{username}/{id}"),
        "replies_count": replies,
        "reblogs_count": reposts,
        "favourites_count": likes,
        "edited_at": null,
        "favourited": false,
        "reblogged": false,
        "muted": false,
        "bookmarked": false,
        "pinned": false,
        "content": toot_html(&post.text),
        "filtered": [],
        "reblog": null,
        "application": {"name": "Web", "website": null},
        "account": account,
        "media_attachments": [],
        "mentions": [],
        "tags": tags,
        "emojis": [],
        "card": null,
        "poll": null
    })
}

// --- Hacker News ---------------------------------------------------------

/// HN's HTML for a text: `<p>` between paragraphs, quotes and slashes as entities.
fn hn_html(text: &str) -> String {
    let escaped = |line: &str| escape(line).replace("&#39;", "&#x27;").replace('/', "&#x2F;");
    text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(escaped).collect::<Vec<_>>().join("<p>")
}

fn hit(post: &SamplePost, published: DateTime<Utc>) -> Hit {
    let id = HN_ID_BASE + post.line as u64;
    let time = published.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let story = post.title.is_some();
    let author = slug(&post.author).replace('-', "_");
    let json = if story {
        json!({
            "created_at": time,
            "title": post.title,
            "url": null,
            "author": post.author,
            "points": post.engagement.likes,
            "story_text": hn_html(&post.text),
            "comment_text": null,
            "num_comments": post.engagement.replies,
            "story_id": null,
            "story_title": null,
            "story_url": null,
            "parent_id": null,
            "created_at_i": published.timestamp(),
            "_tags": ["story", format!("author_{author}"), format!("story_{id}")],
            "objectID": id.to_string(),
        })
    } else {
        // Comments carry no thread: the sample comments stand alone, and a
        // made-up story title would hand the brand matcher words the
        // commenter never wrote.
        json!({
            "created_at": time,
            "title": null,
            "url": null,
            "author": post.author,
            "points": null,
            "story_text": null,
            "comment_text": hn_html(&post.text),
            "num_comments": null,
            "story_id": null,
            "story_title": null,
            "story_url": null,
            "parent_id": null,
            "created_at_i": published.timestamp(),
            "_tags": ["comment", format!("author_{author}")],
            "objectID": id.to_string(),
        })
    };
    let searchable = format!("{}\n{}", post.title.as_deref().unwrap_or(""), post.text).to_lowercase();
    Hit { searchable, story, json }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceKind, SourceParams};
    use crate::sources::{self, Body, Response};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T10:30:00Z").expect("time").with_timezone(&Utc)
    }

    fn post(line: usize, source: SampleSource, title: Option<&str>, text: &str) -> SamplePost {
        SamplePost {
            line,
            day: 12,
            hour: 9,
            source,
            author: "Priya Raman".into(),
            title: title.map(str::to_owned),
            text: text.into(),
            engagement: SampleEngagement { likes: 5, replies: 2, reposts: 1 },
            expect: super::super::Expectation::Neutral,
        }
    }

    fn parse(
        kind: SourceKind,
        params: SourceParams,
        url: &str,
        body: &str,
        link: Option<&str>,
    ) -> sources::Page {
        let source = crate::config::SourceConfig {
            name: "t".into(),
            kind,
            url: Url::parse(url).expect("url"),
            query: None,
            schedule: "0 0 * * * *".parse().expect("cron"),
            enabled: true,
            params,
        };
        let url = Url::parse(url).expect("url");
        let response = Response { url: &url, content_type: None, link, body: body.as_bytes() };
        sources::parse(&source, &response).expect("the real parser reads it")
    }

    fn rendered(posts: &[SamplePost]) -> Rendered {
        Rendered::new(posts, &Timeline::new(now()), &Url::parse("http://127.0.0.1:9/").expect("url"))
    }

    #[test]
    fn the_feed_parser_reads_the_rss() {
        let posts =
            [post(3, SampleSource::News, Some("Kestrel X200 & the <camera>"), "It's great.\n\nReally.")];
        let page = parse(
            SourceKind::Feed,
            SourceParams::default(),
            "http://127.0.0.1:9/news/feed.xml",
            &rendered(&posts).feed,
            None,
        );
        let item = &page.items[0];
        assert_eq!(item.external_id, "gadgetwire-story-3");
        assert_eq!(item.title.as_deref(), Some("Kestrel X200 & the <camera>"));
        assert_eq!(item.author.as_deref(), Some("Priya Raman"));
        assert!(
            matches!(&item.body, Body::Html(h) if h.contains("It&#39;s great.") || h.contains("It's great.")),
            "{:?}",
            item.body
        );
        assert_eq!(item.published.map(|t| t.date_naive().to_string()).as_deref(), Some("2026-11-23"));
        assert!(item.url.as_deref().is_some_and(|u| u.starts_with("https://gadgetwire.example/2026/11/23/")));
    }

    #[test]
    fn the_html_parser_reads_the_forum() {
        let posts = [
            post(5, SampleSource::Forum, Some("Nova 3 Fold hinge"), "Stiff hinge?"),
            post(6, SampleSource::Forum, None, "Mine too."),
        ];
        let params = SourceParams { selectors: Some(forum_selectors()), ..SourceParams::default() };
        let page =
            parse(SourceKind::Html, params, "http://127.0.0.1:9/forum/latest", &rendered(&posts).forum, None);
        assert_eq!(page.items.len(), 2);
        let topic = page.items.iter().find(|i| i.title.is_some()).expect("topic");
        assert_eq!(topic.external_id, "https://forum.kestrel-mobile.example/p/20005");
        assert_eq!(topic.title.as_deref(), Some("Nova 3 Fold hinge"));
        assert_eq!(topic.author.as_deref(), Some("Priya Raman"));
        assert!(topic.published.is_some());
        let reply = page.items.iter().find(|i| i.title.is_none()).expect("reply");
        assert_eq!(reply.external_id, "https://forum.kestrel-mobile.example/p/20006");
    }

    #[test]
    fn the_mastodon_parser_reads_the_statuses() {
        let mut p = post(9, SampleSource::Social, None, "Love the #KestrelX200 camera & battery");
        p.author = "mira@mastodon.social".into();
        let r = rendered(&[p]);
        let body = Value::Array(r.statuses.iter().map(|(_, s)| s.clone()).collect()).to_string();
        let params = SourceParams { tag: Some(SOCIAL_TAG.into()), ..SourceParams::default() };
        let page = parse(SourceKind::Mastodon, params, "http://127.0.0.1:9/social", &body, None);
        let item = &page.items[0];
        assert_eq!(item.external_id, "https://mastodon.social/users/mira/statuses/113500000000000009");
        assert_eq!(item.author.as_deref(), Some("mira@mastodon.social"));
        assert!(
            matches!(&item.body, Body::Html(h) if h.contains("#<span>KestrelX200</span></a> camera &amp; battery"))
        );
        assert_eq!(item.engagement.likes, Some(5));
        let post = crate::normalize::normalize_deferred(item.clone(), None).finish();
        assert_eq!(post.body, "Love the #KestrelX200 camera & battery");
    }

    #[test]
    fn the_hackernews_parser_reads_stories_and_comments() {
        let posts = [
            post(11, SampleSource::Hn, Some("Show HN: Lumio EQ"), "I wrote a CLI. It's here."),
            post(12, SampleSource::Hn, None, "The Orbix one/two is fine"),
        ];
        let r = rendered(&posts);
        let body = json!({"hits": r.hits.iter().map(|h| h.json.clone()).collect::<Vec<_>>()}).to_string();
        let page =
            parse(SourceKind::HackerNews, SourceParams::default(), "http://127.0.0.1:9/hn", &body, None);
        assert_eq!(page.items.len(), 2);
        let story = page.items.iter().find(|i| i.external_id == "42100011").expect("story");
        assert_eq!(story.title.as_deref(), Some("Show HN: Lumio EQ"));
        assert_eq!(story.engagement.likes, Some(5));
        let comment = page.items.iter().find(|i| i.external_id == "42100012").expect("comment");
        assert_eq!(comment.title, None);
        let text = crate::normalize::normalize_deferred(comment.clone(), None).finish().body;
        assert_eq!(text, "The Orbix one/two is fine");
    }

    #[test]
    fn toots_link_hashtags_only_at_word_starts() {
        assert_eq!(
            toot_html("a#b #X200Pro!"),
            "<p>a#b <a href=\"https://social.demo.example/tags/x200pro\" class=\"mention hashtag\" rel=\"tag\">#<span>X200Pro</span></a>!</p>"
        );
        assert_eq!(hashtags("#Kestrel and #KestrelX200, #kestrel"), ["kestrel", "kestrelx200"]);
    }
}
