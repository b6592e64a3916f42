//! The evidence for a product's targeted sentiment: the part of the text
//! that talks about it.
//!
//! The model scores whole inputs, so the sentiment "about" a product is the
//! sentiment of the sentences about it: the sentence that names it and the
//! ones after it, up to the next sentence that names another product (at
//! most [`MAX_SENTENCES`]), because posts name a product and then say what
//! they think ("Returned my S9 Plus after 10 days. The screen flickers.").
//! When the naming sentence also names another product, the evidence is
//! narrowed to the clause that names this one where the sentence turns on a
//! contrast ("love the camera on the X200 but the S9 battery is awful": the
//! X200 gets the clause before "but", the S9 the clause after). A clause too
//! short to carry an opinion falls back to the whole sentence.

use unicode_segmentation::UnicodeSegmentation;

/// Words and marks where a sentence turns from one opinion to another.
const CONTRAST: &[&str] = &[
    " but ",
    " however ",
    " however, ",
    " though ",
    " although ",
    " whereas ",
    " while ",
    " yet ",
    " meanwhile ",
    " unlike ",
    " except ",
    "; ",
    " - ",
    " – ",
    " — ",
];

/// Fewer words than this and a clause is not used on its own.
const MIN_CLAUSE_WORDS: usize = 4;

/// Sentences the evidence of one product may span.
pub const MAX_SENTENCES: usize = 3;

/// The byte range of the evidence for a mention at `start..end` of `text`;
/// `others` are the spans of the other product mentions in the text.
pub fn evidence_range(text: &str, start: usize, end: usize, others: &[(usize, usize)]) -> (usize, usize) {
    let (s_start, s_end) = sentence_range(text, start);
    let other_in =
        |a: usize, b: usize| others.iter().any(|&(os, oe)| os < b && oe > a && (os, oe) != (start, end));
    if !other_in(s_start, s_end) {
        // The following sentences belong to this product until another one is named.
        let mut stop = s_end;
        for (i, sentence) in text[s_end..].split_sentence_bound_indices().take(MAX_SENTENCES - 1) {
            let (a, b) = (s_end + i, s_end + i + sentence.len());
            if other_in(a, b) {
                break;
            }
            stop = b;
        }
        return (s_start, s_start + text[s_start..stop].trim_end().len());
    }
    let sentence = &text[s_start..s_end];
    let lower = sentence.to_lowercase();
    // Cut points (byte offsets in `sentence`) where a contrast begins.
    let mut cuts: Vec<usize> = Vec::new();
    if lower.len() == sentence.len() {
        for marker in CONTRAST {
            let mut from = 0;
            while let Some(pos) = lower[from..].find(marker) {
                cuts.push(from + pos);
                from += pos + marker.len();
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let rel = start - s_start;
    let rel_end = end.min(s_end) - s_start;
    let clause_start = cuts.iter().rev().find(|&&c| c <= rel).copied().unwrap_or(0);
    let clause_end = cuts.iter().find(|&&c| c >= rel_end).copied().unwrap_or(sentence.len());
    let clause = &sentence[clause_start..clause_end];
    if (clause_start, clause_end) != (0, sentence.len())
        && clause.split_whitespace().count() >= MIN_CLAUSE_WORDS
    {
        let trimmed_start = clause_start + (clause.len() - clause.trim_start().len());
        let trimmed_end = clause_start + clause.trim_end().len();
        return (s_start + trimmed_start, s_start + trimmed_end);
    }
    let trimmed_end = s_start + sentence.trim_end().len();
    (s_start, trimmed_end.max(s_start))
}

/// The sentence (UAX #29) containing byte `at`.
fn sentence_range(text: &str, at: usize) -> (usize, usize) {
    for (i, sentence) in text.split_sentence_bound_indices() {
        if at < i + sentence.len() {
            return (i, i + sentence.len());
        }
    }
    (0, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evidence for `name`, with `others` as the other products named.
    fn evidence_with<'a>(text: &'a str, name: &str, others: &[&str]) -> &'a str {
        let start = text.find(name).unwrap();
        let spans: Vec<(usize, usize)> = others
            .iter()
            .map(|o| {
                let s = text.find(o).unwrap();
                (s, s + o.len())
            })
            .collect();
        let (s, e) = evidence_range(text, start, start + name.len(), &spans);
        &text[s..e]
    }

    fn evidence<'a>(text: &'a str, name: &str) -> &'a str {
        evidence_with(text, name, &[])
    }

    #[test]
    fn a_contrast_splits_one_sentence_between_two_products() {
        let text = "love the camera on the X200 but the S9 battery is awful";
        assert_eq!(evidence_with(text, "X200", &["S9"]), "love the camera on the X200");
        assert_eq!(evidence_with(text, "S9", &["X200"]), "but the S9 battery is awful");
    }

    #[test]
    fn the_sentences_after_the_name_belong_to_it_until_another_product() {
        let text = "Got my Buds 2 today. Sound is incredible! Shipping was slow though. Fourth.";
        assert_eq!(
            evidence(text, "Buds 2"),
            "Got my Buds 2 today. Sound is incredible! Shipping was slow though."
        );
        let text = "Returned my S9 Plus. The screen flickers. My X200 is fine.";
        assert_eq!(evidence_with(text, "S9 Plus", &["X200"]), "Returned my S9 Plus. The screen flickers.");
        assert_eq!(evidence_with(text, "X200", &["S9 Plus"]), "My X200 is fine.");
    }

    #[test]
    fn a_short_clause_falls_back_to_the_sentence() {
        let text = "X200 but honestly the S9 lineup is great";
        assert_eq!(evidence_with(text, "X200", &["S9"]), text);
    }

    #[test]
    fn offsets_are_bytes_with_emoji_and_cjk() {
        let text = "🙃 新しい XM5 最高 but the X200 app though is terrible.";
        let got = evidence_with(text, "XM5", &["X200"]);
        assert!(got.contains("XM5") && !got.contains("terrible"), "{got}");
    }
}
