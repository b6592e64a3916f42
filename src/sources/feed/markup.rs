//! Text-level fixes for feeds feed-rs cannot read as they are: old dialects it
//! does not know (rewritten into ones it does before the first parse) and
//! lexical faults that make the XML ill-formed (repaired only after a strict
//! parse failed).
//!
//! The tokenizer here is deliberately small: it splits markup from text well
//! enough to repair it, and leaves real XML parsing to feed-rs.

use std::borrow::Cow;

use super::entities;

/// The RSS 1.0 namespace, which feed-rs reads as RSS.
const RSS1_NS: &str = "http://purl.org/rss/1.0/";
/// RSS 0.90's namespace: the same shape as RSS 1.0, which feed-rs does not know.
const RSS090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
/// The Atom 1.0 namespace.
const ATOM10_NS: &str = "http://www.w3.org/2005/Atom";
/// Atom 0.3's namespace.
const ATOM03_NS: &str = "http://purl.org/atom/ns#";

/// What a piece of the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Character data (may start with a stray `<` that opens no markup).
    Text,
    /// `<name ...>`
    Start,
    /// `<name .../>`
    Empty,
    /// `</name>`
    End,
    /// `<!-- ... -->`
    Comment,
    /// `<![CDATA[ ... ]]>`
    CData,
    /// `<? ... ?>`
    Pi,
    /// `<!DOCTYPE ...>` and other `<!` declarations.
    Doctype,
    /// Markup that the document ends inside of: the body was cut off.
    Partial,
}

/// One piece of the document.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind,
    /// The exact source text.
    pub(super) raw: &'a str,
    /// The element name (with any prefix) for `Start`, `Empty` and `End`.
    pub(super) name: &'a str,
}

/// Splits a document into [`Token`]s. All positions it cuts at are ASCII
/// delimiters, so slicing never splits a UTF-8 sequence.
pub(super) struct Tokens<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Tokens { src, pos: 0 }
    }

    fn take(&mut self, len: usize, kind: Kind, name: &'a str) -> Token<'a> {
        let raw = &self.src[self.pos..self.pos + len];
        self.pos += len;
        Token { kind, raw, name }
    }

    /// Markup closed by `terminator`, or `Partial` up to the end.
    fn delimited(&mut self, rest: &str, skip: usize, terminator: &str, kind: Kind) -> Token<'a> {
        match rest[skip..].find(terminator) {
            Some(end) => self.take(skip + end + terminator.len(), kind, ""),
            None => self.take(rest.len(), Kind::Partial, ""),
        }
    }

    /// A `<!DOCTYPE` declaration, which may carry an internal subset in `[...]`.
    fn doctype(&mut self, rest: &str) -> Token<'a> {
        let end = match (rest.find('['), rest.find('>')) {
            (Some(bracket), Some(gt)) if bracket < gt => rest[bracket..]
                .find(']')
                .and_then(|close| rest[bracket + close..].find('>').map(|gt| bracket + close + gt)),
            (_, gt) => gt,
        };
        match end {
            Some(end) => self.take(end + 1, Kind::Doctype, ""),
            None => self.take(rest.len(), Kind::Partial, ""),
        }
    }

    /// A start, empty-element or end tag; quoted attribute values may hold `>`.
    fn tag(&mut self, rest: &'a str, end_tag: bool) -> Token<'a> {
        let name_start = if end_tag { 2 } else { 1 };
        let name_len = rest[name_start..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len() - name_start);
        let name = &rest[name_start..name_start + name_len];
        let mut quote = None;
        for (index, byte) in rest.bytes().enumerate().skip(name_start + name_len) {
            match (quote, byte) {
                (Some(open), _) if byte == open => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') if !end_tag => quote = Some(byte),
                (None, b'>') => {
                    let kind = if end_tag {
                        Kind::End
                    } else if rest.as_bytes()[index - 1] == b'/' {
                        Kind::Empty
                    } else {
                        Kind::Start
                    };
                    return self.take(index + 1, kind, name);
                }
                // A `<` before the tag closed: what looked like a tag was
                // text with a stray `<` (repaired as `&lt;`).
                (None, b'<') => return self.take(index, Kind::Text, ""),
                _ => {}
            }
        }
        self.take(rest.len(), Kind::Partial, "")
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let src: &'a str = self.src;
        let rest: &'a str = src.get(self.pos..).filter(|rest| !rest.is_empty())?;
        if !rest.starts_with('<') {
            let len = rest.find('<').unwrap_or(rest.len());
            return Some(self.take(len, Kind::Text, ""));
        }
        let token = if rest.starts_with("<!--") {
            self.delimited(rest, 4, "-->", Kind::Comment)
        } else if rest.starts_with("<![CDATA[") {
            self.delimited(rest, 9, "]]>", Kind::CData)
        } else if rest.starts_with("<!") {
            self.doctype(rest)
        } else if rest.starts_with("<?") {
            self.delimited(rest, 2, "?>", Kind::Pi)
        } else if rest.starts_with("</") {
            self.tag(rest, true)
        } else if rest[1..].starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':') {
            self.tag(rest, false)
        } else {
            // A `<` that opens nothing: text (ill-formed, repaired as `&lt;`).
            let len = rest[1..].find('<').map_or(rest.len(), |next| next + 1);
            self.take(len, Kind::Text, "")
        };
        Some(token)
    }
}

/// The name without its namespace prefix.
pub(super) fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

/// The document's root element: the first tag after the prolog, if the prolog
/// holds nothing but whitespace, comments, processing instructions and a
/// doctype.
pub(super) fn root_tag(text: &str) -> Option<(usize, Token<'_>)> {
    let mut offset = 0;
    for token in Tokens::new(text) {
        match token.kind {
            Kind::Start | Kind::Empty => return Some((offset, token)),
            Kind::Comment | Kind::Pi | Kind::Doctype => {}
            Kind::Text if token.raw.trim().is_empty() => {}
            _ => return None,
        }
        offset += token.raw.len();
    }
    None
}

/// The local name of the root element, if the document has one.
pub(super) fn root_name(text: &str) -> Option<&str> {
    root_tag(text).map(|(_, root)| local_name(root.name))
}

/// One attribute of a tag: its name, value and where the value sits in the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Attribute<'a> {
    pub(super) name: &'a str,
    pub(super) value: &'a str,
    pub(super) value_start: usize,
}

/// The attributes of a start tag (`raw` is the whole tag). Values are raw
/// (entities not expanded); a malformed attribute ends the list.
pub(super) fn attributes(raw: &str) -> Vec<Attribute<'_>> {
    let bytes = raw.as_bytes();
    let mut attrs = Vec::new();
    let mut pos = raw.find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/').unwrap_or(raw.len());
    loop {
        while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b'/') {
            pos += 1;
        }
        let name_start = pos;
        while pos < bytes.len()
            && !matches!(bytes[pos], b'=' | b'>' | b'/')
            && !bytes[pos].is_ascii_whitespace()
        {
            pos += 1;
        }
        let name_end = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if name_end == name_start || pos >= bytes.len() || bytes[pos] != b'=' {
            return attrs;
        }
        pos += 1;
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let Some(&quote) = bytes.get(pos).filter(|&&b| b == b'"' || b == b'\'') else {
            return attrs;
        };
        let value_start = pos + 1;
        let Some(len) = bytes[value_start..].iter().position(|&b| b == quote) else {
            return attrs;
        };
        attrs.push(Attribute {
            name: &raw[name_start..name_end],
            value: &raw[value_start..value_start + len],
            value_start,
        });
        pos = value_start + len + 1;
    }
}

/// A splice: replace `range` of the text by `with`.
struct Edit {
    at: usize,
    len: usize,
    with: &'static str,
}

/// Rewrites dialects feed-rs does not read into ones it does, judging by the
/// root element; the text is borrowed unchanged for everything else.
///
/// - RSS 0.90 (`rdf:RDF` in Netscape's 0.9 namespace): the namespace becomes
///   RSS 1.0's, whose structure 0.90 shares.
/// - `<rss>` with an unknown default namespace (UserLand's `rss2`, some
///   Russian feeds): the namespace becomes one feed-rs reads as RSS.
/// - `<rss>` with no or an unknown `version` (`0.93`, `2.01`...): read as 2.0.
/// - Atom 0.3: see [`atom03_to_atom10`].
pub(super) fn prepare(text: &str) -> Cow<'_, str> {
    let Some((offset, root)) = root_tag(text) else {
        return Cow::Borrowed(text);
    };
    let attrs = attributes(root.raw);
    let value_of = |name: &str| attrs.iter().find(|attr| attr.name == name);
    let mut edits = Vec::new();
    let mut atom03 = false;
    let mut replace_ns = |attr: &Attribute<'_>, with: &'static str| {
        edits.push(Edit { at: offset + attr.value_start, len: attr.value.len(), with });
    };
    match local_name(root.name) {
        "rss" => {
            if let Some(ns) = value_of("xmlns").filter(|ns| ns.value != RSS1_NS) {
                replace_ns(ns, RSS1_NS);
            }
            match value_of("version") {
                Some(version) if matches!(version.value, "2.0" | "0.91" | "0.92" | "") => {}
                Some(version) => replace_ns(version, "2.0"),
                None => {
                    edits.push(Edit { at: offset + 1 + root.name.len(), len: 0, with: " version=\"2.0\"" })
                }
            }
        }
        "RDF" => {
            if let Some(ns) = value_of("xmlns").filter(|ns| ns.value == RSS090_NS) {
                replace_ns(ns, RSS1_NS);
            }
        }
        "feed" => {
            let old_ns = value_of("xmlns").filter(|ns| ns.value == ATOM03_NS);
            let old_version = value_of("version").is_some_and(|v| v.value.starts_with("0."));
            if let Some(ns) = old_ns {
                replace_ns(ns, ATOM10_NS);
            }
            atom03 = old_ns.is_some() || old_version;
        }
        _ => {}
    }
    let mut out = if edits.is_empty() { Cow::Borrowed(text) } else { Cow::Owned(apply_edits(text, &edits)) };
    if atom03 {
        out = Cow::Owned(atom03_to_atom10(&out));
    }
    if matches!(local_name(root.name), "rss" | "RDF") {
        for element in ["description", "content:encoded"] {
            if let Some(wrapped) = wrap_raw_markup(&out, element) {
                out = Cow::Owned(wrapped);
            }
        }
    }
    out
}

fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut copied = 0;
    for edit in edits {
        out.push_str(&text[copied..edit.at]);
        out.push_str(edit.with);
        copied = edit.at + edit.len;
    }
    out.push_str(&text[copied..]);
    out
}

/// Wraps the content of every `element` that holds raw (unescaped) HTML
/// elements in a CDATA section. RSS text elements are HTML carried as text;
/// some feeds write the HTML as markup instead, and feed-rs then keeps only
/// the text before the first tag. `None` when no element needed it.
fn wrap_raw_markup(text: &str, element: &str) -> Option<String> {
    let open = format!("<{element}");
    let close = format!("</{element}");
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find(&open) {
        let tag_start = search + found;
        let after_name = tag_start + open.len();
        search = after_name;
        // `<descriptionX` is another element.
        if !text[after_name..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            continue;
        }
        let Some(gt) = text[after_name..].find('>') else { break };
        let content_start = after_name + gt + 1;
        if text[..content_start].ends_with("/>") {
            continue;
        }
        let Some(len) = text[content_start..].find(&close) else { break };
        let content = &text[content_start..content_start + len];
        search = content_start + len;
        if has_raw_markup(content) {
            let buffer = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
            buffer.push_str(&text[copied..content_start]);
            push_as_cdata(buffer, content);
            copied = content_start + len;
        }
    }
    let mut buffer = out?;
    buffer.push_str(&text[copied..]);
    Some(buffer)
}

/// Whether element content holds a tag outside CDATA sections.
fn has_raw_markup(content: &str) -> bool {
    let mut rest = content;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            match cdata.find("]]>") {
                Some(end) => rest = &cdata[end + 3..],
                None => return false,
            }
        } else if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') {
            return true;
        } else {
            rest = &rest[1..];
        }
    }
    false
}

/// Writes content as one CDATA section: CDATA sections inside it are opened
/// up (they cannot nest) and a literal `]]>` is split across two sections.
fn push_as_cdata(out: &mut String, content: &str) {
    let mut literal = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(start) = rest.find("<![CDATA[") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 9..];
        let end = after.find("]]>").unwrap_or(after.len());
        literal.push_str(&after[..end]);
        rest = after.get(end + 3..).unwrap_or_default();
    }
    literal.push_str(rest);
    out.push_str("<![CDATA[");
    out.push_str(&literal.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// Renames what Atom 0.3 calls differently from Atom 1.0, so feed-rs's Atom
/// reader finds it: `issued` is `published`, `modified` is `updated` (only
/// unprefixed names are touched); `type` values as [`normalise_atom_types`].
fn atom03_to_atom10(text: &str) -> String {
    rewrite_atom(text, true)
}

/// Turns the `type` values feed-rs's Atom reader refuses (and then fails the
/// whole feed over) into the keywords it knows: MIME types (Atom 0.3's
/// `text/plain`, `application/xhtml+xml`) and other capitalisations (`HTML`).
pub(super) fn normalise_atom_types(text: &str) -> String {
    rewrite_atom(text, false)
}

fn rewrite_atom(text: &str, rename_atom03: bool) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for token in Tokens::new(text) {
        let renamed = match token.name {
            "issued" if rename_atom03 => Some("published"),
            "modified" if rename_atom03 => Some("updated"),
            _ => None,
        };
        match (token.kind, renamed) {
            (Kind::Start | Kind::Empty | Kind::End, Some(new_name)) => {
                let at = if token.kind == Kind::End { 2 } else { 1 };
                out.push_str(&token.raw[..at]);
                out.push_str(new_name);
                out.push_str(&token.raw[at + token.name.len()..]);
            }
            (Kind::Start | Kind::Empty, None) => push_with_atom_type_keyword(&mut out, token.raw),
            _ => out.push_str(token.raw),
        }
    }
    out
}

/// Copies a tag, writing its `type` as the Atom 1.0 keyword it stands for.
fn push_with_atom_type_keyword(out: &mut String, raw: &str) {
    if !raw.contains("type") {
        out.push_str(raw);
        return;
    }
    let attrs = attributes(raw);
    let edit = attrs.iter().find(|attr| attr.name == "type").and_then(|attr| {
        let value = attr.value.trim().to_ascii_lowercase();
        let keyword = match value.as_str() {
            "text" | "text/plain" => "text",
            "html" | "text/html" => "html",
            "xhtml" | "application/xhtml+xml" => "xhtml",
            _ => return None,
        };
        (attr.value != keyword).then_some((attr.value_start, attr.value.len(), keyword))
    });
    match edit {
        Some((at, len, keyword)) => {
            out.push_str(&raw[..at]);
            out.push_str(keyword);
            out.push_str(&raw[at + len..]);
        }
        None => out.push_str(raw),
    }
}

/// The document without the values feed-rs reads as media times: the text of
/// `*:duration` elements and the `start`, `end` and `time` attributes are
/// emptied (see `parse_with_feed_rs` for why).
pub(super) fn without_media_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside_duration = false;
    for token in Tokens::new(text) {
        match token.kind {
            Kind::Start if local_name(token.name) == "duration" => {
                inside_duration = true;
                out.push_str(token.raw);
            }
            Kind::End if local_name(token.name) == "duration" => {
                inside_duration = false;
                out.push_str(token.raw);
            }
            Kind::Text | Kind::CData if inside_duration => {}
            Kind::Start | Kind::Empty => push_without_time_attributes(&mut out, token.raw),
            _ => out.push_str(token.raw),
        }
    }
    out
}

fn push_without_time_attributes(out: &mut String, raw: &str) {
    let mut copied = 0;
    for attr in attributes(raw) {
        if matches!(attr.name, "start" | "end" | "time") {
            out.push_str(&raw[copied..attr.value_start]);
            copied = attr.value_start + attr.value.len();
        }
    }
    out.push_str(&raw[copied..]);
}

/// Repairs the lexical faults lenient readers forgive, for a second parse
/// after a strict one failed:
///
/// - characters XML 1.0 forbids (control characters, U+FFFE, U+FFFF) are
///   dropped, as are numeric references to them;
/// - HTML named entities (`&nbsp;`) become numeric references;
/// - a `&` that starts no reference becomes `&amp;`, a `<` that opens no
///   markup becomes `&lt;`;
/// - an end tag that closes an element left open closes the ones inside it
///   first, an end tag that matches nothing open is dropped;
/// - elements still open at the end are closed, if the body ends right after
///   an end tag (a missing `</channel>` or `</rss>`).
///
/// A body that ends inside markup, or in the middle of its content, was cut
/// off in transit: that is an error, not something to paper over.
pub(super) fn repair(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 64);
    let mut open: Vec<&str> = Vec::new();
    let mut ends_after_end_tag = false;
    for token in Tokens::new(text) {
        let significant = match token.kind {
            Kind::Text => {
                let raw = match token.raw.strip_prefix('<') {
                    Some(rest) => {
                        out.push_str("&lt;");
                        rest
                    }
                    None => token.raw,
                };
                push_escaped(&mut out, raw);
                !token.raw.trim().is_empty()
            }
            Kind::Start => {
                open.push(token.name);
                push_escaped(&mut out, token.raw);
                true
            }
            Kind::Empty => {
                push_escaped(&mut out, token.raw);
                true
            }
            Kind::End => {
                if let Some(index) = open.iter().rposition(|name| *name == token.name) {
                    for name in open.drain(index + 1..).rev() {
                        push_end_tag(&mut out, name);
                    }
                    open.pop();
                    out.push_str(token.raw);
                }
                ends_after_end_tag = true;
                continue;
            }
            Kind::Comment | Kind::Pi | Kind::Doctype => {
                push_legal_chars(&mut out, token.raw);
                // Trailing comments after a complete document are common
                // (cache stamps); they only matter while elements are open.
                !open.is_empty()
            }
            Kind::CData => {
                push_legal_chars(&mut out, token.raw);
                true
            }
            Kind::Partial => {
                return Err(
                    "the body ends inside a tag, comment or CDATA section (cut off in transit?)".into()
                );
            }
        };
        if significant {
            ends_after_end_tag = false;
        }
    }
    if !open.is_empty() {
        if !ends_after_end_tag {
            return Err(format!(
                "the body ends inside <{}> (cut off in transit?)",
                open.last().copied().unwrap_or_default()
            ));
        }
        for name in open.into_iter().rev() {
            push_end_tag(&mut out, name);
        }
    }
    Ok(out)
}

fn push_end_tag(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Whether XML 1.0 allows the character in a document.
fn is_legal_xml_char(ch: char) -> bool {
    matches!(ch, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Copies text, dropping characters XML forbids.
fn push_legal_chars(out: &mut String, text: &str) {
    if text.chars().all(is_legal_xml_char) {
        out.push_str(text);
    } else {
        out.extend(text.chars().filter(|&ch| is_legal_xml_char(ch)));
    }
}

/// Copies text or a tag, dropping forbidden characters and making every `&`
/// either a reference XML knows or an escaped ampersand.
fn push_escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        push_legal_chars(out, &rest[..amp]);
        let after = &rest[amp + 1..];
        let reference =
            after.bytes().take(entities::MAX_NAME_LEN + 1).position(|b| b == b';').map(|semi| &after[..semi]);
        let consumed = match reference {
            Some(reference) if reference.starts_with('#') => match entities::numeric(reference) {
                Some(ch) if is_legal_xml_char(ch) => {
                    out.push('&');
                    out.push_str(reference);
                    out.push(';');
                    reference.len() + 1
                }
                // A reference to a forbidden character goes with it.
                Some(_) => reference.len() + 1,
                None => {
                    out.push_str("&amp;");
                    0
                }
            },
            Some(reference) if entities::is_xml_predefined(reference) => {
                out.push('&');
                out.push_str(reference);
                out.push(';');
                reference.len() + 1
            }
            Some(reference) => match entities::lookup(reference) {
                Some(ch) => {
                    out.push_str("&#");
                    out.push_str(&u32::from(ch).to_string());
                    out.push(';');
                    reference.len() + 1
                }
                None => {
                    out.push_str("&amp;");
                    0
                }
            },
            None => {
                out.push_str("&amp;");
                0
            }
        };
        rest = &after[consumed..];
    }
    push_legal_chars(out, rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        Tokens::new(text).map(|t| (t.kind, t.raw)).collect()
    }

    #[test]
    fn tokenizes_markup_and_text() {
        let doc = "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY x \"y\">]><rss a='>'><!-- c --><t>a &amp; b</t><e/><![CDATA[<x>]]>< 3</rss>";
        assert_eq!(
            kinds(doc),
            vec![
                (Kind::Pi, "<?xml version=\"1.0\"?>"),
                (Kind::Doctype, "<!DOCTYPE rss [<!ENTITY x \"y\">]>"),
                (Kind::Start, "<rss a='>'>"),
                (Kind::Comment, "<!-- c -->"),
                (Kind::Start, "<t>"),
                (Kind::Text, "a &amp; b"),
                (Kind::End, "</t>"),
                (Kind::Empty, "<e/>"),
                (Kind::CData, "<![CDATA[<x>]]>"),
                (Kind::Text, "< 3"),
                (Kind::End, "</rss>"),
            ]
        );
        assert_eq!(kinds("<a><![CD"), vec![(Kind::Start, "<a>"), (Kind::Partial, "<![CD")]);
        assert_eq!(kinds("<a></a"), vec![(Kind::Start, "<a>"), (Kind::Partial, "</a")]);
    }

    #[test]
    fn finds_root_and_attributes() {
        let (offset, root) = root_tag("<!-- x --><?pi?>\n<rss version=\"2.0\" xmlns = 'u'>").unwrap();
        assert_eq!((offset, root.name), (17, "rss"));
        let attrs = attributes(root.raw);
        assert_eq!(attrs.len(), 2);
        assert_eq!((attrs[1].name, attrs[1].value), ("xmlns", "u"));
        assert_eq!(&root.raw[attrs[1].value_start..][..1], "u");
        assert!(root_tag("junk <rss>").is_none());
    }

    #[test]
    fn prepares_old_dialects() {
        assert_eq!(prepare("<rss><channel/></rss>"), "<rss version=\"2.0\"><channel/></rss>");
        assert_eq!(
            prepare("<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"/>"),
            "<rss version=\"2.0\" xmlns=\"http://purl.org/rss/1.0/\"/>"
        );
        assert_eq!(
            prepare("<rdf:RDF xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"/>"),
            "<rdf:RDF xmlns=\"http://purl.org/rss/1.0/\"/>"
        );
        assert_eq!(
            prepare(
                "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title type=\"text/plain\">t</title><issued>x</issued></feed>"
            ),
            "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"text\">t</title><published>x</published></feed>"
        );
        assert!(matches!(prepare("<rss version=\"2.0\"/>"), Cow::Borrowed(_)));
        assert_eq!(
            prepare(
                "<rss version=\"2.0\"><description><em>a</em> &amp; <![CDATA[<b>]]]]><![CDATA[>]]> b</description><description>x</description></rss>"
            ),
            "<rss version=\"2.0\"><description><![CDATA[<em>a</em> &amp; <b>]]]]><![CDATA[> b]]></description><description>x</description></rss>"
        );
        let escaped = "<rss version=\"2.0\"><description>&lt;p&gt; <![CDATA[<p>]]></description><descriptions><b/></descriptions></rss>";
        assert!(matches!(prepare(escaped), Cow::Borrowed(_)));
        assert!(matches!(prepare("<feed xmlns=\"http://www.w3.org/2005/Atom\"/>"), Cow::Borrowed(_)));
    }

    #[test]
    fn normalises_atom_type_values() {
        assert_eq!(
            normalise_atom_types(
                "<feed><title type=\"HTML\">a</title><content type='text/plain'/><issued/><b type=\"image/png\"/></feed>"
            ),
            "<feed><title type=\"html\">a</title><content type='text'/><issued/><b type=\"image/png\"/></feed>"
        );
    }

    #[test]
    fn empties_media_times() {
        assert_eq!(
            without_media_times(
                "<i><itunes:duration>9<![CDATA[9]]></itunes:duration><m:t url='u' time=\"9\" end='1'/></i>"
            ),
            "<i><itunes:duration></itunes:duration><m:t url='u' time=\"\" end=''/></i>"
        );
    }

    #[test]
    fn repairs_lexical_faults() {
        assert_eq!(
            repair("<rss><t>a&b &nbsp;&eacute;&amp;&#8;&#233;\u{8} x</t><l href=\"?a=1&b=2\"/></rss>")
                .unwrap(),
            "<rss><t>a&amp;b &#160;&#233;&amp;&#233; x</t><l href=\"?a=1&amp;b=2\"/></rss>"
        );
        assert_eq!(repair("<a><b><c></b></x></a>").unwrap(), "<a><b><c></c></b></a>");
        assert_eq!(
            repair("<rss><channel><item/></channel>\n").unwrap(),
            "<rss><channel><item/></channel>\n</rss>"
        );
        assert_eq!(
            repair("<rss><channel></rss><!-- done -->").unwrap(),
            "<rss><channel></channel></rss><!-- done -->"
        );
        assert!(repair("<rss><channel><title>cut").is_err());
        assert!(repair("<rss><channel><!-- error -->").is_err());
        assert!(repair("<rss><channel><title><![CD").is_err());
        assert!(repair("<rss></rss").is_err());
    }
}
