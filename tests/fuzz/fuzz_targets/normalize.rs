//! Normalisation: `normalize::normalize(RawItem)` (HTML to text, NFKC,
//! whitespace, canonical URL, author hash, language detection), then brand
//! matching on the post's match text, as the crawl does.
//!
//! Input: the first byte holds flags (bit 0: the body is HTML, else text;
//! bit 1: hash author handles; bit 2: a title; bit 3: a language hint), the
//! rest is split on 0x1F (unit separator) into body, title, URL, author and
//! language hint, each read as UTF-8 lossily.
//! Property: never panics; with a key the author is stored hashed; the
//! canonical URL, if any, parses as a URL.
#![no_main]

mod common;

use std::sync::LazyLock;

use brandpulse::matching::BrandMatcher;
use brandpulse::normalize::{self, AuthorKey};
use brandpulse::sources::{Body, Engagement, RawItem};
use libfuzzer_sys::fuzz_target;

static MATCHER: LazyLock<BrandMatcher> = LazyLock::new(|| BrandMatcher::new(&common::brands()));

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = common::split_first(data);
    let mut fields = rest.split(|&b| b == 0x1f).map(|f| String::from_utf8_lossy(f).into_owned());
    let body = fields.next().unwrap_or_default();
    let title = fields.next();
    let url = fields.next();
    let author = fields.next();
    let lang_hint = fields.next();
    let item = RawItem {
        external_id: "fuzz-1".into(),
        url,
        author,
        title: title.filter(|_| flags & 4 != 0),
        body: if flags & 1 != 0 { Body::Html(body) } else { Body::Text(body) },
        published: None,
        engagement: Engagement::default(),
        lang_hint: lang_hint.filter(|_| flags & 8 != 0),
    };
    let key = AuthorKey(secrecy::SecretString::from("fuzz-key".to_owned()));
    let key = (flags & 2 != 0).then_some(&key);
    let post = normalize::normalize(item, key);
    if let (Some(author), Some(_)) = (&post.author, key) {
        assert!(author.starts_with(normalize::AUTHOR_HASH_PREFIX), "unhashed author {author:?}");
    }
    if let Some(url) = &post.url {
        assert!(url::Url::parse(url).is_ok(), "canonical URL does not parse: {url:?}");
    }
    let text = post.match_text();
    for mention in MATCHER.find(&text) {
        for m in &mention.matches {
            assert!(text.get(m.start..m.end).is_some_and(|s| !s.is_empty()), "bad span {m:?}");
        }
    }
});
