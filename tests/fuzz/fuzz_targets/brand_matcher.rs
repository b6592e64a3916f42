//! Brand matching: `BrandMatcher::find` over any text, with the brands of
//! config/brandpulse.example.toml (a CJK alias, exclusions, an ambiguous
//! alias with context terms, @handles and #hashtags) plus one brand whose
//! aliases fold irregularly (ß, İ, final sigma, a tab, Ⅻ).
//!
//! Input: any bytes, read as UTF-8 (lossily: invalid bytes become U+FFFD).
//! Property: never panics, and every reported match is a non-empty span on
//! char boundaries of the text as given (the doc contract of `TermMatch`),
//! for the text as given and for its NFKC form (what the crawl feeds it).
#![no_main]

mod common;

use std::sync::LazyLock;

use brandpulse::matching::BrandMatcher;
use libfuzzer_sys::fuzz_target;

static MATCHER: LazyLock<BrandMatcher> = LazyLock::new(|| BrandMatcher::new(&common::brands()));

fn check(text: &str) {
    for mention in MATCHER.find(text) {
        assert!(mention.brand < 4, "brand index out of range: {mention:?}");
        assert!(!mention.terms.is_empty(), "a mention without terms: {mention:?}");
        for m in &mention.matches {
            assert!(m.start < m.end && m.end <= text.len(), "bad span {m:?} in {text:?}");
            assert!(
                text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
                "span {m:?} is not on char boundaries of {text:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text);
    check(&brandpulse::normalize::clean_text(&text));
});
