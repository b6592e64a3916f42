//! From a source's [`RawItem`] to a [`Post`] ready to store: HTML to clean
//! text, Unicode NFKC, whitespace folded, language detected, canonical URL,
//! content hash, author handle hashed when the privacy settings say so.
//!
//! Everything here is a pure function of its input and never panics: it runs
//! on whatever the sources hand over, so malformed HTML, lone control
//! characters or absurd URLs give a best-effort result, not an error.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use scraper::{Html, Node};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use url::Url;

use crate::sources::{Body, Engagement, RawItem};

/// A post ready to be matched and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Stable id within the source.
    pub external_id: String,
    /// Canonical URL (tracking parameters and fragment stripped).
    pub url: Option<String>,
    /// Author handle, or its keyed hash.
    pub author: Option<String>,
    /// Title, normalised like the body.
    pub title: Option<String>,
    /// Clean text: NFKC, whitespace folded, paragraphs kept as line breaks.
    pub body: String,
    /// ISO 639-3 code (`eng`, `deu`, `cmn`, ...) or `unknown`.
    pub lang: String,
    /// Detector confidence in 0..=1, when a language was detected.
    pub lang_confidence: Option<f32>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Engagement counts.
    pub engagement: Engagement,
    /// SHA-256 of the normalised title and body: the cross-source dedupe key.
    pub content_hash: [u8; 32],
}

impl Post {
    /// The text brand matching reads: title, a line break, body.
    pub fn match_text(&self) -> String {
        match &self.title {
            Some(title) if !title.is_empty() => format!("{title}\n{}", self.body),
            _ => self.body.clone(),
        }
    }
}

/// The key of the keyed hash of author handles (`privacy.hash_author_handles`).
#[derive(Clone)]
pub struct AuthorKey(pub secrecy::SecretString);

/// Normalises one item; `author_key` set means author handles are stored hashed.
pub fn normalize(item: RawItem, author_key: Option<&AuthorKey>) -> Post {
    normalize_deferred(item, author_key).finish()
}

/// A normalised post whose language is not detected yet.
///
/// Language detection costs more than the rest of normalisation and
/// matching together, and most crawled posts mention no watched brand and
/// are dropped: the crawl matches first and detects the language only for
/// the posts it keeps ([`Pending::finish`]).
#[derive(Debug, Clone)]
pub struct Pending {
    /// The post, with `lang` still `unknown`.
    pub post: Post,
    lang_hint: Option<String>,
}

impl Pending {
    /// Detects the language and returns the finished post.
    pub fn finish(mut self) -> Post {
        let (lang, confidence) = match &self.post.title {
            // The title is often the only text of a link post, and helps a short body.
            Some(t) => detect_language(&format!("{t}\n{}", self.post.body), self.lang_hint.as_deref()),
            None => detect_language(&self.post.body, self.lang_hint.as_deref()),
        };
        self.post.lang = lang;
        self.post.lang_confidence = confidence;
        self.post
    }
}

/// Normalises one item except for its language (see [`Pending`]).
pub fn normalize_deferred(item: RawItem, author_key: Option<&AuthorKey>) -> Pending {
    let title = item.title.as_deref().map(clean_title).filter(|t| !t.is_empty());
    let body = match &item.body {
        Body::Html(html) => clean_text(&html_to_text(html)),
        Body::Text(text) => clean_text(text),
    };
    let content_hash = content_hash(title.as_deref(), &body);
    Pending {
        post: Post {
            external_id: item.external_id,
            url: item.url.as_deref().and_then(canonical_url),
            author: item.author.as_deref().and_then(|a| author_id(a, author_key)),
            title,
            body,
            lang: "unknown".to_owned(),
            lang_confidence: None,
            published_at: item.published,
            engagement: item.engagement,
            content_hash,
        },
        lang_hint: item.lang_hint,
    }
}

// ---------------------------------------------------------------------------
// Text cleaning
// ---------------------------------------------------------------------------

/// A title as stored: HTML and entities resolved (titles often carry them),
/// NFKC, control characters dropped, on one line.
pub fn clean_title(raw: &str) -> String {
    // Most titles are plain text: skip the HTML parser when nothing in the
    // title could be markup (also keeps a literal "a < b" intact).
    let text = if raw.contains(['<', '&']) { html_to_text(raw) } else { raw.to_owned() };
    tidy(&nfkc(&text), Lines::One)
}

/// Plain text as stored: NFKC, zero-width and control characters dropped,
/// runs of spaces folded, lines trimmed, at most one blank line in a row.
pub fn clean_text(text: &str) -> String {
    tidy(&nfkc(text), Lines::Keep)
}

/// NFKC, without copying text that is already normal (all ASCII and most
/// other text passes the quick check).
fn nfkc(text: &str) -> Cow<'_, str> {
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

/// Whether line breaks survive [`tidy`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// Keep them (at most one blank line in a row).
    Keep,
    /// Turn them into spaces (titles).
    One,
}

/// Folds whitespace and drops invisible characters in one pass.
fn tidy(text: &str, lines: Lines) -> String {
    let mut sink = TextSink::with_capacity(text.len());
    let mut after_cr = false;
    for c in text.chars() {
        let class = classify(c);
        // "\r\n" is one line break, not two.
        let lf_after_cr = after_cr && c == '\n';
        after_cr = c == '\r';
        match (class, lines) {
            (CharClass::Newline, Lines::Keep) if !lf_after_cr => sink.newline(),
            (CharClass::Newline, Lines::Keep) => {}
            (CharClass::Paragraph, Lines::Keep) => sink.block(2),
            (CharClass::Newline | CharClass::Paragraph | CharClass::Space, _) => sink.space(),
            (CharClass::Invisible, _) => {}
            (CharClass::Visible, _) => sink.push(c),
        }
    }
    sink.finish()
}

/// What [`tidy`] and the HTML walker do with a character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CharClass {
    /// Ends a line.
    Newline,
    /// Ends a paragraph (U+2029).
    Paragraph,
    /// Folds into one space with its neighbours.
    Space,
    /// Dropped: controls, zero-width and bidi formatting characters.
    Invisible,
    /// Kept as is.
    Visible,
}

fn classify(c: char) -> CharClass {
    match c {
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' => CharClass::Newline,
        '\u{2029}' => CharClass::Paragraph,
        c if c.is_whitespace() => CharClass::Space,
        c if c.is_control() || is_invisible_format(c) => CharClass::Invisible,
        _ => CharClass::Visible,
    }
}

/// Zero-width and bidi formatting characters that only hide or reorder text
/// (they defeat matching and hashing: "Kes\u{200B}trel" must read "Kestrel").
/// ZWJ (U+200D) and ZWNJ (U+200C) are kept on purpose: they join emoji
/// sequences and are part of Persian and Indic spelling.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'                    // soft hyphen
        | '\u{61C}'                 // Arabic letter mark
        | '\u{180E}'                // Mongolian vowel separator
        | '\u{200B}'                // zero-width space
        | '\u{200E}'..='\u{200F}'   // LRM, RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'   // bidi isolates, deprecated format chars
        | '\u{FEFF}'                // BOM / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
    )
}

/// Builds folded text: spaces and line breaks are held back until the next
/// visible character, so the output never has leading or trailing blank
/// space, runs of spaces, spaces at line ends or more than one blank line.
struct TextSink {
    out: String,
    /// Line breaks owed before the next character: 0, 1 or 2 (blank line).
    breaks: u8,
    /// A space owed before the next character (on the same line).
    space: bool,
}

impl TextSink {
    fn with_capacity(capacity: usize) -> Self {
        TextSink { out: String::with_capacity(capacity), breaks: 0, space: false }
    }

    fn push(&mut self, c: char) {
        if !self.out.is_empty() {
            if self.breaks > 0 {
                for _ in 0..self.breaks {
                    self.out.push('\n');
                }
            } else if self.space {
                self.out.push(' ');
            }
        }
        self.breaks = 0;
        self.space = false;
        self.out.push(c);
    }

    fn space(&mut self) {
        self.space = true;
    }

    /// A literal line break: two in a row make a blank line.
    fn newline(&mut self) {
        self.breaks = (self.breaks + 1).min(2);
    }

    /// A block boundary: at least `level` line breaks, never more than asked.
    fn block(&mut self, level: u8) {
        self.breaks = self.breaks.max(level);
    }

    /// Pushes HTML text: outside `<pre>` every whitespace is a space.
    fn push_html_text(&mut self, text: &str, preformatted: bool) {
        let mut after_cr = false;
        for c in text.chars() {
            let lf_after_cr = after_cr && c == '\n';
            after_cr = c == '\r';
            match classify(c) {
                CharClass::Newline if preformatted && !lf_after_cr => self.newline(),
                CharClass::Newline if preformatted => {}
                CharClass::Newline | CharClass::Paragraph | CharClass::Space => self.space(),
                CharClass::Invisible => {}
                CharClass::Visible => self.push(c),
            }
        }
    }

    fn finish(self) -> String {
        self.out
    }
}

// ---------------------------------------------------------------------------
// HTML to text
// ---------------------------------------------------------------------------

/// HTML (a fragment or a whole page) to clean text: entities decoded,
/// `script`/`style`/`noscript`/`template` (and other non-text elements)
/// dropped, block elements on their own lines, paragraphs separated by one
/// blank line, inline elements joined, whitespace folded.
///
/// This walks the DOM that `scraper` (html5ever, the browser-grade parser)
/// builds, rather than using `html2text`: configured for raw, unwrapped,
/// undecorated output, `html2text` still renders `noscript` content, glues
/// image titles to neighbouring text, returns an error for layouts it finds
/// too narrow, and took about 35 µs on a 500-byte post where parsing plus
/// this walk take about 10 µs. The walk is iterative, so deeply nested
/// input cannot overflow the stack.
pub fn html_to_text(html: &str) -> String {
    let doc = Html::parse_fragment(html);
    let mut walk = Walk { sink: TextSink::with_capacity(html.len()), pre_depth: 0 };
    let root = doc.tree.root();
    let Some(mut node) = root.first_child() else {
        return String::new();
    };
    'walk: loop {
        if walk.enter(node.value())
            && let Some(child) = node.first_child()
        {
            node = child;
            continue;
        }
        // Leave this node and every ancestor whose last child it was.
        loop {
            walk.leave(node.value());
            if let Some(next) = node.next_sibling() {
                node = next;
                continue 'walk;
            }
            match node.parent() {
                Some(parent) if parent.id() != root.id() => node = parent,
                _ => break 'walk,
            }
        }
    }
    walk.sink.finish()
}

/// State of the DOM walk in [`html_to_text`].
struct Walk {
    sink: TextSink,
    /// How many `<pre>` elements we are inside: there line breaks are kept.
    pre_depth: usize,
}

impl Walk {
    /// Handles the start of a node; false means its children are skipped.
    fn enter(&mut self, node: &Node) -> bool {
        match node {
            Node::Text(text) => {
                self.sink.push_html_text(text, self.pre_depth > 0);
                false
            }
            Node::Element(element) => {
                let name = element.name();
                if is_hidden_element(name) {
                    return false;
                }
                match name {
                    "br" => self.sink.newline(),
                    "pre" => self.pre_depth += 1,
                    // Table cells of a row share a line.
                    "td" | "th" => self.sink.space(),
                    _ => {}
                }
                if let Some(level) = block_level(name) {
                    self.sink.block(level);
                }
                true
            }
            _ => false,
        }
    }

    /// Handles the end of a node (also called for nodes whose children were skipped).
    fn leave(&mut self, node: &Node) {
        if let Node::Element(element) = node {
            let name = element.name();
            if is_hidden_element(name) {
                return;
            }
            if name == "pre" {
                self.pre_depth = self.pre_depth.saturating_sub(1);
            }
            if name == "td" || name == "th" {
                self.sink.space();
            }
            if let Some(level) = block_level(name) {
                self.sink.block(level);
            }
        }
    }
}

/// Elements whose content is not text a reader sees.
fn is_hidden_element(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "head"
            | "title"
            | "iframe"
            | "object"
            | "embed"
            | "svg"
            | "canvas"
            | "select"
            | "button"
    )
}

/// Line breaks a block element puts around itself: 2 (a blank line) for
/// paragraph-like blocks, 1 for other blocks; `None` for inline elements.
fn block_level(name: &str) -> Option<u8> {
    match name {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "pre" | "hr" | "table" | "figure"
        | "address" => Some(2),
        "div" | "li" | "ul" | "ol" | "dl" | "dt" | "dd" | "tr" | "caption" | "thead" | "tbody" | "tfoot"
        | "article" | "aside" | "section" | "header" | "footer" | "nav" | "main" | "details" | "summary"
        | "figcaption" | "fieldset" | "legend" | "form" | "center" | "hgroup" | "menu" | "option"
        | "textarea" | "search" | "body" | "html" => Some(1),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Language
// ---------------------------------------------------------------------------

/// Below this many letters a detection is a guess (CJK characters count
/// double: each carries about a syllable and their script alone is telling).
const MIN_LETTERS: usize = 20;

/// The detector reads at most this many bytes: more does not change the
/// answer for a post, it only costs time.
const DETECT_PREFIX_BYTES: usize = 1024;

/// The language of `text` as an ISO 639-3 code (`eng`, `deu`, `cmn`, `jpn`)
/// and the detector's confidence. Short or unreliably detected text falls
/// back to the source's BCP-47 `hint` (confidence `None`), else `unknown`.
/// The code always matches `^([a-z]{2,3}|unknown)$`.
pub fn detect_language(text: &str, hint: Option<&str>) -> (String, Option<f32>) {
    let sample = prefix(text, DETECT_PREFIX_BYTES);
    if has_enough_letters(sample)
        && let Some(info) = whatlang::detect(sample)
    {
        let code = info.lang().code();
        if info.is_reliable() && is_lang_code(code) {
            let confidence = info.confidence();
            let confidence = confidence.is_finite().then(|| confidence.clamp(0.0, 1.0) as f32);
            return (code.to_owned(), confidence);
        }
    }
    match hint.and_then(hint_to_639_3) {
        Some(code) => (code, None),
        None => ("unknown".to_owned(), None),
    }
}

fn has_enough_letters(text: &str) -> bool {
    let mut weight = 0;
    for c in text.chars() {
        if is_cjk(c) {
            weight += 2;
        } else if c.is_alphabetic() {
            weight += 1;
        }
        if weight >= MIN_LETTERS {
            return true;
        }
    }
    false
}

/// Han, kana and Hangul.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3040..=0x30FF
        | 0x3130..=0x318F | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn is_lang_code(code: &str) -> bool {
    (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase())
}

/// A BCP-47 tag (`en`, `de-DE`, `zh_Hant`, `fil`) to an ISO 639-3 code, using
/// whatlang's choices where a macrolanguage has several (`zh` → `cmn`,
/// `fa` → `pes`, `no` → `nob`) so hinted and detected posts agree.
pub fn hint_to_639_3(hint: &str) -> Option<String> {
    let primary = hint.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    match primary.len() {
        2 => iso_639_1_to_3(&primary).map(str::to_owned),
        // Already 639-3 (or 639-2), except the codes that name no language.
        3 if !matches!(primary.as_str(), "und" | "mul" | "mis" | "zxx") => Some(primary),
        _ => None,
    }
}

fn iso_639_1_to_3(code: &str) -> Option<&'static str> {
    Some(match code {
        "af" => "afr",
        "ak" => "aka",
        "am" => "amh",
        "ar" => "ara",
        "az" => "aze",
        "be" => "bel",
        "bg" => "bul",
        "bn" => "ben",
        "bs" => "bos",
        "ca" => "cat",
        "cs" => "ces",
        "cy" => "cym",
        "da" => "dan",
        "de" => "deu",
        "el" => "ell",
        "en" => "eng",
        "eo" => "epo",
        "es" => "spa",
        "et" => "est",
        "eu" => "eus",
        "fa" => "pes",
        "fi" => "fin",
        "fr" => "fra",
        "ga" => "gle",
        "gl" => "glg",
        "gu" => "guj",
        "he" | "iw" => "heb",
        "hi" => "hin",
        "hr" => "hrv",
        "hu" => "hun",
        "hy" => "hye",
        "id" | "in" => "ind",
        "is" => "isl",
        "it" => "ita",
        "ja" => "jpn",
        "jv" => "jav",
        "ka" => "kat",
        "kk" => "kaz",
        "km" => "khm",
        "kn" => "kan",
        "ko" => "kor",
        "la" => "lat",
        "lt" => "lit",
        "lv" => "lav",
        "mk" => "mkd",
        "ml" => "mal",
        "mr" => "mar",
        "ms" => "msa",
        "my" => "mya",
        "nb" | "no" => "nob",
        "ne" => "nep",
        "nl" => "nld",
        "nn" => "nno",
        "or" => "ori",
        "pa" => "pan",
        "pl" => "pol",
        "pt" => "por",
        "ro" => "ron",
        "ru" => "rus",
        "si" => "sin",
        "sk" => "slk",
        "sl" => "slv",
        "sn" => "sna",
        "sq" => "sqi",
        "sr" => "srp",
        "sv" => "swe",
        "sw" => "swa",
        "ta" => "tam",
        "te" => "tel",
        "th" => "tha",
        "tk" => "tuk",
        "tl" => "tgl",
        "tr" => "tur",
        "uk" => "ukr",
        "ur" => "urd",
        "uz" => "uzb",
        "vi" => "vie",
        "yi" => "yid",
        "zh" => "cmn",
        "zu" => "zul",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Canonical URL
// ---------------------------------------------------------------------------

/// Query parameters that only track a click, on any host: `utm_*` plus these
/// (ad click ids of Google, Facebook, Microsoft, Twitter, TikTok, LinkedIn,
/// Yandex; Instagram share ids; Mailchimp, HubSpot and Marketo mail tracking;
/// Google Analytics linker; Google Shopping result ids). Each is unambiguous:
/// no site uses these names for content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "yclid",
    "igshid",
    "igsh",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "__hstc",
    "__hssc",
    "__hsfp",
    "mkt_tok",
    "_ga",
    "_gl",
    "srsltid",
    "ref_src",
];

/// Short names that are tracking on these hosts (and their subdomains) only:
/// elsewhere `si`, `s`, `t` or `spm` may well select content.
const HOST_TRACKING_PARAMS: &[(&str, &[&str])] = &[
    ("youtube.com", &["si", "pp"]),
    ("youtu.be", &["si", "pp"]),
    ("spotify.com", &["si"]),
    ("twitter.com", &["s", "t", "ref_url"]),
    ("x.com", &["s", "t", "ref_url"]),
    ("taobao.com", &["spm"]),
    ("tmall.com", &["spm"]),
    ("aliexpress.com", &["spm"]),
];

/// The canonical form of a post's URL, for display and dedupe: `None` unless
/// it parses as http(s) with a host. Scheme and host lower-cased, default
/// port dropped (both by the `url` crate), fragment removed, tracking
/// parameters removed (`utm_*`, the click ids in `TRACKING_PARAMS`, a few
/// per-host ones in `HOST_TRACKING_PARAMS`), the other parameters kept in
/// order and byte for byte, an empty query removed.
pub fn canonical_url(url: &str) -> Option<String> {
    let mut parsed = Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    parsed.set_fragment(None);
    let query = parsed.query().map(|query| {
        query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking_param(pair, &host))
            .collect::<Vec<_>>()
            .join("&")
    });
    if let Some(query) = query {
        parsed.set_query(if query.is_empty() { None } else { Some(&query) });
    }
    Some(parsed.into())
}

/// Whether one `key=value` pair of a query is tracking.
fn is_tracking_param(pair: &str, host: &str) -> bool {
    let raw_key = pair.split('=').next().unwrap_or(pair);
    let key = percent_encoding::percent_decode_str(raw_key).decode_utf8_lossy().to_ascii_lowercase();
    if key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str()) {
        return true;
    }
    HOST_TRACKING_PARAMS
        .iter()
        .any(|(domain, params)| host_is_within(host, domain) && params.contains(&key.as_str()))
}

fn host_is_within(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

// ---------------------------------------------------------------------------
// Content hash
// ---------------------------------------------------------------------------

/// SHA-256 of the title, a line break and the body, lower-cased and with
/// every whitespace run (line breaks included) folded to one space and
/// trimmed, so a post syndicated with other line wrapping, spacing or
/// capitalisation hashes the same. Pass normalised text (see [`normalize`]).
pub fn content_hash(title: Option<&str>, body: &str) -> [u8; 32] {
    let mut folded = String::with_capacity(title.map_or(0, str::len) + 1 + body.len());
    let mut space = false;
    for c in title.unwrap_or("").chars().chain(std::iter::once('\n')).chain(body.chars()) {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !folded.is_empty() {
            folded.push(' ');
        }
        space = false;
        folded.extend(c.to_lowercase());
    }
    Sha256::digest(folded.as_bytes()).into()
}

// ---------------------------------------------------------------------------
// Author
// ---------------------------------------------------------------------------

/// Prefix of a hashed author handle, so it is never mistaken for a handle.
pub const AUTHOR_HASH_PREFIX: &str = "h:";

/// The author as stored: with a key, `h:` and the lowercase hex of
/// HMAC-SHA256(key, trimmed lower-cased handle), so one person keeps one id
/// without the handle being stored; without a key, the trimmed handle as
/// published. An empty handle gives `None`.
pub fn author_id(handle: &str, key: Option<&AuthorKey>) -> Option<String> {
    let handle = handle.trim();
    if handle.is_empty() {
        return None;
    }
    let Some(key) = key else {
        return Some(handle.to_owned());
    };
    // HMAC accepts keys of any length, so this never fails; if it did, storing
    // nothing is the safe side of a privacy setting.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.0.expose_secret().as_bytes()).ok()?;
    mac.update(handle.to_lowercase().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(AUTHOR_HASH_PREFIX.len() + 2 * digest.len());
    out.push_str(AUTHOR_HASH_PREFIX);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    Some(out)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    fn item(body: Body) -> RawItem {
        RawItem {
            external_id: "id-1".into(),
            url: None,
            author: None,
            title: None,
            body,
            published: None,
            engagement: Engagement::default(),
            lang_hint: None,
        }
    }

    fn key(secret: &str) -> AuthorKey {
        AuthorKey(secrecy::SecretString::from(secret.to_owned()))
    }

    #[test]
    fn html_drops_scripts_and_decodes_entities() {
        let html = "<p>Hello &amp; <b>world</b> &eacute;&#233;&#x1F600;</p>\
            <script>var x = '<p>no</p>';</script><style>p { color: red }</style>\
            <noscript>enable js</noscript><template><p>tpl</p></template>\
            <div>Second<br>line</div>";
        assert_eq!(html_to_text(html), "Hello & world éé😀\n\nSecond\nline");
    }

    #[test]
    fn html_nested_blocks_lists_tables_and_pre() {
        let html = "\n  <div>\n    <div><p>  First   paragraph\n  wraps\there. </p></div>\n\
            <ul>\n <li>one</li>\n <li>two <a href=\"https://x.example\">link</a></li>\n</ul>\n\
            <blockquote><p>quoted</p></blockquote>\n<h2>Head</h2>\
            <pre>  code\n   here\n\n\n\nend</pre>\
            <table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>\
            <p>x<br><br><br><br>y</p>in<span>line</span> <em>joined</em></div>  ";
        assert_eq!(
            html_to_text(html),
            "First paragraph wraps here.\n\none\ntwo link\n\nquoted\n\nHead\n\ncode\nhere\n\nend\n\n\
             a b\nc\n\nx\n\ny\n\ninline joined"
        );
    }

    #[test]
    fn html_edge_cases() {
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("   \n\t "), "");
        assert_eq!(html_to_text("<p></p><div><br></div>"), "");
        assert_eq!(html_to_text("I <3 it &bogus; &lt;b&gt;"), "I <3 it &bogus; <b>");
        assert_eq!(html_to_text("<p>unclosed <b>bold <i>both"), "unclosed bold both");
        assert_eq!(html_to_text("a<!-- comment -->b"), "ab");
        let deep = "<div>".repeat(20_000) + "deep" + &"</div>".repeat(20_000);
        assert_eq!(html_to_text(&deep), "deep");
    }

    #[test]
    fn nfkc_and_invisible_characters() {
        assert_eq!(clean_text("ＡＢＣ ﬁne"), "ABC fine");
        assert_eq!(clean_text("Kes\u{200B}trel\u{FEFF} \u{202E}x\u{7}y"), "Kestrel xy");
        assert_eq!(clean_text("a\u{00A0}\u{3000}b\tc"), "a b c");
        // Emoji ZWJ sequences stay whole.
        assert_eq!(clean_text("👨\u{200D}👩\u{200D}👧"), "👨\u{200D}👩\u{200D}👧");
    }

    #[test]
    fn plain_text_whitespace_folding() {
        assert_eq!(clean_text("\n\n  a  b \r\n\r\n\r\n c\n\n\n\n d  \n\n"), "a b\n\nc\n\nd");
        assert_eq!(clean_text("one\r\ntwo\rthree"), "one\ntwo\nthree");
        assert_eq!(clean_text(" \u{2029} "), "");
    }

    #[test]
    fn titles_are_one_clean_line() {
        assert_eq!(clean_title("  Tom &amp; Jerry <b>review</b>\n part 2 "), "Tom & Jerry review part 2");
        assert_eq!(clean_title("x < y and ＦＵＬＬ"), "x < y and FULL");
    }

    #[test]
    fn normalize_html_item() {
        let mut raw = item(Body::Html(
            "<p>Meine neue Kamera ist wirklich großartig, die Bilder sind scharf und die \
             Farben natürlich.</p><p>Der Akku hält zwei Tage.</p>"
                .into(),
        ));
        raw.title = Some("Erfahrungsbericht &ndash; Kamera".into());
        raw.url = Some("HTTPS://Example.COM:443/a?utm_source=x&id=3#top".into());
        raw.author = Some("  Jane  ".into());
        let post = normalize(raw, None);
        assert_eq!(post.title.as_deref(), Some("Erfahrungsbericht – Kamera"));
        assert!(post.body.ends_with("natürlich.\n\nDer Akku hält zwei Tage."), "{}", post.body);
        assert_eq!(post.lang, "deu");
        assert!(post.lang_confidence.is_some_and(|c| (0.0..=1.0).contains(&c)));
        assert_eq!(post.url.as_deref(), Some("https://example.com/a?id=3"));
        assert_eq!(post.author.as_deref(), Some("Jane"));
        assert_eq!(post.external_id, "id-1");
        assert_eq!(post.content_hash, content_hash(post.title.as_deref(), &post.body));
    }

    #[test]
    fn normalize_text_item_and_empty_fields() {
        let mut raw = item(Body::Text("  ＨＥＬＬＯ <b>kept</b>  \n\n\n x ".into()));
        raw.title = Some("   ".into());
        raw.author = Some(" ".into());
        raw.url = Some("not a url".into());
        let post = normalize(raw, None);
        assert_eq!(post.body, "HELLO <b>kept</b>\n\nx");
        assert_eq!(post.title, None);
        assert_eq!(post.author, None);
        assert_eq!(post.url, None);
        assert_eq!(post.lang, "unknown");
        assert_eq!(post.lang_confidence, None);
    }

    #[test]
    fn language_detection() {
        let cases = [
            ("The battery on this phone lasts two full days and the camera is excellent.", "eng"),
            ("Das Telefon ist wirklich gut, aber der Akku könnte länger halten als zwei Tage.", "deu"),
            ("このスマートフォンのカメラはとても綺麗で、バッテリーも長持ちします。", "jpn"),
            ("这款手机的电池续航非常好，拍照效果也很出色，我很满意。", "cmn"),
        ];
        for (text, want) in cases {
            let (lang, confidence) = detect_language(text, None);
            assert_eq!(lang, want, "{text}");
            assert!(confidence.is_some_and(|c| c > 0.0 && c <= 1.0), "{text}");
        }
    }

    #[test]
    fn language_short_text_and_hints() {
        assert_eq!(detect_language("lol ok 👍", None), ("unknown".to_owned(), None));
        assert_eq!(detect_language("", None), ("unknown".to_owned(), None));
        assert_eq!(detect_language("lol ok 👍", Some("de-DE")), ("deu".to_owned(), None));
        assert_eq!(detect_language("so good", Some("ja")), ("jpn".to_owned(), None));
        assert_eq!(detect_language("so good", Some("zh_Hant")), ("cmn".to_owned(), None));
        assert_eq!(detect_language("so good", Some("fil")), ("fil".to_owned(), None));
        assert_eq!(detect_language("so good", Some("und")), ("unknown".to_owned(), None));
        assert_eq!(detect_language("so good", Some("x1")), ("unknown".to_owned(), None));
        assert_eq!(detect_language("so good", Some("")), ("unknown".to_owned(), None));
        // A reliable detection wins over the hint.
        let text = "The battery on this phone lasts two full days and the camera is excellent.";
        assert_eq!(detect_language(text, Some("fr")).0, "eng");
    }

    #[test]
    fn language_codes_always_match_the_pattern() {
        let texts = ["Привет, как дела? Телефон отличный, камера хорошая.", "١٢٣", "🙂🙂🙂", "a"];
        let hints = [None, Some("ru"), Some("EN-us"), Some("ÄÖ"), Some("-"), Some("toolong")];
        for text in texts {
            for hint in hints {
                let (lang, _) = detect_language(text, hint);
                let ok = lang == "unknown"
                    || ((2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase()));
                assert!(ok, "{lang:?} for {text:?} / {hint:?}");
            }
        }
    }

    #[test]
    fn canonical_urls() {
        let cases = [
            (
                "https://Example.COM/path/Page?utm_source=tw&utm_medium=social&b=2&a=1&fbclid=abc#frag",
                Some("https://example.com/path/Page?b=2&a=1"),
            ),
            ("http://example.com:80/x", Some("http://example.com/x")),
            ("https://example.com:443/x", Some("https://example.com/x")),
            ("https://example.com:8443/x", Some("https://example.com:8443/x")),
            ("https://example.com/x?", Some("https://example.com/x")),
            ("https://example.com/x?utm_campaign=a&gclid=b", Some("https://example.com/x")),
            ("https://example.com/x?q=a%20b&&UTM_Term=z&p=1", Some("https://example.com/x?q=a%20b&p=1")),
            ("https://example.com/?si=keep&s=keep", Some("https://example.com/?si=keep&s=keep")),
            ("https://www.youtube.com/watch?v=abc&si=XYZ", Some("https://www.youtube.com/watch?v=abc")),
            ("https://youtu.be/abc?si=XYZ&t=42", Some("https://youtu.be/abc?t=42")),
            ("https://x.com/u/status/1?s=20&t=abc", Some("https://x.com/u/status/1")),
            ("  https://example.com  ", Some("https://example.com/")),
            ("ftp://example.com/file", None),
            ("mailto:someone@example.com", None),
            ("not a url", None),
            ("", None),
            ("/relative/path", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_url(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn content_hash_ignores_formatting_not_text() {
        let a = content_hash(Some("Kestrel X200 review"), "Great phone.\n\nBattery  lasts.");
        let b = content_hash(Some("  kestrel x200 REVIEW "), "great phone. battery\tlasts. ");
        let c = content_hash(Some("Kestrel X200 review"), "Great phone.\n\nBattery died.");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(content_hash(None, "a b"), content_hash(None, "ab"));
    }

    #[test]
    fn author_handles_plain_and_hashed() {
        assert_eq!(author_id("  @Jane ", None).as_deref(), Some("@Jane"));
        assert_eq!(author_id("   ", Some(&key("k1"))), None);
        let one = author_id("@Jane", Some(&key("k1"))).unwrap_or_default();
        assert!(one.starts_with("h:"));
        assert_eq!(one.len(), 2 + 64);
        assert!(one[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // Case and surrounding space do not make a new person; another key does.
        assert_eq!(author_id(" @JANE  ", Some(&key("k1"))).as_deref(), Some(one.as_str()));
        assert_ne!(author_id("@Jane", Some(&key("k2"))).as_deref(), Some(one.as_str()));
        assert_ne!(author_id("@John", Some(&key("k1"))).as_deref(), Some(one.as_str()));
        let mut raw = item(Body::Text("x".into()));
        raw.author = Some("@Jane".into());
        assert_eq!(normalize(raw, Some(&key("k1"))).author.as_deref(), Some(one.as_str()));
    }

    #[test]
    fn hmac_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            author_id("what do ya want for nothing?", Some(&key("Jefe"))).as_deref(),
            Some("h:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let odd = [
            "",
            "\0",
            "<",
            "<<<>>>",
            "&",
            "&#xFFFFFFFF;",
            "&#0;",
            "<svg><title>x</title></svg>",
            "<pre>",
            "</pre></pre>",
            "<table><td>",
            "\u{FEFF}",
            "\r",
            "\r\n\r",
            "İ",
            "ß",
            "🏳️‍🌈",
            "<math><mi>x</mi></math>",
            "<select><option>a</option></select>",
            "a\u{0}b",
            "<template><template>x</template></template>y",
            "<plaintext>a<b>c",
            "<xmp><b>",
        ];
        for s in odd {
            let _ = html_to_text(s);
            let _ = clean_text(s);
            let _ = clean_title(s);
            let _ = detect_language(s, Some(s));
            let _ = canonical_url(s);
            let _ = canonical_url(&format!("https://example.com/?{s}={s}#{s}"));
            let _ = author_id(s, Some(&key(s)));
            for body in [Body::Html(s.into()), Body::Text(s.into())] {
                let mut raw = item(body);
                raw.title = Some(s.into());
                raw.url = Some(s.into());
                raw.lang_hint = Some(s.into());
                let _ = normalize(raw, None);
            }
        }
    }

    /// Not a test of speed (timings are not asserted): prints the cost of
    /// `normalize` on a typical post. `cargo test --release --lib
    /// normalize::tests::timing -- --nocapture --ignored`.
    #[test]
    #[ignore]
    fn timing() {
        let html = "<p>Just got my new <a href=\"https://example.com/x200\">Kestrel X200</a> and \
            honestly the battery life is &quot;insane&quot; &mdash; two full days with heavy use. \
            The camera is great in daylight but struggles at night.</p><p>Compared to my old \
            Orbix phone the screen is brighter, and the <em>firmware update</em> last week fixed \
            the Bluetooth drops I had with my Lumio Audio earbuds.</p><ul><li>Battery: 5/5</li>\
            <li>Camera: 3/5</li><li>Screen: 4/5</li></ul><p>Would I recommend it? Yes, if you \
            don&#39;t shoot a lot at night.</p>";
        let mut raw = item(Body::Html(html.into()));
        raw.title = Some("Kestrel X200 after two weeks".into());
        raw.url = Some("https://blog.example.com/x200?utm_source=rss&id=7".into());
        raw.author = Some("jane".into());
        raw.lang_hint = Some("en".into());
        let k = key("secret");
        let n = 5_000;
        for (label, body) in [("html", raw.body.clone()), ("text", Body::Text(html_to_text(html)))] {
            let mut one = raw.clone();
            one.body = body;
            let start = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(normalize(std::hint::black_box(one.clone()), Some(&k)));
            }
            println!("normalize ({label}, {} bytes): {:?} per post", html.len(), start.elapsed() / n);
        }
        let text = html_to_text(html);
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(html_to_text(std::hint::black_box(html)));
        }
        println!("  html_to_text: {:?}", start.elapsed() / n);
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(detect_language(std::hint::black_box(&text), None));
        }
        println!("  detect_language: {:?}", start.elapsed() / n);
    }
}
