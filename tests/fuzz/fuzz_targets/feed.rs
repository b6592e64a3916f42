//! `feed` sources: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed over any body.
//!
//! Input: the first byte picks the Content-Type header (none, RSS, Atom,
//! JSON Feed, or a declared legacy charset), the rest is the body as fetched.
//! Property: `sources::parse` returns `Ok` or `Err`, never panics; every item
//! it returns has a non-empty id.
//!
//! feed-rs (and quick-xml under it) panic on some documents, so
//! `sources::feed` parses under `catch_unwind` and turns such a panic into an
//! error. libFuzzer's default panic hook would abort on those caught panics,
//! so this target records panics instead and fails only on one that escapes
//! `sources::parse`.
#![no_main]

mod common;

use brandpulse::config::{SourceKind, SourceParams};
use brandpulse::sources::{self, Response};
use libfuzzer_sys::fuzz_target;
use url::Url;

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=utf-8"),
    Some("application/feed+json"),
    Some("text/xml; charset=windows-1251"),
    Some("application/xml; charset=ISO-8859-1"),
    Some("application/json; charset=utf-16"),
    Some("text/html; charset=shift_jis"),
];

fuzz_target!(init: common::record_panics_instead_of_aborting(), |data: &[u8]| {
    common::no_panic(|| {
        let (selector, body) = common::split_first(data);
        let source =
            common::source(SourceKind::Feed, "https://news.example/feeds/all.xml", SourceParams::default());
        let url = Url::parse("https://news.example/feeds/all.xml").expect("fixed URL");
        let response = Response {
            url: &url,
            content_type: CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()],
            link: None,
            body,
        };
        if let Ok(page) = sources::parse(&source, &response) {
            for item in &page.items {
                assert!(!item.external_id.is_empty(), "an item with an empty id: {item:?}");
            }
        }
    });
});
