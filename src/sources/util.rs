//! Helpers the JSON API parsers (and, for a few, the HTML parser) share.
//!
//! They live here so that every source answers the same things the same way:
//! a blank field is no field, a body of the wrong shape is reported with its
//! first bytes, one bad entry costs only itself, and a next-page URL keeps
//! whatever the response URL carried. The feed parser keeps its own
//! `non_empty` and `malformed` on purpose: it trims the text it keeps, and its
//! errors describe the document rather than quote the body.

use std::fmt::Display;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use url::Url;

use super::{Page, RawItem, SourceError};

/// How many bytes of a refused body an error quotes: enough to tell an HTML
/// error page or a rate-limit notice from JSON, short enough for a log line.
const QUOTED_BYTES: usize = 60;

/// A source's API base with `segments` appended below any base path it has
/// (an instance behind `/lemmy/` keeps it), without its query or fragment,
/// so that the caller's query parameters are the only ones.
pub(super) fn endpoint<'a>(base: &Url, segments: impl IntoIterator<Item = &'a str>) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    // A cannot-be-a-base URL (`mailto:`) has no path to extend; it keeps
    // its own rather than panic, as parsers never do on config they cannot use.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// `url` with `key` set to `value`, every other parameter kept in its order.
///
/// Paging goes through here so that a cursor replaces the previous page's
/// rather than piling up (`cursor=1&cursor=2`), and so that parameters the
/// first page chose (query, limit, sort) carry over unchanged. The key goes
/// last.
pub(super) fn with_query_param(url: &Url, key: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != key).collect();
    let mut next = url.clone();
    next.query_pairs_mut().clear().extend_pairs(kept).append_pair(key, value);
    next
}

/// The value, unless it is missing or only whitespace: APIs send `""` or
/// `" "` where they mean "none", and an empty author or id must not pass for
/// a real one.
/// A stable external id for an item that has none of its own: the SHA-256
/// (lowercase hex) of its parts, each followed by a 0 byte so that
/// ("ab", "c") and ("a", "bc") differ.
pub(super) fn content_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{:x}", hasher.finalize())
}

pub(super) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.trim().is_empty())
}

/// A time in RFC 3339, the format most of these APIs use; `None` rather than
/// an error, since a post without a readable time is still a post.
pub(super) fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// A `Malformed` error for a body that is not `expected`, saying `what` was
/// wrong and quoting the body's start: a proxy's HTML error page or a
/// "whoa there, pardner!" rate-limit page is then recognisable in logs,
/// where a bare JSON syntax error would not be. Control characters are
/// blanked so the quote stays on one line.
pub(super) fn malformed(expected: &'static str, body: &[u8], what: impl Display) -> SourceError {
    let start: String = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BYTES)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    SourceError::Malformed { expected, detail: format!("{what} (the body starts with {:?})", start.trim()) }
}

/// The error of an `{"error": ..., "message": ...}` envelope (Lemmy, XRPC),
/// with whichever of the two it has; `None` when it has neither, which makes
/// the body malformed rather than a service error.
pub(super) fn service_error(error: Option<String>, message: Option<String>) -> Option<SourceError> {
    match (error, message) {
        (Some(error), Some(message)) => Some(SourceError::Service(format!("{error}: {message}"))),
        (Some(text), None) | (None, Some(text)) => Some(SourceError::Service(text)),
        (None, None) => None,
    }
}

/// A page of the items `item` makes of `entries`, each entry it refuses
/// counted in `skipped`: one broken entry costs itself, not the page, and
/// the count still says that something was lost.
pub(super) fn collect_page<T>(
    entries: impl IntoIterator<Item = T>,
    mut item: impl FnMut(T) -> Option<RawItem>,
) -> Page {
    let entries = entries.into_iter();
    let mut page = Page { items: Vec::with_capacity(entries.size_hint().0), ..Page::default() };
    for entry in entries {
        match item(entry) {
            Some(item) => page.items.push(item),
            None => page.skipped += 1,
        }
    }
    page
}

/// [`collect_page`] over JSON entries kept raw by the envelope, each read as
/// a `T` on its own: an entry of an unexpected shape (a number where a
/// count should be) is skipped instead of failing the whole body.
pub(super) fn json_page<T: DeserializeOwned>(
    entries: &[&RawValue],
    mut item: impl FnMut(T) -> Option<RawItem>,
) -> Page {
    collect_page(entries, |raw| serde_json::from_str::<T>(raw.get()).ok().and_then(&mut item))
}

/// Whether a page had no entries at all, good or bad. That is the end of a
/// paged listing (whatever cursor it still offers), and for a scraped page a
/// sign that the markup no longer matches.
pub(super) fn no_entries(page: &Page) -> bool {
    page.items.is_empty() && page.skipped == 0
}

/// What the parsers' tests share: the fixture corpus and the builders for
/// responses and sources.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, Utc};
    use url::Url;

    use crate::config::{SourceConfig, SourceKind, SourceParams};
    use crate::sources::{Page, Response, SourceError};

    /// Captured responses of the social APIs (and their error pages), shared
    /// with the integration tests' fixture server.
    const SOCIAL_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/social-json");

    /// Saved web pages with the selectors that read them (`SOURCES.tsv`).
    const HTML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/html");

    fn read(dir: &str, name: &str) -> Vec<u8> {
        let path = format!("{dir}/{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A social API fixture's body.
    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        read(SOCIAL_JSON, name)
    }

    /// A web page fixture's body.
    pub(crate) fn html_fixture(name: &str) -> Vec<u8> {
        read(HTML, name)
    }

    /// Every social API fixture body: each parser is fed the others' bodies
    /// too, since a misconfigured source gets exactly that.
    pub(crate) fn all_fixtures() -> Vec<Vec<u8>> {
        std::fs::read_dir(SOCIAL_JSON)
            .unwrap()
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect()
    }

    /// An RFC 3339 time as the items carry it; panics on a typo in a test.
    pub(crate) fn time(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    /// Runs a JSON source's `parse` on `body` as if fetched from `url`.
    /// These parsers ignore the Content-Type, so any JSON one will do.
    pub(crate) fn parse_json(
        parse: fn(&Response<'_>) -> Result<Page, SourceError>,
        url: &str,
        link: Option<&str>,
        body: &[u8],
    ) -> Result<Page, SourceError> {
        let url = Url::parse(url).unwrap();
        parse(&Response { url: &url, content_type: Some("application/json"), link, body })
    }

    /// An enabled source of `kind`; the parts a parser does not read (name,
    /// schedule) are fixed.
    pub(crate) fn source(
        kind: SourceKind,
        url: &str,
        query: Option<&str>,
        params: SourceParams,
    ) -> SourceConfig {
        SourceConfig {
            name: "test".into(),
            kind,
            url: Url::parse(url).unwrap(),
            query: query.map(str::to_owned),
            schedule: "0 * * * * *".parse().unwrap(),
            enabled: true,
            params,
        }
    }

    /// Asserts that `body` cut every `step` bytes short of `body.len()` is
    /// refused: a truncated download must be an error, never a short page.
    pub(crate) fn assert_truncations_refused(
        parse_body: impl Fn(&[u8]) -> Result<Page, SourceError>,
        name: &str,
        body: &[u8],
        step: usize,
    ) {
        for end in (0..body.len()).step_by(step) {
            assert!(parse_body(&body[..end]).is_err(), "{name} cut at {end}");
        }
    }
}
