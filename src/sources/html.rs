//! Any web page, read with the CSS selectors of its source: one `item`
//! element per post, and within it (each optional) the title, text, link,
//! author and time.
//!
//! Web pages carry no ids, so an item is identified by its link (a
//! permalink, resolved against the page URL) or, without one, by a hash of
//! its title and text.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use encoding_rs::{Encoding, UTF_8};
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::util::{collect_page, no_entries, rfc3339};
use super::{Body, Engagement, Page, RawItem, Response, SourceError};
use crate::config::HtmlSelectors;

const EXPECTED: &str = "an HTML page with items matching the source's selectors";

/// How far into the body a `<meta charset>` is looked for (as browsers do).
const CHARSET_PRESCAN_BYTES: usize = 1024;

/// The selectors of a source, compiled.
struct Compiled {
    item: Selector,
    title: Option<Selector>,
    text: Option<Selector>,
    link: Option<Selector>,
    author: Option<Selector>,
    time: Option<Selector>,
}

impl Compiled {
    /// Compiles every selector. They were checked when the config was
    /// loaded, so a failure here means the config changed under us: an
    /// error, not a panic.
    fn new(selectors: &HtmlSelectors) -> Result<Self, SourceError> {
        let optional = |key, css: &Option<String>| css.as_deref().map(|css| compile(key, css)).transpose();
        Ok(Compiled {
            item: compile("item", &selectors.item)?,
            title: optional("title", &selectors.title)?,
            text: optional("text", &selectors.text)?,
            link: optional("link", &selectors.link)?,
            author: optional("author", &selectors.author)?,
            time: optional("time", &selectors.time)?,
        })
    }
}

fn compile(key: &str, css: &str) -> Result<Selector, SourceError> {
    Selector::parse(css).map_err(|e| SourceError::Malformed {
        expected: EXPECTED,
        detail: format!("selectors.{key} \"{css}\" is not a valid CSS selector ({e})"),
    })
}

/// Reads one page. Items with neither title nor text are skipped; a page
/// where the item selector matches nothing is an error, because that almost
/// always means the site changed its markup (or served a block page).
/// Pages are not followed, so `next` is always `None`.
pub fn parse(response: &Response<'_>, selectors: &HtmlSelectors) -> Result<Page, SourceError> {
    let compiled = Compiled::new(selectors)?;
    let text = decode(response.body, response.content_type);
    let document = Html::parse_document(&text);
    let base = document_base(&document, response.url);
    let page = collect_page(document.select(&compiled.item), |element| item(element, &compiled, &base));
    if no_entries(&page) {
        return Err(SourceError::Malformed {
            expected: EXPECTED,
            detail: format!("no element matches the item selector \"{}\"", selectors.item),
        });
    }
    Ok(page)
}

/// The item of one matched element; `None` when it has neither title nor text.
fn item(element: ElementRef<'_>, sel: &Compiled, base: &Url) -> Option<RawItem> {
    let first = |selector: &Option<Selector>| selector.as_ref().and_then(|s| element.select(s).next());
    let title = first(&sel.title).map(plain_text).filter(|t| !t.is_empty());
    let text_element = first(&sel.text);
    let text = text_element.map(plain_text).unwrap_or_default();
    if title.is_none() && text.is_empty() {
        return None;
    }
    let link = first(&sel.link).and_then(|e| link_of(e, base));
    let external_id = link.clone().unwrap_or_else(|| content_id(title.as_deref(), &text));
    Some(RawItem {
        external_id,
        url: link,
        author: first(&sel.author).map(plain_text).filter(|a| !a.is_empty()),
        title,
        body: Body::Html(if text.is_empty() {
            String::new()
        } else {
            text_element.map(|e| e.inner_html()).unwrap_or_default()
        }),
        published: first(&sel.time).and_then(time_of),
        engagement: Engagement::default(),
        lang_hint: None,
    })
}

/// An element's text with runs of whitespace collapsed to one space. Text
/// nodes are joined first: `Mc<b>Donald</b>` is one word.
fn plain_text(element: ElementRef<'_>) -> String {
    let raw: String = element.text().collect();
    let mut out = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The absolute URL an element links to: its own `href`, else that of its
/// first descendant link. Empty and fragment-only `#` links, and anything
/// that is not a web URL (`javascript:`, `mailto:`), are no link.
fn link_of(element: ElementRef<'_>, base: &Url) -> Option<String> {
    let href = element
        .attr("href")
        .or_else(|| {
            element.descendent_elements().filter(|e| e.value().name() == "a").find_map(|a| a.attr("href"))
        })?
        .trim();
    if href.is_empty() || href == "#" {
        return None;
    }
    let url = base.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.into())
}

/// The base for relative links: the document's `<base href>` if any,
/// resolved against the response URL, else the response URL.
fn document_base(document: &Html, response_url: &Url) -> Url {
    Selector::parse("base[href]")
        .ok()
        .and_then(|s| {
            document
                .select(&s)
                .next()
                .and_then(|b| b.attr("href"))
                .and_then(|h| response_url.join(h.trim()).ok())
        })
        .unwrap_or_else(|| response_url.clone())
}

/// A stable id for an item without a link: the hash of its title and text.
fn content_id(title: Option<&str>, text: &str) -> String {
    super::util::content_id(&[title.unwrap_or_default(), text])
}

/// The time of a time element: its machine-readable `datetime` (or, on
/// `<meta>`, `content`) attribute, else its text. Attributes come first, but
/// a placeholder attribute (`datetime="comment_date"`) falls back to the text.
fn time_of(element: ElementRef<'_>) -> Option<DateTime<Utc>> {
    ["datetime", "content"]
        .into_iter()
        .filter_map(|name| element.attr(name))
        .find_map(parse_time)
        .or_else(|| parse_time(&plain_text(element)))
}

/// Parses the time formats web pages use: RFC 3339 and ISO 8601 variants
/// (no colon in the offset, no zone at all: UTC), RFC 2822, dates alone,
/// `23.06.2016`, and English text dates ("March 10, 2017 at 12:20 AM",
/// "04 Mar 2016", "March 5, 2016 10:09 AM PT"). Relative times ("6 years
/// ago") are `None`: a parser has no clock.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(t) = rfc3339(text) {
        return Some(t);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.with_timezone(&Utc));
    }
    naive_time(text).map(|t| t.and_utc()).or_else(|| text_time(text))
}

/// Numeric dates and times without a zone.
fn naive_time(text: &str) -> Option<NaiveDateTime> {
    const DATE_TIMES: [&str; 6] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ];
    DATE_TIMES.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok()).or_else(|| {
        ["%Y-%m-%d", "%d.%m.%Y"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
}

/// English text dates, with an optional leading weekday, "at" before the
/// time, and a trailing zone abbreviation (US and a few European zones;
/// none means UTC).
fn text_time(text: &str) -> Option<DateTime<Utc>> {
    const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty() && *w != "at").collect();
    if words
        .first()
        .and_then(|w| w.get(..3))
        .is_some_and(|p| WEEKDAYS.iter().any(|d| p.eq_ignore_ascii_case(d)))
    {
        words.remove(0);
    }
    let zone = match words.last() {
        Some(last) if last.bytes().all(|b| b.is_ascii_alphabetic()) && !is_meridiem(last) => {
            let zone = zone_of(last)?;
            words.pop();
            zone
        }
        _ => chrono_tz::UTC,
    };
    let normalised = words.join(" ");
    const FORMATS: [&str; 4] = ["%B %d %Y %I:%M %p", "%B %d %Y %H:%M", "%d %B %Y %I:%M %p", "%d %B %Y %H:%M"];
    let naive =
        FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(&normalised, f).ok()).or_else(|| {
            ["%B %d %Y", "%d %B %Y"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(&normalised, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    zone.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

fn is_meridiem(word: &str) -> bool {
    word.eq_ignore_ascii_case("am") || word.eq_ignore_ascii_case("pm")
}

/// The zone of a time zone abbreviation; the generic US ones ("PT") follow
/// daylight saving time, as their users mean them to.
fn zone_of(abbreviation: &str) -> Option<chrono_tz::Tz> {
    use chrono_tz::{America, Europe, UTC};
    Some(match abbreviation.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" => UTC,
        "PT" | "PST" | "PDT" => America::Los_Angeles,
        "MT" | "MST" | "MDT" => America::Denver,
        "CT" | "CST" | "CDT" => America::Chicago,
        "ET" | "EST" | "EDT" => America::New_York,
        "BST" => Europe::London,
        "CET" | "CEST" | "MEZ" | "MESZ" => Europe::Berlin,
        _ => return None,
    })
}

/// The body as text: in the charset of the Content-Type header, else of a
/// `<meta charset>` near the start, else UTF-8. A byte order mark wins over
/// both; invalid bytes become U+FFFD rather than failing the page.
fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let encoding = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| meta_charset(body))
        .unwrap_or(UTF_8);
    encoding.decode(body).0
}

/// The `charset` parameter of a Content-Type value.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches(['"', '\'']))
    })
}

/// The charset a page declares in its first bytes (`<meta charset=...>` or
/// `<meta http-equiv content="...; charset=...">`). A page that claims
/// UTF-16 in ASCII-compatible bytes is not UTF-16; browsers read it as UTF-8.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(CHARSET_PRESCAN_BYTES)];
    let at = head.windows(8).position(|w| w.eq_ignore_ascii_case(b"charset="))? + 8;
    let label: Vec<u8> = head[at..]
        .iter()
        .skip_while(|b| matches!(b, b'"' | b'\'' | b' '))
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
        .copied()
        .collect();
    let encoding = Encoding::for_label(&label)?;
    Some(if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        UTF_8
    } else {
        encoding
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::util::test_support::{html_fixture, time};

    /// One row of SOURCES.tsv: the file, its selectors and what they match.
    struct Row {
        file: String,
        selectors: HtmlSelectors,
        items: usize,
        /// `title 14/14, text 14/14, ...` as (field, matched).
        matched: Vec<(String, usize)>,
    }

    /// The selectors of SOURCES.tsv, written as config takes them: without
    /// the `@attr` suffix (links always take `href`, times `datetime` or
    /// `content`), and without `rating`, which brandpulse does not read.
    fn selectors(expected: &str) -> HtmlSelectors {
        let mut s = HtmlSelectors {
            item: String::new(),
            title: None,
            text: None,
            link: None,
            author: None,
            time: None,
        };
        for pair in expected.split("; ") {
            let (key, value) = pair.split_once('=').unwrap();
            let css = match value.rsplit_once('@') {
                Some((css, attr)) if attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => css,
                _ => value,
            };
            let css = css.to_owned();
            match key {
                "item" => s.item = css,
                "title" => s.title = Some(css),
                "text" => s.text = Some(css),
                "link" => s.link = Some(css),
                "author" => s.author = Some(css),
                "time" => s.time = Some(css),
                "rating" => {}
                other => panic!("unknown key {other}"),
            }
        }
        s
    }

    fn rows() -> Vec<Row> {
        let tsv = String::from_utf8(html_fixture("SOURCES.tsv")).unwrap();
        tsv.lines()
            .skip(1)
            .map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                let matched = cols[8]
                    .split(", ")
                    .map(|f| {
                        let (field, counts) = f.split_once(' ').unwrap();
                        (field.to_owned(), counts.split_once('/').unwrap().0.parse().unwrap())
                    })
                    .collect();
                Row {
                    file: cols[0].into(),
                    selectors: selectors(cols[5]),
                    items: cols[6].parse().unwrap(),
                    matched,
                }
            })
            .collect()
    }

    fn page_url() -> Url {
        Url::parse("http://127.0.0.1:8080/thread/page.html").unwrap()
    }

    fn parse_file(name: &str, selectors: &HtmlSelectors) -> Page {
        let url = page_url();
        let body = html_fixture(name);
        parse(&Response { url: &url, content_type: Some("text/html"), link: None, body: &body }, selectors)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn row(file: &str) -> Row {
        rows().into_iter().find(|r| r.file == file).unwrap()
    }

    fn text_of(item: &RawItem) -> &str {
        match &item.body {
            Body::Html(t) | Body::Text(t) => t,
        }
    }

    /// Every fixture: as many items as SOURCES.tsv says the item selector
    /// matches (those without title or text skipped), and each field found
    /// in as many items as SOURCES.tsv says.
    #[test]
    fn every_fixture_matches_sources_tsv() {
        let rows = rows();
        assert_eq!(rows.len(), 11);
        for row in rows {
            let page = parse_file(&row.file, &row.selectors);
            assert_eq!(page.items.len() + page.skipped, row.items, "{}", row.file);
            assert_eq!(page.next, None);
            for item in &page.items {
                assert!(!item.external_id.is_empty());
                assert!(item.title.is_some() || !text_of(item).is_empty(), "{}", row.file);
            }
            if page.skipped > 0 {
                continue; // the counts below are over all matched elements
            }
            for (field, expected) in &row.matched {
                let found = page
                    .items
                    .iter()
                    .filter(|i| match field.as_str() {
                        "title" => i.title.is_some(),
                        "text" => !text_of(i).is_empty(),
                        "author" => i.author.is_some(),
                        "link" => i.url.is_some(),
                        _ => true,
                    })
                    .count();
                if matches!(field.as_str(), "title" | "text" | "author" | "link") {
                    assert_eq!(found, *expected, "{}: {field}", row.file);
                }
            }
        }
    }

    #[test]
    fn blog_index_multi_author() {
        let page = parse_file("blog-index-multi-author.html", &row("blog-index-multi-author.html").selectors);
        assert_eq!(page.items.len(), 14);
        let first = &page.items[0];
        assert!(first.title.is_some());
        // Author text keeps its prefix: splitting it off is site-specific.
        assert_eq!(first.author.as_deref(), Some("Linked by Dan Moren"));
        assert!(page.items.iter().any(|i| i.author.as_deref().is_some_and(|a| a.starts_with("By "))));
        assert!(first.url.as_deref().unwrap().starts_with("http"));
        assert_eq!(first.external_id, first.url.clone().unwrap());
        // "March  6, 2016  1:46 PM PT": Pacific standard time.
        assert_eq!(first.published, time("2016-03-06T13:46:00-08:00"));
        assert!(page.items.iter().all(|i| i.published.is_some()));
        // The item with href="": no link, so a content hash as id.
        let unlinked: Vec<_> = page.items.iter().filter(|i| i.url.is_none()).collect();
        assert_eq!(unlinked.len(), 1);
        assert_eq!(unlinked[0].external_id.len(), 64);
        assert!(unlinked[0].external_id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn blog_index_single_author() {
        let page =
            parse_file("blog-index-single-author.html", &row("blog-index-single-author.html").selectors);
        assert_eq!(page.items.len(), 10);
        let first = &page.items[0];
        assert_eq!(first.url.as_deref(), Some("http://inessential.com/2016/03/04/lizcast"));
        assert_eq!(first.published, time("2016-03-04T00:00:00Z"));
        assert_eq!(first.author, None);
        assert!(page.items.iter().all(|i| i.published.is_some() && i.title.is_some()));
    }

    #[test]
    fn disqus_comments_without_links_get_content_ids() {
        let page =
            parse_file("comments-disqus-noscript.html", &row("comments-disqus-noscript.html").selectors);
        assert_eq!(page.items.len(), 86);
        assert!(page.items.iter().all(|i| i.url.is_none() && i.published.is_none() && i.author.is_some()));
        assert!(page.items.iter().all(|i| i.external_id.len() == 64));
        let ids: std::collections::HashSet<_> = page.items.iter().map(|i| &i.external_id).collect();
        assert!(ids.len() >= 80, "{} distinct ids", ids.len());
    }

    #[test]
    fn reddit_thread_with_relative_links_and_times() {
        let page = parse_file("comments-reddit-thread.html", &row("comments-reddit-thread.html").selectors);
        assert_eq!(page.items.len(), 19);
        for item in &page.items {
            assert!(item.url.as_deref().unwrap().starts_with("http"), "{:?}", item.url);
            // "6 years ago" cannot be placed in time without a clock.
            assert_eq!(item.published, None);
            assert_eq!(item.author, None);
        }
    }

    #[test]
    fn wordpress_epoch_placeholder_datetime_falls_back_to_text() {
        let page = parse_file(
            "comments-wordpress-epoch-plugin.html",
            &row("comments-wordpress-epoch-plugin.html").selectors,
        );
        assert_eq!(page.items.len(), 13);
        assert_eq!(page.items[0].published, time("2017-03-10T00:20:00Z"));
        assert!(page.items.iter().all(|i| i.published.is_some()));
        assert_eq!(page.items.iter().filter(|i| i.author.is_some()).count(), 12);
    }

    #[test]
    fn wordpress_threaded_german() {
        let page = parse_file(
            "comments-wordpress-threaded-de.html",
            &row("comments-wordpress-threaded-de.html").selectors,
        );
        assert_eq!(page.items.len(), 74);
        let first = &page.items[0];
        assert_eq!(
            first.url.as_deref(),
            Some(
                "https://netzpolitik.org/2016/die-cider-connection-abmahnungen-gegen-nutzer-von-creative-commons-bildern/#comment-2058226"
            )
        );
        assert_eq!(first.published, time("2016-06-23T17:21:09+02:00"));
        assert!(text_of(first).contains("<p>selber blöd"));
        assert!(page.items.iter().all(|i| i.published.is_some() && i.author.is_some()));
    }

    #[test]
    fn xenforo_threads() {
        for (file, n, first_time) in [
            ("forum-xenforo-thread-de.html", 18, "2018-09-27T14:51:09+02:00"),
            ("forum-xenforo-thread-en.html", 9, "2020-09-18T08:56:40-07:00"),
        ] {
            let page = parse_file(file, &row(file).selectors);
            assert_eq!(page.items.len(), n, "{file}");
            // Offsets written without a colon (+0200).
            assert_eq!(page.items[0].published, time(first_time), "{file}");
            for item in &page.items {
                assert!(item.published.is_some() && item.author.is_some(), "{file}");
                assert!(item.url.as_deref().unwrap().contains("/post-"), "{file}: {:?}", item.url);
            }
        }
    }

    #[test]
    fn stack_exchange_answers() {
        let page =
            parse_file("qa-stackexchange-answers.html", &row("qa-stackexchange-answers.html").selectors);
        assert_eq!(page.items.len(), 6);
        assert!(page.items.iter().all(|i| i.published.is_some() && i.author.is_some() && i.url.is_some()));
        // A datetime without a zone is UTC.
        assert!(page.items.iter().any(|i| i.published == time("2014-02-06T23:35:45Z")));
    }

    #[test]
    fn trustpilot_review() {
        let page =
            parse_file("review-trustpilot-single.html", &row("review-trustpilot-single.html").selectors);
        assert_eq!(page.items.len(), 1);
        let review = &page.items[0];
        assert!(review.title.is_some() && review.author.is_some() && review.url.is_some());
        assert_eq!(review.published, None);
    }

    #[test]
    fn schema_org_reviews() {
        let page = parse_file(
            "reviews-schema-org-holiday-home.html",
            &row("reviews-schema-org-holiday-home.html").selectors,
        );
        // One review has a rating but no text, and there is no title.
        assert_eq!(page.items.len(), 5);
        assert_eq!(page.skipped, 1);
        assert!(page.items.iter().all(|i| i.published.is_some() && i.author.is_some()));
        assert!(page.items.iter().any(|i| i.published == time("2018-05-23T00:00:00Z")));
    }

    #[test]
    fn nothing_matched_or_bad_selectors_are_errors() {
        let url = page_url();
        let body = html_fixture("blog-index-single-author.html");
        let response = Response { url: &url, content_type: Some("text/html"), link: None, body: &body };
        let mut s = row("blog-index-single-author.html").selectors;
        s.item = "div.no-such-thing".into();
        assert!(matches!(parse(&response, &s), Err(SourceError::Malformed { .. })));
        s.item = "div[".into();
        let err = parse(&response, &s).unwrap_err();
        assert!(err.to_string().contains("selectors.item \"div[\""), "{err}");
        let mut s = row("blog-index-single-author.html").selectors;
        s.time = Some(":::".into());
        assert!(matches!(parse(&response, &s), Err(SourceError::Malformed { .. })));
    }

    #[test]
    fn links_resolve_against_the_page_and_base() {
        let s = HtmlSelectors {
            item: "li".into(),
            title: None,
            text: Some("p".into()),
            link: Some(".l".into()),
            author: None,
            time: None,
        };
        let url = Url::parse("http://127.0.0.1:8080/forum/thread/1").unwrap();
        let body = br##"<ul>
            <li><p>a</p><span class="l"><a href="../post/2#x">x</a></span></li>
            <li><p>b</p><a class="l" href="javascript:void(0)">x</a></li>
            <li><p>e</p><span class="l"><a name="top">x</a><a href="/e">y</a></span></li>
            <li><p>c</p><a class="l" href="#">x</a></li>
            <li><p></p></li>
            <li><p>d</p><a class="l" href="mailto:a@b.c">x</a></li></ul>"##;
        let page = parse(&Response { url: &url, content_type: None, link: None, body }, &s).unwrap();
        assert_eq!(page.items.len(), 5);
        assert_eq!(page.skipped, 1);
        assert_eq!(page.items[0].url.as_deref(), Some("http://127.0.0.1:8080/forum/post/2#x"));
        assert_eq!(page.items[2].url.as_deref(), Some("http://127.0.0.1:8080/e"));
        assert_eq!(page.items.iter().filter(|i| i.url.is_none()).count(), 3);
        assert_eq!(page.items[0].body, Body::Html("a".into()));

        let with_base = br#"<head><base href="https://cdn.example/b/"></head><li><p>a</p><a class="l" href="p/1">x</a></li>"#;
        let page =
            parse(&Response { url: &url, content_type: None, link: None, body: with_base }, &s).unwrap();
        assert_eq!(page.items[0].url.as_deref(), Some("https://cdn.example/b/p/1"));
    }

    #[test]
    fn text_nodes_join_before_whitespace_collapses() {
        let doc = Html::parse_fragment("<p> Mc<b>Donald</b>\n\t  &amp; <i>Co</i> </p>");
        let p = doc.select(&Selector::parse("p").unwrap()).next().unwrap();
        assert_eq!(plain_text(p), "McDonald & Co");
    }

    #[test]
    fn content_ids_are_stable_and_distinct() {
        assert_eq!(content_id(Some("t"), "x"), content_id(Some("t"), "x"));
        assert_ne!(content_id(Some("ab"), "c"), content_id(Some("a"), "bc"));
        assert_eq!(content_id(None, "").len(), 64);
    }

    #[test]
    fn time_formats() {
        let cases = [
            ("2016-06-23T17:21:09+02:00", "2016-06-23T15:21:09Z"),
            ("2018-09-27T14:51:09+0200", "2018-09-27T12:51:09Z"),
            ("2014-02-06T20:37:20", "2014-02-06T20:37:20Z"),
            ("2014-02-06 20:37:20.5", "2014-02-06T20:37:20.5Z"),
            ("2018-05-23", "2018-05-23T00:00:00Z"),
            ("23.06.2016", "2016-06-23T00:00:00Z"),
            ("23.06.2016 17:21", "2016-06-23T17:21:00Z"),
            ("Thu, 09 Mar 2017 18:16:02 -0400", "2017-03-09T22:16:02Z"),
            ("March 10, 2017 at 12:20 AM", "2017-03-10T00:20:00Z"),
            ("March 10, 2017 at 1:26 PM", "2017-03-10T13:26:00Z"),
            ("March  6, 2016  1:46 PM PT", "2016-03-06T21:46:00Z"),
            ("July 4, 2016 9:00 am ET", "2016-07-04T13:00:00Z"),
            ("04 Mar 2016", "2016-03-04T00:00:00Z"),
            ("Sep 18, 2020 at 8:56 AM", "2020-09-18T08:56:00Z"),
            ("Thursday, March 9, 2017", "2017-03-09T00:00:00Z"),
            ("9 March 2017 18:16", "2017-03-09T18:16:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text), time(expected), "{text}");
        }
        for text in [
            "",
            "comment_date",
            "6 years ago",
            "March 6, 2016 • 1 hour, 31 minutes",
            "23. Juni 2016",
            "13:45 XYZ",
        ] {
            assert_eq!(parse_time(text), None, "{text}");
        }
    }

    #[test]
    fn charsets() {
        assert_eq!(charset_param("text/html; charset=ISO-8859-1"), Some("ISO-8859-1"));
        assert_eq!(charset_param("text/html;CHARSET=\"utf-8\""), Some("utf-8"));
        assert_eq!(charset_param("text/html"), None);

        let latin1 = b"<div class=p><p>caf\xe9 cr\xe8me</p></div>";
        assert_eq!(
            decode(latin1, Some("text/html; charset=iso-8859-1")),
            "<div class=p><p>café crème</p></div>"
        );
        // Without a declared charset: UTF-8, bad bytes replaced, no failure.
        assert_eq!(decode(latin1, None), "<div class=p><p>caf\u{fffd} cr\u{fffd}me</p></div>");
        let meta = b"<html><head><meta charset=\"windows-1252\"></head><p>\x93hi\x94</p>";
        assert!(decode(meta, Some("text/html")).contains("\u{201c}hi\u{201d}"));
        let http_equiv =
            b"<meta http-equiv=Content-Type content='text/html; charset=koi8-r'><p>\xf0\xd2\xc9</p>";
        assert!(decode(http_equiv, None).contains("\u{41f}\u{440}\u{438}"));
        // A byte order mark wins over a wrong header.
        assert_eq!(decode(b"\xef\xbb\xbfcaf\xc3\xa9", Some("text/html; charset=iso-8859-1")), "café");
        // A UTF-16 meta claim in ASCII bytes is read as UTF-8.
        assert_eq!(decode(b"<meta charset=utf-16><p>\xc3\xa9", None), "<meta charset=utf-16><p>é");

        let s = HtmlSelectors {
            item: "div.p".into(),
            title: None,
            text: Some("p".into()),
            link: None,
            author: None,
            time: None,
        };
        let url = page_url();
        let response = Response {
            url: &url,
            content_type: Some("text/html; charset=iso-8859-1"),
            link: None,
            body: latin1,
        };
        let page = parse(&response, &s).unwrap();
        assert_eq!(page.items[0].body, Body::Html("café crème".into()));
    }

    #[test]
    fn truncated_and_garbage_bodies_do_not_panic() {
        for row in rows() {
            let body = html_fixture(&row.file);
            for end in (0..body.len()).step_by(body.len() / 7 + 1) {
                let url = page_url();
                let response =
                    Response { url: &url, content_type: Some("text/html"), link: None, body: &body[..end] };
                let _ = parse(&response, &row.selectors);
            }
        }
        let url = page_url();
        let s = row("blog-index-single-author.html").selectors;
        for body in [&b""[..], b"\xff\xfe\x00<", b"{\"json\": true}", b"<div class=weblogPost>"] {
            let response =
                Response { url: &url, content_type: Some("text/html; charset=bogus"), link: None, body };
            let _ = parse(&response, &s);
        }
    }
}
