//! `html` sources: any page read with CSS selectors.
//!
//! Input: the first byte picks one of a few fixed selector sets (the one of
//! config/brandpulse.example.toml and those of ../shared/fixtures/html,
//! `byte % 4`) and, with bit 0x80, a Content-Type with a legacy charset
//! (otherwise none, so the `<meta charset>` prescan runs); the rest is the
//! page. Property: `sources::parse` returns `Ok` or `Err`, never panics;
//! every item has a non-empty id and any link is an absolute http(s) URL.
#![no_main]

mod common;

use brandpulse::config::{HtmlSelectors, SourceKind, SourceParams};
use brandpulse::sources::{self, Response};
use libfuzzer_sys::fuzz_target;
use url::Url;

fn selector_sets() -> [HtmlSelectors; 4] {
    use common::selectors as s;
    [
        // config/brandpulse.example.toml
        s("article.topic", Some("h2 a"), Some(".post-body"), Some("h2 a"), Some(".author"), Some("time")),
        // blog-index-multi-author.html
        s(
            "div.post",
            Some(".column2 h1 a"),
            Some(".column2"),
            Some(".column2 h1 a"),
            Some(".column1 h3"),
            Some("p.dateline"),
        ),
        // forum-xenforo-thread-*.html
        s(
            "article.message--post",
            None,
            Some(".message-body .bbWrapper"),
            Some(".message-attribution a[href*=\"/post-\"]"),
            Some("h4.message-name .username"),
            Some("time.u-dt"),
        ),
        // reviews-schema-org-holiday-home.html, comments-reddit-thread.html style
        s(
            "[itemprop=review], div.Comment",
            Some("[itemprop=name]"),
            Some("[itemprop=description], [data-test-id=comment]"),
            Some("a[id^=\"CommentTopMeta--Created\"]"),
            Some("a[href^=\"/user/\"], .rating-single-comment-us"),
            Some("meta[itemprop=datePublished], a[id^=\"CommentTopMeta--Created\"]"),
        ),
    ]
}

fuzz_target!(|data: &[u8]| {
    let (selector, body) = common::split_first(data);
    let index = usize::from(selector & 0x7f) % 4;
    let chosen = selector_sets().into_iter().nth(index).expect("four selector sets");
    let params = SourceParams { selectors: Some(chosen), ..SourceParams::default() };
    let source = common::source(SourceKind::Html, "https://forum.example/c/x200/latest?page=2", params);
    let url = Url::parse("https://forum.example/c/x200/latest?page=2").expect("fixed URL");
    let content_type = (selector & 0x80 != 0).then_some("text/html; charset=windows-1252");
    let response = Response { url: &url, content_type, link: None, body };
    if let Ok(page) = sources::parse(&source, &response) {
        for item in &page.items {
            assert!(!item.external_id.is_empty(), "an item with an empty id: {item:?}");
            if let Some(link) = &item.url {
                let parsed = Url::parse(link).expect("item links are absolute URLs");
                assert!(matches!(parsed.scheme(), "http" | "https"), "a non-web link: {link}");
            }
        }
    }
});
