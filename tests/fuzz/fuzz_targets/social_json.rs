//! The JSON API sources: hackernews, mastodon, reddit, lemmy, bluesky.
//!
//! Input: the first byte picks the kind (`byte % 5`, in that order); with its
//! top bit set, the body's first line is the `Link` header (Mastodon
//! pagination) and the rest the body. Property: `sources::parse` returns
//! `Ok` or `Err`, never panics; every item has a non-empty id.
#![no_main]

mod common;

use brandpulse::config::{SourceKind, SourceParams};
use brandpulse::sources::{self, Response};
use libfuzzer_sys::fuzz_target;
use url::Url;

const KINDS: [(SourceKind, &str); 5] = [
    (SourceKind::HackerNews, "https://hn.algolia.com/api/v1/search_by_date?query=kestrel&tags=story"),
    (SourceKind::Mastodon, "https://mastodon.social/api/v1/timelines/tag/kestrel?limit=40"),
    (SourceKind::Reddit, "https://www.reddit.com/search.json?q=kestrel&sort=new&limit=100"),
    (SourceKind::Lemmy, "https://lemmy.world/api/v3/search?q=kestrel&type_=Posts&sort=New&limit=50"),
    (SourceKind::Bluesky, "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=kestrel"),
];

fuzz_target!(|data: &[u8]| {
    let (selector, rest) = common::split_first(data);
    let (kind, url) = KINDS[usize::from(selector & 0x7f) % KINDS.len()];
    let (link, body) = if selector & 0x80 != 0 {
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (std::str::from_utf8(&rest[..nl]).ok(), &rest[nl + 1..]),
            None => (None, rest),
        }
    } else {
        (None, rest)
    };
    let params = SourceParams { max_pages: Some(3), ..SourceParams::default() };
    let source = common::source(kind, url, params);
    let url = Url::parse(url).expect("fixed URL");
    let response = Response { url: &url, content_type: Some("application/json; charset=utf-8"), link, body };
    if let Ok(page) = sources::parse(&source, &response) {
        for item in &page.items {
            assert!(!item.external_id.is_empty(), "{kind}: an item with an empty id: {item:?}");
        }
    }
});
