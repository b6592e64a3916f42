//! One module per source kind. Each turns a response body into [`RawItem`]s
//! (a pure function: no I/O), and knows which URL to request for a source.
//!
//! Parsers never panic on bad input: a body of the wrong shape is a
//! [`SourceError`], and a single bad item inside a good body is skipped (and
//! counted in [`Page::skipped`]) so one broken entry does not cost the rest.

pub mod bluesky;
pub mod feed;
pub mod hackernews;
pub mod html;
pub mod lemmy;
pub mod mastodon;
pub mod reddit;
mod util;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{SourceConfig, SourceKind};

/// The text of an item as the source gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Plain text (or Markdown, which is read as text).
    Text(String),
    /// HTML, to be turned into text by `normalize`.
    Html(String),
}

/// Engagement counts, where the source has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Engagement {
    /// Likes, favourites, upvotes, points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub likes: Option<i64>,
    /// Reposts, boosts, reblogs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reposts: Option<i64>,
    /// Replies, comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies: Option<i64>,
    /// Net score (Reddit, Lemmy), when it differs from likes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
}

/// One post as a source gives it, before normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawItem {
    /// Stable id within the source (guid, status id, URI, permalink...). Never empty.
    pub external_id: String,
    /// Link to the post.
    pub url: Option<String>,
    /// Author name or handle.
    pub author: Option<String>,
    /// Title, where the source has titles.
    pub title: Option<String>,
    /// The text.
    pub body: Body,
    /// When it was published.
    pub published: Option<DateTime<Utc>>,
    /// Engagement counts.
    pub engagement: Engagement,
    /// The language the source declares (`en`, `de-DE`, ...), if any.
    pub lang_hint: Option<String>,
}

/// A fetched response, as the parsers see it.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The final URL (after redirects): base for relative links.
    pub url: &'a Url,
    /// The Content-Type header, if any.
    pub content_type: Option<&'a str>,
    /// The Link header, if any (Mastodon pagination).
    pub link: Option<&'a str>,
    /// The body, already decompressed.
    pub body: &'a [u8],
}

/// What one response yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The items, in the source's order.
    pub items: Vec<RawItem>,
    /// Items present in the body but unusable (no id, no text): skipped.
    pub skipped: usize,
    /// The next page to fetch, if the source paginates and there is one.
    pub next: Option<Url>,
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    /// The body is not what this kind of source returns.
    #[error("the response is not {expected}: {detail}")]
    Malformed {
        /// What was expected ("an RSS, Atom or JSON feed", "a Reddit listing").
        expected: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The service answered with an error object instead of results.
    #[error("the service returned an error: {0}")]
    Service(String),
}

/// The URL of the first page to fetch for a source.
pub fn first_page(source: &SourceConfig) -> Url {
    match source.kind {
        SourceKind::Feed | SourceKind::Html => source.url.clone(),
        SourceKind::HackerNews => hackernews::first_page(source),
        SourceKind::Mastodon => mastodon::first_page(source),
        SourceKind::Reddit => reddit::first_page(source),
        SourceKind::Lemmy => lemmy::first_page(source),
        SourceKind::Bluesky => bluesky::first_page(source),
    }
}

/// Reads one response of a source.
pub fn parse(source: &SourceConfig, response: &Response<'_>) -> Result<Page, SourceError> {
    match source.kind {
        SourceKind::Feed => feed::parse(response),
        SourceKind::HackerNews => hackernews::parse(response),
        SourceKind::Mastodon => mastodon::parse(response),
        SourceKind::Reddit => reddit::parse(response),
        SourceKind::Lemmy => lemmy::parse(response),
        SourceKind::Bluesky => bluesky::parse(response),
        SourceKind::Html => match &source.params.selectors {
            Some(selectors) => html::parse(response, selectors),
            None => Err(SourceError::Malformed {
                expected: "an HTML page with selectors",
                detail: "the source has no selectors".into(),
            }),
        },
    }
}
