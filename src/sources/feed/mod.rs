//! RSS 0.90/0.91/0.92/1.0/2.0, Atom 0.3/1.0 and JSON Feed 1.0/1.1.
//!
//! feed-rs does the parsing; this module makes it as forgiving as Python's
//! feedparser, in stages that cost nothing when a feed is clean:
//!
//! 1. a body still gzip-compressed is inflated (`decode::gunzip_if_needed`);
//! 2. the charset is decided (BOM, HTTP, declaration, sniffing) and the text
//!    transcoded to UTF-8 (`decode::decode_text`); the XML declaration is cut
//!    off, with whatever stood before it;
//! 3. dialects feed-rs does not know (RSS 0.90, Atom 0.3, `<rss>` without a
//!    version or with a foreign namespace) and RSS descriptions written as raw
//!    HTML elements are rewritten into what it reads (`markup::prepare`);
//! 4. feed-rs parses strictly; only if that fails are lexical faults repaired
//!    (`markup::repair`) and the parse retried once;
//! 5. JSON that feed-rs refuses (an `http://` version URL, a numeric id, a
//!    missing title) is read by a small lenient JSON Feed reader (`json`).
//!
//! Dates are read by `dates::parse` (feed-rs's own reader, replaced, knew
//! fewer forms). Entries then become [`RawItem`]s: ids, links resolved against
//! `xml:base` and the fetch URL, plain-text titles, HTML (or, where the feed
//! says so, plain) bodies, authors, dates, YouTube-style engagement counts.

mod dates;
mod decode;
mod entities;
mod json;
mod markup;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, FeedType, Link, MediaObject, Person, Text};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use url::Url;

use super::{Body, Engagement, Page, RawItem, Response, SourceError};

const EXPECTED: &str = "an RSS, Atom or JSON feed";

/// Reads a feed: any RSS, Atom or JSON Feed version, in any charset, with the
/// faults lenient readers forgive. Feeds do not paginate: `next` is `None`.
pub fn parse(response: &Response<'_>) -> Result<Page, SourceError> {
    let body = decode::gunzip_if_needed(response.body).map_err(malformed)?;
    let text = decode::decode_text(&body, response.content_type);
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if start.is_empty() {
        return Err(malformed("the body is empty"));
    }
    if start.starts_with(['{', '[']) { read_json(start, response.url) } else { read_xml(&text, response.url) }
}

fn malformed(detail: impl Into<String>) -> SourceError {
    SourceError::Malformed { expected: EXPECTED, detail: detail.into() }
}

/// Reads an XML feed: strict first, repaired only when that fails.
fn read_xml(text: &str, base: &Url) -> Result<Page, SourceError> {
    let prepared = markup::prepare(decode::strip_declaration(text));
    let strict = match parse_with_feed_rs(&prepared, base) {
        Ok(feed) => return Ok(assemble(feed_items(feed), 0, base)),
        Err(err) => err,
    };
    let root = markup::root_name(&prepared);
    let feed_root = matches!(root, Some("rss" | "RDF" | "feed" | "entry"));
    if !feed_root && matches!(strict, ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)) {
        // Repairs fix lexical faults; they cannot turn a page into a feed.
        return Err(malformed(describe_root(&prepared)));
    }
    let mut repaired = markup::repair(&prepared).map_err(malformed)?;
    if matches!(root, Some("feed" | "entry")) {
        repaired = markup::normalise_atom_types(&repaired);
    }
    match parse_with_feed_rs(&repaired, base) {
        Ok(feed) => Ok(assemble(feed_items(feed), 0, base)),
        Err(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)) => {
            Err(malformed(describe_root(&repaired)))
        }
        Err(lenient) => {
            Err(malformed(format!("ill-formed XML ({strict}), still unreadable after repairs ({lenient})")))
        }
    }
}

/// Reads a JSON Feed: feed-rs first, the lenient reader when it refuses.
fn read_json(text: &str, base: &Url) -> Result<Page, SourceError> {
    match parse_with_feed_rs(text, base) {
        Ok(feed) => Ok(assemble(feed_items(feed), 0, base)),
        Err(_) => {
            let (items, skipped) = json::read(text).map_err(malformed)?;
            Ok(assemble(items, skipped, base))
        }
    }
}

/// Parses with feed-rs, which does not panic on anything this module has met
/// but two: a second XML declaration inside an element (found by fuzzing)
/// panics quick-xml, and feed-rs 3.0.0 unwraps the numbers in media times
/// (`<itunes:duration>`, `time=`, `start=`, `end=`), so a 25-digit or an
/// Arabic-Indic digit panics it. The panic is caught, and the document read
/// again without those values.
fn parse_with_feed_rs(text: &str, base: &Url) -> Result<Feed, ParseFeedError> {
    let first = std::panic::catch_unwind(|| feed_rs_parser(base).parse(text.as_bytes()));
    let again = || {
        let cleaned = markup::without_media_times(text);
        std::panic::catch_unwind(|| feed_rs_parser(base).parse(cleaned.as_bytes()))
    };
    first.or_else(|_| again()).unwrap_or_else(|_| {
        Err(ParseFeedError::ParseError(ParseErrorKind::IllegalState {
            position: 0,
            reference: "feed-rs panicked on this document".into(),
        }))
    })
}

fn feed_rs_parser(base: &Url) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id marks "the feed gave none": feed-rs would otherwise
        // invent one, and a random UUID is no stable id.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(dates::parse)
        .build()
}

/// Why a document with no feed root is not a feed, in words.
fn describe_root(text: &str) -> String {
    let looks_like_html = text.get(..9).is_some_and(|start| {
        start.eq_ignore_ascii_case("<!doctype")
            && text[9..].trim_start().get(..4).is_some_and(|n| n.eq_ignore_ascii_case("html"))
    });
    match markup::root_tag(text) {
        _ if looks_like_html => "an HTML page, not a feed".into(),
        Some((_, root))
            if ["html", "head", "body"]
                .iter()
                .any(|n| markup::local_name(root.name).eq_ignore_ascii_case(n)) =>
        {
            "an HTML page, not a feed".into()
        }
        Some((_, root)) => {
            format!("the root element <{}> is not <rss>, <rdf:RDF>, <feed> or <entry>", root.name)
        }
        None => "no root element: the body is not XML".into(),
    }
}

/// One entry, read but not yet checked or given its final id and URL.
#[derive(Debug, Default)]
struct ItemParts {
    /// The id the feed gave, if any.
    id: Option<String>,
    /// Link candidates, best first, as the feed wrote them.
    links: Vec<String>,
    author: Option<String>,
    title: Option<String>,
    body: Option<Body>,
    published: Option<DateTime<Utc>>,
    engagement: Engagement,
    lang: Option<String>,
}

/// The parts of every entry of a feed-rs feed.
fn feed_items(feed: Feed) -> Vec<ItemParts> {
    let feed_author = first_author(&feed.authors);
    let feed_lang = non_empty(feed.language.as_deref());
    // Atom and JSON Feed say when a text is plain; RSS says nothing (feed-rs
    // labels RSS 1.0 descriptions plain, but they are HTML in practice).
    let plain_means_text = matches!(feed.feed_type, FeedType::Atom | FeedType::JSON);
    feed.entries
        .into_iter()
        .map(|mut entry| ItemParts {
            id: non_empty(Some(&entry.id)),
            links: link_candidates(&entry.links),
            author: first_author(&entry.authors).or_else(|| feed_author.clone()),
            title: entry.title.as_ref().and_then(clean_title),
            published: entry.published.or(entry.updated),
            engagement: engagement(&entry.media),
            lang: non_empty(entry.language.as_deref()).or_else(|| feed_lang.clone()),
            body: entry_body(&mut entry, plain_means_text),
        })
        .collect()
}

/// The entry's links, alternates (the post itself) first.
fn link_candidates(links: &[Link]) -> Vec<String> {
    let is_alternate =
        |link: &&Link| link.target.is_none() && link.rel.as_deref().is_none_or(|rel| rel == "alternate");
    let alternates = links.iter().filter(is_alternate);
    let others = links.iter().filter(|link| !is_alternate(link));
    alternates.chain(others).map(|link| link.href.clone()).collect()
}

/// The first author with a name.
fn first_author(people: &[Person]) -> Option<String> {
    people.iter().find_map(|person| non_empty(person.name.as_deref()))
}

/// A title as plain text: HTML titles lose their tags, and references left
/// over from double escaping (`&amp;#x27;`) or HTML (`&nbsp;`) are decoded.
fn clean_title(title: &Text) -> Option<String> {
    // RSS titles are plain by the letter, but some carry HTML all the same.
    let is_markup = !is_plain(&title.content_type) || looks_like_html(&title.content);
    let mut text = if is_markup { strip_tags(&title.content) } else { title.content.clone() };
    if text.contains('&') {
        text = entities::decode_refs(&text);
    }
    if text.chars().any(char::is_control) {
        text = text.chars().map(|ch| if ch.is_control() { ' ' } else { ch }).collect();
    }
    non_empty(Some(&text))
}

/// Whether text holds an HTML end tag (`</b>`) or line break (`<br>`): the
/// evidence feedparser also goes by. A lone `<` (`Vec<T>`) is not enough.
fn looks_like_html(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        let rest = &text[at + 1..];
        let (closing, name_start) = match rest.strip_prefix('/') {
            Some(name) => (true, name),
            None => (false, rest),
        };
        let name_len = name_start.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let after = &name_start[name_len..];
        match (closing, name_len) {
            (true, 1..=10) => after.starts_with('>'),
            (false, 2) => name_start[..2].eq_ignore_ascii_case("br") && after.starts_with(['>', '/', ' ']),
            _ => false,
        }
    })
}

/// Markup removed, text kept (titles only: bodies go to `normalize`).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                rest = &rest[open..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The entry's text: content, else summary, else a media description
/// (YouTube puts a video's text only there). Taken out of the entry, not
/// copied: bodies are most of a feed's bytes.
fn entry_body(entry: &mut Entry, plain_means_text: bool) -> Option<Body> {
    if let Some(content) = entry.content.as_mut() {
        let plain = is_plain(&content.content_type) && plain_means_text;
        if let Some(body) = content.body.take().filter(|body| !body.trim().is_empty()) {
            return Some(make_body(body, plain));
        }
    }
    if let Some(summary) = entry.summary.take().filter(|summary| !summary.content.trim().is_empty()) {
        let plain = is_plain(&summary.content_type) && plain_means_text;
        return Some(make_body(summary.content, plain));
    }
    entry
        .media
        .iter_mut()
        .filter_map(|media| media.description.take())
        .find(|description| !description.content.trim().is_empty())
        .map(|description| {
            let plain = is_plain(&description.content_type);
            make_body(description.content, plain)
        })
}

/// Whether a media type (feed-rs's `MediaTypeBuf`) is `text/plain`.
fn is_plain(media_type: &impl AsRef<str>) -> bool {
    media_type.as_ref().get(..10).is_some_and(|essence| essence.eq_ignore_ascii_case("text/plain"))
}

fn make_body(text: String, plain: bool) -> Body {
    if plain { Body::Text(text) } else { Body::Html(text) }
}

/// Media RSS community counts (YouTube): the star-rating count is the like
/// count there; views have no field in [`Engagement`].
fn engagement(media: &[MediaObject]) -> Engagement {
    let community = media.iter().find_map(|object| object.community.as_ref());
    let likes = community.and_then(|c| c.stats_favorites.or(c.stars_count));
    Engagement { likes: likes.and_then(|count| i64::try_from(count).ok()), ..Engagement::default() }
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned)
}

/// Turns entry parts into items: resolves links, settles ids, skips entries
/// with nothing in them.
fn assemble(parts: Vec<ItemParts>, skipped: usize, base: &Url) -> Page {
    let mut page = Page { items: Vec::with_capacity(parts.len()), skipped, next: None };
    let mut seen_ids = HashSet::with_capacity(parts.len());
    for part in parts {
        let url = part
            .links
            .iter()
            .find_map(|href| resolve(base, href))
            // An Atom id or RSS guid is often the permalink itself.
            .or_else(|| part.id.as_deref().and_then(resolve_absolute));
        let body = part.body.unwrap_or_else(|| Body::Html(String::new()));
        let body_text = match &body {
            Body::Html(text) | Body::Text(text) => text.as_str(),
        };
        // Only an entry with nothing at all in it is dropped: one with just a
        // date or an id is still a post the feed announced (feedparser counts
        // it too), and costs nothing downstream once brand matching finds no
        // brand in it.
        let empty = part.id.is_none()
            && url.is_none()
            && part.title.is_none()
            && body_text.trim().is_empty()
            && part.published.is_none();
        if empty {
            page.skipped += 1;
            continue;
        }
        let external_id = match (part.id, &url) {
            (Some(id), _) => id,
            // Feeds without ids that point every entry at one page would
            // otherwise collapse into one post.
            (None, Some(url)) if !seen_ids.contains(url) => url.clone(),
            (None, url) => content_id(url.as_deref(), part.title.as_deref(), body_text, part.published),
        };
        seen_ids.insert(external_id.clone());
        page.items.push(RawItem {
            external_id,
            url,
            author: part.author,
            title: part.title,
            body,
            published: part.published,
            engagement: part.engagement,
            lang_hint: part.lang,
        });
    }
    page
}

/// A link resolved against the fetch URL (feed-rs has already applied any
/// `xml:base`); only web links count as the post's URL.
fn resolve(base: &Url, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    base.join(href).ok().filter(is_web).map(String::from)
}

/// An id that is itself an absolute web URL.
fn resolve_absolute(id: &str) -> Option<String> {
    Url::parse(id.trim()).ok().filter(is_web).map(String::from)
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// A stable id for an entry the feed gave no id: SHA-256 of what it holds.
fn content_id(
    url: Option<&str>,
    title: Option<&str>,
    body: &str,
    published: Option<DateTime<Utc>>,
) -> String {
    let published = published.map(|date| date.to_rfc3339()).unwrap_or_default();
    super::util::content_id(&[url.unwrap_or_default(), title.unwrap_or_default(), body, &published])
}
