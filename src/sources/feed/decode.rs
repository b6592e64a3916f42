//! From response bytes to UTF-8 text: a leftover gzip layer is removed, the
//! charset is decided the way browsers and feedparser decide it, and the XML
//! declaration (whose `encoding=` no longer holds once the text is UTF-8) is
//! cut off.

use std::borrow::Cow;
use std::io::Read;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// The most a gzip body may inflate to: a feed is a few MB at worst, and the
/// cap stops a small "gzip bomb" from taking the daemon's memory.
pub(super) const MAX_INFLATED_BYTES: u64 = 50 * 1024 * 1024;

/// How far into the body an XML declaration is looked for; it belongs at the
/// very start, but some servers put whitespace or a comment before it.
const DECLARATION_WINDOW: usize = 1024;

/// Inflates a body that is still gzip-compressed (the fetcher normally undoes
/// `Content-Encoding`; this catches servers that send `.gz` files as is).
pub(super) fn gunzip_if_needed(body: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(body));
    }
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4));
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|err| format!("the body is gzip-compressed but cannot be inflated: {err}"))?;
    if inflated.len() as u64 > MAX_INFLATED_BYTES {
        return Err(format!(
            "the gzip-compressed body inflates to more than {} MB",
            MAX_INFLATED_BYTES / (1024 * 1024)
        ));
    }
    Ok(Cow::Owned(inflated))
}

/// Decodes the body to UTF-8.
///
/// Order of evidence: a byte-order mark (unambiguous, and it wins over HTTP in
/// the WHATWG decode algorithm browsers use), then the HTTP `charset=`, then a
/// UTF-16 shape without BOM, then the XML declaration's `encoding=`, then
/// UTF-8. The first of those that decodes the bytes without error is used; a
/// label is only a claim, and a server-wide `charset=utf-8` on a Latin-1 feed
/// is common. When none fits, `chardetng` guesses from the bytes (what an
/// undeclared legacy feed needs) and undecodable bytes become U+FFFD.
pub(super) fn decode_text<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some((encoding, _)) = Encoding::for_bom(body) {
        // Strips the BOM; malformed sequences become U+FFFD.
        return encoding.decode_with_bom_removal(body).0;
    }
    let ascii_compatible = !looks_like_utf16(body);
    let http = content_type.and_then(charset_param).and_then(|label| Encoding::for_label(label.as_bytes()));
    let declared = declared_encoding(body);
    let candidates = [http, sniff_utf16(body), declared, Some(UTF_8)];
    for encoding in candidates.into_iter().flatten() {
        // A UTF-16 label on bytes that read as ASCII is wrong (the
        // declaration itself could not have been read otherwise).
        if ascii_compatible && (encoding == UTF_16LE || encoding == UTF_16BE) {
            continue;
        }
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(body) {
            return text;
        }
    }
    // UTF-8 already failed above, so it is no candidate for the guess.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(body, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    guess.decode_without_bom_handling(body).0
}

/// The `charset` parameter of a Content-Type header, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
            .filter(|value| !value.is_empty())
    })
}

/// Whether the body starts like UTF-16 text (a NUL in the first two bytes).
fn looks_like_utf16(body: &[u8]) -> bool {
    body.len() >= 2 && (body[0] == 0 || body[1] == 0)
}

/// UTF-16 without a BOM, recognised by how `<?` or `<` looks in it.
fn sniff_utf16(body: &[u8]) -> Option<&'static Encoding> {
    match body {
        [b'<', 0, _, 0, ..] => Some(UTF_16LE),
        [0, b'<', 0, _, ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// The encoding named by the XML declaration, read as ASCII.
fn declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let window = &body[..body.len().min(DECLARATION_WINDOW)];
    let start = find(window, b"<?xml")?;
    let declaration = &window[start..];
    let declaration = &declaration[..find(declaration, b"?>")?];
    let after_key = &declaration[find(declaration, b"encoding")? + b"encoding".len()..];
    let after_eq = trim_ascii_start(trim_ascii_start(after_key).strip_prefix(b"=")?);
    let (&quote, rest) = after_eq.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let label = &rest[..rest.iter().position(|&b| b == quote)?];
    Encoding::for_label(label)
}

/// The body after its XML declaration, with whatever preceded the declaration
/// (whitespace, a BOM, comments: all of which make a strict parser fail)
/// dropped; without a declaration, the body with leading whitespace dropped.
pub(super) fn strip_declaration(text: &str) -> &str {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let mut rest = trimmed;
    // Comments are the only thing allowed to be skipped to reach it.
    while let Some(after_open) = rest.strip_prefix("<!--") {
        match after_open.find("-->") {
            Some(end) => rest = after_open[end + 3..].trim_start(),
            None => return trimmed,
        }
    }
    match rest.strip_prefix("<?xml") {
        Some(after) if after.starts_with(|c: char| c.is_ascii_whitespace() || c == '?') => {
            match after.find("?>") {
                Some(end) => &after[end + 2..],
                None => trimmed,
            }
        }
        _ => trimmed,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_charset_parameter() {
        assert_eq!(charset_param("application/rss+xml; charset=\"ISO-8859-1\""), Some("ISO-8859-1"));
        assert_eq!(charset_param("text/xml;Charset=utf-8 "), Some("utf-8"));
        assert_eq!(charset_param("text/xml"), None);
        assert_eq!(charset_param("text/xml; charset="), None);
    }

    #[test]
    fn reads_declared_encoding() {
        let body = b"<?xml version='1.0' encoding = 'windows-1251' ?><rss/>";
        assert_eq!(declared_encoding(body), Some(encoding_rs::WINDOWS_1251));
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\"?><rss/>"), None);
        assert_eq!(declared_encoding(b"<rss/>"), None);
    }

    #[test]
    fn http_charset_wins_over_declaration_but_not_over_bom() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>caf\xe9</t>";
        assert!(decode_text(latin1, Some("text/xml; charset=iso-8859-1")).contains("café"));
        let bom = b"\xef\xbb\xbf<t>caf\xc3\xa9</t>";
        assert_eq!(decode_text(bom, Some("text/xml; charset=iso-8859-1")), "<t>café</t>");
    }

    #[test]
    fn a_wrong_utf8_label_falls_back_to_sniffing() {
        let latin1 = encoding_rs::WINDOWS_1252.encode("<t>Größe und Überraschung für äöü</t>").0;
        let text = decode_text(&latin1, Some("application/xml; charset=utf-8"));
        assert!(text.contains("Größe und Überraschung"), "{text}");
    }

    #[test]
    fn decodes_utf16_with_and_without_bom() {
        let units: Vec<u8> = "<t>é</t>".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(decode_text(&units, None), "<t>é</t>");
        let mut with_bom = vec![0xff, 0xfe];
        with_bom.extend_from_slice(&units);
        assert_eq!(decode_text(&with_bom, None), "<t>é</t>");
    }

    #[test]
    fn strips_declaration_and_what_precedes_it() {
        assert_eq!(strip_declaration("\n <?xml version=\"1.0\"?>\n<rss/>"), "\n<rss/>");
        assert_eq!(strip_declaration("\u{feff}<!-- c -->\r\n<?xml version=\"1.0\"?><rss/>"), "<rss/>");
        assert_eq!(
            strip_declaration("<?xml-stylesheet href=\"a\"?><rss/>"),
            "<?xml-stylesheet href=\"a\"?><rss/>"
        );
        assert_eq!(strip_declaration("  <rss/>"), "<rss/>");
        assert_eq!(strip_declaration("<?xml version=\"1.0\""), "<?xml version=\"1.0\"");
    }

    #[test]
    fn inflates_gzip_and_passes_plain_bodies_through() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"<rss/>").unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(gunzip_if_needed(&gz).as_deref(), Ok(&b"<rss/>"[..]));
        assert_eq!(gunzip_if_needed(b"<rss/>").as_deref(), Ok(&b"<rss/>"[..]));
        assert!(gunzip_if_needed(&[0x1f, 0x8b, 0, 1, 2]).is_err());
    }
}
