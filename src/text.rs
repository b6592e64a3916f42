//! Small text helpers shared by the renderers and the error reporting:
//! escaping untrusted text for HTML/XML, and an error with its causes on one line.

/// Escapes untrusted text for HTML or XML text and attribute values. Control
/// characters other than newline and tab become spaces (XML 1.0 forbids most
/// of them, and they are never meant to be seen).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An error and its causes, `: `-separated, each cause once (wrappers often
/// repeat their cause's text): one log field or one stored message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>\u{7}\n"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; \n"
        );
    }

    #[test]
    fn chains_causes_once() {
        let inner = std::io::Error::other("disk full");
        #[derive(Debug, thiserror::Error)]
        #[error("saving: {0}")]
        struct Repeats(#[source] std::io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("saving")]
        struct Wraps(#[source] std::io::Error);
        assert_eq!(error_chain(&Repeats(std::io::Error::other("disk full"))), "saving: disk full");
        assert_eq!(error_chain(&Wraps(inner)), "saving: disk full");
    }
}
