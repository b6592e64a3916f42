//! Brand queries, compiled once: which watched brands a text mentions.
//!
//! Every alias, exclusion phrase and context term of every brand goes into
//! one Aho-Corasick automaton, searched once per text (overlapping, so a
//! candidate that fails a check never hides a shorter one that passes). The
//! text is case-folded first, keeping a map back to the original byte
//! offsets, so the reported spans point into the text as given.
//!
//! Rules, in order:
//!
//! * **Case**: lower-cased in every script, plus `ß` = `ss` and final `ς` = `σ`;
//!   runs of spaces and tabs count as one space ("Kestrel  Mobile").
//! * **Word boundaries**: a "word character" is a letter or digit of a script
//!   that separates words with spaces. Where an alias starts (ends) with a word
//!   character, the text character just before (after) it must not be one:
//!   "pineapple" and "Applebee's" are not "Apple"; "Apple's", "(Apple)",
//!   "#Apple" are. Han, kana, Hangul, Thai, Lao, Khmer and Myanmar are written
//!   without spaces, so their characters are neither checked nor counted as
//!   word characters: 小米 matches inside a Chinese sentence, "Kestrel" inside
//!   "我买了Kestrel手机", and "红隼X200" is checked after the "0" only. An
//!   alias starting with `#` or `@` must not follow a word character either
//!   (an email address is not a handle).
//! * **Hashtags and handles**: `#kestrel` and `@kestrel` match "Kestrel" by
//!   the rules above; a multi-word alias also matches squashed or joined with
//!   `_` after `#` or `@` (`#KestrelMobile`, `@lumio_audio`); an alias written
//!   with its own `#`/`@` matches as written.
//! * **Exclusions** veto every alias occurrence of their brand they overlap.
//!   They need a word boundary at their start only, so "kestrel nests" is
//!   vetoed by "kestrel nest".
//! * **Ambiguous aliases** count only with one of the brand's context terms at
//!   most `context_window` words away (adjacent words are 1 apart; words are
//!   runs of word characters, and each Han/kana/Hangul/... character is a word).
//! * Overlapping occurrences of one brand's aliases resolve leftmost-longest:
//!   "Kestrel Mobile" is one match of that alias, not also one of "Kestrel".
//!
//! The text should be normalised (NFKC, see [`crate::normalize`]); aliases are
//! NFKC-normalised when compiled.

use std::cmp::Reverse;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::UnicodeNormalization;

use crate::config::BrandConfig;

/// One occurrence of a brand term in the text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TermMatch {
    /// The alias that matched, as configured.
    pub term: String,
    /// Byte offset of the start in the text.
    pub start: usize,
    /// Byte offset one past the end.
    pub end: usize,
}

/// A brand the text mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandMention {
    /// Index of the brand in the slice the matcher was built from.
    pub brand: usize,
    /// Distinct aliases that matched, in order of first appearance.
    pub terms: Vec<String>,
    /// Every accepted occurrence.
    pub matches: Vec<TermMatch>,
}

/// Every brand's aliases, exclusions and context rules, compiled once.
#[derive(Debug, Clone)]
pub struct BrandMatcher {
    brands: Vec<BrandRules>,
    /// `None` when there is nothing to search for (or the automaton could not
    /// be built, which only absurdly large configurations can cause).
    automaton: Option<AhoCorasick>,
    /// What each pattern of the automaton stands for, by pattern id.
    patterns: Vec<PatternInfo>,
}

/// What matching needs to know about one brand beyond its patterns.
#[derive(Debug, Clone)]
struct BrandRules {
    /// Aliases as configured (reported in [`TermMatch::term`]).
    aliases: Vec<String>,
    /// Per alias: whether it needs a context term nearby.
    needs_context: Vec<bool>,
    /// How near, in words, a context term must be.
    context_window: usize,
}

/// One distinct folded string in the automaton and the roles it plays.
#[derive(Debug, Clone)]
struct PatternInfo {
    /// The text before it must not be a word character.
    check_before: bool,
    /// The text after it must not be a word character.
    check_after: bool,
    roles: Vec<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Alias `alias` of brand `brand`; `derived`: a hashtag/handle form of it.
    Alias { brand: usize, alias: usize, derived: bool },
    /// An exclusion phrase of `brand`.
    Exclusion { brand: usize },
    /// A context term of `brand`.
    Context { brand: usize },
}

impl BrandMatcher {
    /// Compiles the brands' queries.
    pub fn new(brands: &[BrandConfig]) -> BrandMatcher {
        let mut builder = PatternSet::default();
        let mut rules = Vec::with_capacity(brands.len());
        for (b, brand) in brands.iter().enumerate() {
            let ambiguous: Vec<String> = brand.ambiguous_aliases.iter().map(|a| fold_term(a)).collect();
            let mut needs_context = Vec::with_capacity(brand.aliases.len());
            for (a, alias) in brand.aliases.iter().enumerate() {
                let folded = fold_term(alias);
                needs_context.push(ambiguous.contains(&folded));
                for variant in tag_variants(&folded) {
                    builder.add(variant, Role::Alias { brand: b, alias: a, derived: true });
                }
                builder.add(folded, Role::Alias { brand: b, alias: a, derived: false });
            }
            for exclusion in &brand.exclusions {
                builder.add(fold_term(exclusion), Role::Exclusion { brand: b });
            }
            // Context terms are only ever looked at for ambiguous aliases.
            if needs_context.contains(&true) {
                for term in &brand.context_terms {
                    builder.add(fold_term(term), Role::Context { brand: b });
                }
            }
            rules.push(BrandRules {
                aliases: brand.aliases.clone(),
                needs_context,
                context_window: usize::try_from(brand.context_window).unwrap_or(usize::MAX),
            });
        }
        let automaton = builder.build();
        BrandMatcher { brands: rules, automaton, patterns: builder.infos }
    }

    /// The brands `text` mentions, in brand order.
    pub fn find(&self, text: &str) -> Vec<BrandMention> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let folded = Folded::new(text);
        let hits = self.collect_hits(automaton, &folded);
        if hits.aliases.is_empty() {
            return Vec::new();
        }
        let mut words = None;
        let mut mentions = Vec::new();
        for group in hits.aliases.chunk_by(|a, b| a.brand == b.brand) {
            let Some(brand) = group.first().map(|h| h.brand) else {
                continue;
            };
            let Some(rules) = self.brands.get(brand) else {
                continue;
            };
            let accepted = group.iter().filter(|hit| {
                !hits.vetoed(hit)
                    && (!rules.needs_context.get(hit.alias).copied().unwrap_or(false)
                        || hits.has_context(hit, rules.context_window, &folded, &mut words))
            });
            if let Some(mention) = mention(brand, rules, leftmost_longest(accepted)) {
                mentions.push(mention);
            }
        }
        mentions
    }

    /// Every occurrence in the folded text that passes the boundary checks.
    fn collect_hits(&self, automaton: &AhoCorasick, folded: &Folded) -> Hits {
        let mut hits = Hits::default();
        for m in automaton.find_overlapping_iter(folded.text.as_str()) {
            let (start, end) = (m.start(), m.end());
            let Some(info) = self.patterns.get(m.pattern().as_usize()) else {
                continue;
            };
            let (Some(original_start), Some(original_end)) = (folded.locate(start), folded.locate(end))
            else {
                continue;
            };
            let before_ok = !info.check_before || !folded.word_char_before(start);
            let after_ok = !info.check_after || !folded.word_char_at(end);
            for &role in &info.roles {
                let span =
                    Span { brand: 0, alias: 0, derived: false, start, end, original_start, original_end };
                match role {
                    Role::Alias { brand, alias, derived } if before_ok && after_ok => {
                        hits.aliases.push(Span { brand, alias, derived, ..span });
                    }
                    Role::Exclusion { brand } if before_ok => {
                        hits.exclusions.push(Span { brand, ..span });
                    }
                    Role::Context { brand } if before_ok && after_ok => {
                        hits.contexts.push(Span { brand, ..span });
                    }
                    _ => {}
                }
            }
        }
        // By brand, then leftmost first, then longest first; on a tie an alias
        // as configured ("@kestrelmobile") wins over a derived form of
        // another ("Kestrel Mobile" as @kestrelmobile).
        hits.aliases.sort_unstable_by_key(|h| (h.brand, h.start, Reverse(h.end), h.derived, h.alias));
        hits
    }
}

/// Builds the automaton's pattern list, one pattern per distinct string.
#[derive(Default)]
struct PatternSet {
    ids: HashMap<String, usize>,
    strings: Vec<String>,
    infos: Vec<PatternInfo>,
}

impl PatternSet {
    fn add(&mut self, folded: String, role: Role) {
        // An empty pattern would match everywhere.
        if folded.is_empty() {
            return;
        }
        let id = match self.ids.get(&folded) {
            Some(&id) => id,
            None => {
                let id = self.strings.len();
                let (check_before, check_after) = edges(&folded);
                self.ids.insert(folded.clone(), id);
                self.strings.push(folded);
                self.infos.push(PatternInfo { check_before, check_after, roles: Vec::new() });
                id
            }
        };
        if let Some(info) = self.infos.get_mut(id)
            && !info.roles.contains(&role)
        {
            info.roles.push(role);
        }
    }

    fn build(&self) -> Option<AhoCorasick> {
        if self.strings.is_empty() {
            return None;
        }
        // Standard semantics: overlapping search needs them, and it lets a
        // longer candidate that fails a check leave the shorter one standing.
        match AhoCorasick::builder().match_kind(MatchKind::Standard).build(&self.strings) {
            Ok(automaton) => Some(automaton),
            Err(error) => {
                tracing::error!(%error, "brand aliases could not be compiled; no brand will match");
                None
            }
        }
    }
}

/// Which sides of a folded pattern need a word boundary in the text.
fn edges(folded: &str) -> (bool, bool) {
    let first = folded.chars().next();
    let last = folded.chars().next_back();
    let before = first.is_some_and(|c| c == '#' || c == '@' || is_word_char(c));
    let after = last.is_some_and(is_word_char);
    (before, after)
}

/// Hashtag and handle forms of a multi-word alias: `#kestrelmobile`,
/// `@kestrelmobile`, `#kestrel_mobile`, `@kestrel_mobile`.
fn tag_variants(folded: &str) -> Vec<String> {
    if folded.starts_with(['#', '@']) {
        return Vec::new();
    }
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.len() < 2 {
        return Vec::new();
    }
    let squashed = words.concat();
    let joined = words.join("_");
    ["#", "@"]
        .into_iter()
        .flat_map(|sigil| [format!("{sigil}{squashed}"), format!("{sigil}{joined}")])
        .collect()
}

/// An occurrence in the folded text.
#[derive(Debug, Clone, Copy)]
struct Span {
    brand: usize,
    /// Alias index (aliases only).
    alias: usize,
    /// A hashtag/handle form of the alias (aliases only).
    derived: bool,
    /// Offsets in the folded text.
    start: usize,
    end: usize,
    /// Offsets in the original text.
    original_start: usize,
    original_end: usize,
}

impl Span {
    fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The occurrences of one text, by role.
#[derive(Default)]
struct Hits {
    aliases: Vec<Span>,
    exclusions: Vec<Span>,
    contexts: Vec<Span>,
}

impl Hits {
    fn vetoed(&self, hit: &Span) -> bool {
        self.exclusions.iter().any(|x| x.brand == hit.brand && x.overlaps(hit))
    }

    /// Whether a context term of the hit's brand is within `window` words.
    /// The word list is built on first use: most texts never need it.
    fn has_context(
        &self,
        hit: &Span,
        window: usize,
        folded: &Folded,
        words: &mut Option<Vec<(usize, usize)>>,
    ) -> bool {
        let mut candidates = self
            .contexts
            .iter()
            // A context term inside the alias itself ("X200" in "Kestrel X200") is not context.
            .filter(|c| c.brand == hit.brand && !(hit.start <= c.start && c.end <= hit.end))
            .peekable();
        if candidates.peek().is_none() {
            return false;
        }
        let words = words.get_or_insert_with(|| word_spans(&folded.text));
        let (a0, a1) = word_range(words, hit.start, hit.end);
        candidates.any(|c| {
            let (c0, c1) = word_range(words, c.start, c.end);
            let distance = if c1 <= a0 {
                a0 - c1 + 1
            } else if a1 <= c0 {
                c0 - a1 + 1
            } else {
                0
            };
            distance <= window
        })
    }
}

/// Words of a folded text as byte spans: runs of word characters, and each
/// character of a script written without spaces on its own.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut current: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if is_word_char(c) {
            current.get_or_insert(i);
            continue;
        }
        if let Some(start) = current.take() {
            words.push((start, i));
        }
        if c.is_alphanumeric() && is_unspaced_script(c) {
            words.push((i, i + c.len_utf8()));
        }
    }
    if let Some(start) = current {
        words.push((start, text.len()));
    }
    words
}

/// The words a byte span touches, as a half-open range of word indices
/// (empty, at the right place, if it touches none).
fn word_range(words: &[(usize, usize)], start: usize, end: usize) -> (usize, usize) {
    let first = words.partition_point(|w| w.1 <= start);
    let last = words.partition_point(|w| w.0 < end).max(first);
    (first, last)
}

/// Leftmost-longest selection among hits sorted by start, then longest first.
fn leftmost_longest<'a>(hits: impl Iterator<Item = &'a Span>) -> Vec<Span> {
    let mut picked: Vec<Span> = Vec::new();
    for hit in hits {
        if picked.last().is_none_or(|p| hit.start >= p.end) {
            picked.push(*hit);
        }
    }
    picked
}

/// The mention of one brand, with offsets mapped back to the original text.
fn mention(brand: usize, rules: &BrandRules, spans: Vec<Span>) -> Option<BrandMention> {
    if spans.is_empty() {
        return None;
    }
    let mut terms: Vec<String> = Vec::new();
    let mut matches = Vec::with_capacity(spans.len());
    for span in spans {
        let Some(term) = rules.aliases.get(span.alias) else {
            continue;
        };
        if !terms.contains(term) {
            terms.push(term.clone());
        }
        matches.push(TermMatch { term: term.clone(), start: span.original_start, end: span.original_end });
    }
    Some(BrandMention { brand, terms, matches })
}

/// A case-folded copy of a text that can map its offsets back to the
/// original.
///
/// Nearly every character folds to one of the same byte length, so instead
/// of a table entry per byte (which cost more than the search itself) only
/// the irregular stretches are recorded: a run of spaces folded into one,
/// or a character whose folded form has another length or several chars
/// ("İ" → "i̇", "ß" → "ss"). Between them, offsets differ by a constant.
struct Folded {
    text: String,
    /// In folded order.
    irregular: Vec<Stretch>,
}

/// `original..original + original_len` became `folded..folded + folded_len`.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    folded: usize,
    folded_len: usize,
    original: usize,
    original_len: usize,
}

impl Folded {
    fn new(original: &str) -> Folded {
        // Bytes, not a String: pushing a byte is what makes the ASCII path
        // cheap; the result is valid UTF-8 by construction.
        let mut out: Vec<u8> = Vec::with_capacity(original.len() + 8);
        let mut irregular = Vec::new();
        let bytes = original.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if let Some(len) = space_at(original, i) {
                let start = i;
                i += len;
                while let Some(len) = space_at(original, i) {
                    i += len;
                }
                // A single space or tab keeps offsets as they are.
                if i - start != 1 {
                    irregular.push(Stretch {
                        folded: out.len(),
                        folded_len: 1,
                        original: start,
                        original_len: i - start,
                    });
                }
                out.push(b' ');
                continue;
            }
            let byte = bytes[i];
            if byte.is_ascii() {
                out.push(byte.to_ascii_lowercase());
                i += 1;
                continue;
            }
            let Some(c) = original.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            let folded = out.len();
            let mut chars = 0;
            fold_char(c, |f| {
                out.extend_from_slice(f.encode_utf8(&mut [0; 4]).as_bytes());
                chars += 1;
            });
            if chars != 1 || out.len() - folded != c.len_utf8() {
                irregular.push(Stretch {
                    folded,
                    folded_len: out.len() - folded,
                    original: i,
                    original_len: c.len_utf8(),
                });
            }
            i += c.len_utf8();
        }
        let text =
            String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Folded { text, irregular }
    }

    /// The original offset of folded offset `i` (a char boundary of the folded
    /// text), or `None` if `i` falls inside what one original character or
    /// space run folded into: a match may not start or end there.
    fn locate(&self, i: usize) -> Option<usize> {
        let before = self.irregular.partition_point(|s| s.folded <= i);
        let Some(stretch) = before.checked_sub(1).and_then(|k| self.irregular.get(k)) else {
            return Some(i);
        };
        let stretch_end = stretch.folded + stretch.folded_len;
        if i == stretch.folded {
            Some(stretch.original)
        } else if i < stretch_end {
            None
        } else {
            Some(stretch.original + stretch.original_len + (i - stretch_end))
        }
    }

    fn word_char_before(&self, i: usize) -> bool {
        self.text.get(..i).and_then(|s| s.chars().next_back()).is_some_and(is_word_char)
    }

    fn word_char_at(&self, i: usize) -> bool {
        self.text.get(i..).and_then(|s| s.chars().next()).is_some_and(is_word_char)
    }
}

/// The byte length of the horizontal space at `i`, if there is one.
fn space_at(text: &str, i: usize) -> Option<usize> {
    match text.as_bytes().get(i)? {
        b' ' | b'\t' => Some(1),
        b if b.is_ascii() => None,
        _ => text.get(i..)?.chars().next().filter(|&c| is_horizontal_space(c)).map(char::len_utf8),
    }
}

/// How an alias, exclusion or context term is compared: NFKC, then folded
/// exactly like the text, trimmed.
pub fn fold_term(term: &str) -> String {
    let normalized: String = term.nfkc().collect();
    Folded::new(normalized.trim()).text
}

/// Lower-cases one character (several for "İ"), plus the two full case folds
/// that matter in real text: `ß` is `ss` (upper-case German writes SS) and
/// final `ς` is `σ`.
fn fold_char(c: char, mut push: impl FnMut(char)) {
    if c.is_ascii() {
        push(c.to_ascii_lowercase());
        return;
    }
    for lower in c.to_lowercase() {
        match lower {
            'ß' => {
                push('s');
                push('s');
            }
            'ς' => push('σ'),
            other => push(other),
        }
    }
}

/// Spaces that fold into one: every whitespace except line breaks, so a
/// multi-word alias never spans the title and the body.
fn is_horizontal_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A letter or digit of a script that separates words with spaces.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_unspaced_script(c)
}

/// Scripts written without spaces between words: Han (and its radicals and
/// ideographic marks), Hiragana, Katakana, Bopomofo, Hangul, Thai, Lao,
/// Khmer, Myanmar. Word boundaries mean nothing there.
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF             // Thai, Lao
        | 0x1000..=0x109F           // Myanmar
        | 0x1100..=0x11FF           // Hangul Jamo
        | 0x1780..=0x17FF           // Khmer
        | 0x19E0..=0x19FF           // Khmer symbols
        | 0x2E80..=0x2FDF           // CJK and Kangxi radicals
        | 0x3005..=0x3007           // 々 〆 〇
        | 0x3021..=0x3029           // Hangzhou numerals
        | 0x3031..=0x3035           // kana repeat marks
        | 0x3038..=0x303C
        | 0x3040..=0x30FF           // Hiragana, Katakana
        | 0x3100..=0x312F           // Bopomofo
        | 0x3130..=0x318F           // Hangul compatibility Jamo
        | 0x31A0..=0x31BF           // Bopomofo extended
        | 0x31F0..=0x31FF           // Katakana phonetic extensions
        | 0x3400..=0x4DBF           // CJK extension A
        | 0x4E00..=0x9FFF           // CJK unified ideographs
        | 0xA960..=0xA97F           // Hangul Jamo extended A
        | 0xA9E0..=0xA9FF           // Myanmar extended B
        | 0xAA60..=0xAA7F           // Myanmar extended A
        | 0xAC00..=0xD7FF           // Hangul syllables, Jamo extended B
        | 0xF900..=0xFAFF           // CJK compatibility ideographs
        | 0xFF66..=0xFFDC           // half-width Katakana and Hangul
        | 0x1B000..=0x1B16F         // kana supplement and extended
        | 0x20000..=0x3FFFF // CJK extensions B and later
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(name: &str, aliases: &[&str]) -> BrandConfig {
        BrandConfig {
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            exclusions: Vec::new(),
            context_terms: Vec::new(),
            ambiguous_aliases: Vec::new(),
            context_window: 12,
            competitor: false,
        }
    }

    fn kestrel() -> BrandConfig {
        BrandConfig {
            exclusions: vec!["kestrel falcon".into(), "american kestrel".into(), "kestrel nest".into()],
            context_terms: vec!["phone".into(), "battery".into(), "X200".into(), "手机".into()],
            ambiguous_aliases: vec!["Kestrel".into()],
            ..brand("Kestrel", &["Kestrel", "Kestrel Mobile", "@kestrelmobile", "#KestrelX200", "红隼X200"])
        }
    }

    fn lumio() -> BrandConfig {
        BrandConfig {
            exclusions: vec!["lumio lamp".into()],
            ..brand("Lumio", &["Lumio", "Lumio Audio", "ルミオ", "路米欧"])
        }
    }

    /// (brand, matched surface) pairs, checking every offset on the way.
    fn found(matcher: &BrandMatcher, text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for mention in matcher.find(text) {
            assert!(!mention.matches.is_empty());
            for m in &mention.matches {
                assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end), "{m:?} in {text:?}");
                assert!(m.start < m.end, "{m:?}");
                assert!(mention.terms.contains(&m.term));
                assert_eq!(letters(&text[m.start..m.end]), letters(&m.term), "{m:?} in {text:?}");
                out.push((mention.brand, text[m.start..m.end].to_owned()));
            }
        }
        out
    }

    /// The letters and digits of a folded term: what a surface and its alias
    /// share (hashtag forms drop the spaces, `#` and `@`).
    fn letters(term: &str) -> String {
        fold_term(term).chars().filter(|c| c.is_alphanumeric()).collect()
    }

    fn surfaces(matcher: &BrandMatcher, text: &str) -> Vec<String> {
        found(matcher, text).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn word_boundaries() {
        let m = BrandMatcher::new(&[brand("Apple", &["Apple"])]);
        assert!(m.find("Dinner at Applebee's").is_empty());
        assert!(m.find("pineapple juice").is_empty());
        assert!(m.find("apple2 and 2apple").is_empty());
        assert_eq!(surfaces(&m, "Apple's new phone"), ["Apple"]);
        assert_eq!(
            surfaces(&m, "Apple, Google (Apple) \"apple\" APPLE."),
            ["Apple", "Apple", "apple", "APPLE"]
        );
        assert_eq!(surfaces(&m, "apple"), ["apple"]);
        assert_eq!(surfaces(&m, "x-Apple-y"), ["Apple"]);
    }

    #[test]
    fn exclusions_veto_overlapping_occurrences() {
        let m = BrandMatcher::new(&[
            BrandConfig { exclusions: vec!["apple pie".into()], ..brand("Apple", &["Apple"]) },
            kestrel(),
        ]);
        assert!(m.find("I baked an apple pie today").is_empty());
        assert!(m.find("Apple pies are the best").is_empty());
        assert_eq!(surfaces(&m, "An apple pie, then an Apple laptop"), ["Apple"]);
        assert!(m.find("A kestrel falcon near my phone").is_empty());
        assert!(m.find("The American Kestrel and its phone-like call").is_empty());
        // The exclusion of another brand does not veto.
        let lumio = BrandMatcher::new(&[lumio(), brand("Lamp Co", &["Lamp"])]);
        assert_eq!(found(&lumio, "my lumio lamp"), [(1, "lamp".to_owned())]);
    }

    #[test]
    fn ambiguous_alias_needs_context_within_window() {
        let m = BrandMatcher::new(&[BrandConfig { context_window: 3, ..kestrel() }]);
        assert_eq!(surfaces(&m, "The kestrel battery is great"), ["kestrel"]);
        assert_eq!(surfaces(&m, "phone a b Kestrel"), ["Kestrel"]);
        assert_eq!(surfaces(&m, "Kestrel, a b: phone!"), ["Kestrel"]);
        assert!(m.find("Kestrel a b c phone").is_empty());
        assert!(m.find("A kestrel hovered over the field").is_empty());
        assert!(m.find("phone one two three four Kestrel").is_empty());
        // Non-ambiguous aliases of the same brand need no context.
        assert_eq!(surfaces(&m, "Kestrel Mobile rocks"), ["Kestrel Mobile"]);
        // A context term inside the alias occurrence is not context.
        let x200 = BrandMatcher::new(&[BrandConfig {
            aliases: vec!["Kestrel X200".into()],
            ambiguous_aliases: vec!["Kestrel X200".into()],
            ..kestrel()
        }]);
        assert!(x200.find("Kestrel X200 rocks").is_empty());
        assert_eq!(surfaces(&x200, "Kestrel X200 phone"), ["Kestrel X200"]);
        // CJK context words count one word per character.
        assert_eq!(surfaces(&m, "Kestrel的新手机"), ["Kestrel"]);
        assert!(m.find("Kestrel在天上飞了很久很久很久手机").is_empty());
    }

    #[test]
    fn cjk_aliases_need_no_boundaries() {
        let m = BrandMatcher::new(&[brand("Xiaomi", &["小米", "Xiaomi"]), lumio()]);
        assert_eq!(found(&m, "我昨天买了小米手机，很好用。"), [(0, "小米".to_owned())]);
        assert_eq!(found(&m, "ルミオのイヤホンを買いました"), [(1, "ルミオ".to_owned())]);
        assert_eq!(found(&m, "我买了Xiaomi手机"), [(0, "Xiaomi".to_owned())]);
        assert_eq!(found(&m, "路米欧耳机和小米"), [(0, "小米".to_owned()), (1, "路米欧".to_owned())]);
    }

    #[test]
    fn mixed_script_alias_checks_latin_side_only() {
        let m = BrandMatcher::new(&[kestrel()]);
        assert_eq!(surfaces(&m, "我的红隼X200很好"), ["红隼X200"]);
        assert_eq!(surfaces(&m, "新款红隼x200!"), ["红隼x200"]);
        assert!(m.find("我的红隼X2000很好").is_empty());
    }

    #[test]
    fn several_brands_in_one_post() {
        let m = BrandMatcher::new(&[kestrel(), lumio(), brand("Orbix", &["Orbix", "@orbixglobal"])]);
        let text = "Lumio Audio buds paired with my Kestrel phone; @OrbixGlobal take note. Lumio wins, Kestrel Mobile too.";
        let mentions = m.find(text);
        assert_eq!(mentions.iter().map(|x| x.brand).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(mentions[0].terms, ["Kestrel", "Kestrel Mobile"]);
        assert_eq!(mentions[0].matches.len(), 2);
        assert_eq!(mentions[1].terms, ["Lumio Audio", "Lumio"]);
        assert_eq!(mentions[2].terms, ["@orbixglobal"]);
        let orbix = &mentions[2].matches[0];
        assert_eq!(&text[orbix.start..orbix.end], "@OrbixGlobal");
    }

    #[test]
    fn hashtags_and_handles() {
        let m = BrandMatcher::new(&[BrandConfig { ambiguous_aliases: Vec::new(), ..kestrel() }, lumio()]);
        assert_eq!(surfaces(&m, "#Kestrel all day"), ["Kestrel"]);
        assert_eq!(surfaces(&m, "thanks @kestrel!"), ["kestrel"]);
        assert_eq!(surfaces(&m, "cc @kestrelmobile"), ["@kestrelmobile"]);
        assert_eq!(surfaces(&m, "#KestrelMobile #LumioAudio"), ["#KestrelMobile", "#LumioAudio"]);
        assert_eq!(surfaces(&m, "@lumio_audio"), ["@lumio_audio"]);
        assert_eq!(surfaces(&m, "#KestrelX200 launch"), ["#KestrelX200"]);
        let mentions = m.find("#KestrelMobile");
        assert_eq!(mentions[0].terms, ["Kestrel Mobile"]);
        // The alias as configured wins over the same text derived from another.
        assert_eq!(m.find("@KestrelMobile")[0].terms, ["@kestrelmobile"]);
        assert!(m.find("#KestrelFan").is_empty());
        assert!(m.find("mail support@kestrelmobile.example").is_empty());
    }

    #[test]
    fn emoji_around_aliases() {
        let m = BrandMatcher::new(&[brand("Lumio", &["Lumio"])]);
        for text in ["😍Lumio🔥", "❤️Lumio", "Lumio👍🏽", "🏳️‍🌈 lumio 🇩🇪", "#️⃣Lumio", "👨‍👩‍👧Lumio👨‍👩‍👧"]
        {
            assert_eq!(surfaces(&m, text).len(), 1, "{text}");
        }
    }

    #[test]
    fn offsets_survive_case_changes_of_other_lengths() {
        let m = BrandMatcher::new(&[brand("Kestrel", &["Kestrel"]), brand("Straße", &["Straße Mobil"])]);
        let text = "İİİ KESTREL İstanbul'da ẞ ß kestrel ΣΑΣ Kestrel";
        assert_eq!(surfaces(&m, text), ["KESTREL", "kestrel", "Kestrel"]);
        assert_eq!(surfaces(&m, "STRASSE MOBIL und Straße  Mobil"), ["STRASSE MOBIL", "Straße  Mobil"]);
        assert_eq!(surfaces(&m, "ǅKESTREL"), Vec::<String>::new());
    }

    #[test]
    fn case_variants_and_spacing() {
        let m = BrandMatcher::new(&[brand("Kestrel", &["Kestrel Mobile"])]);
        for text in ["KESTREL MOBILE", "kestrel mobile", "Kestrel\u{A0}Mobile", "Kestrel \t Mobile"] {
            let found = surfaces(&m, text);
            assert_eq!(found, [text], "{text}");
        }
        // A line break (title, then body) separates.
        assert!(m.find("Kestrel\nMobile").is_empty());
    }

    #[test]
    fn greek_final_sigma_matches() {
        let m = BrandMatcher::new(&[brand("Odysseus", &["ΟΔΥΣΣΕΥΣ"])]);
        assert_eq!(surfaces(&m, "ο Οδυσσευς ήρθε"), ["Οδυσσευς"]);
    }

    #[test]
    fn full_width_alias_is_normalized() {
        let m = BrandMatcher::new(&[brand("Orbix", &["ＯＲＢＩＸ"])]);
        let mentions = m.find("orbix!");
        assert_eq!(mentions[0].terms, ["ＯＲＢＩＸ"]);
    }

    #[test]
    fn empty_and_degenerate_configs() {
        assert!(BrandMatcher::new(&[]).find("anything").is_empty());
        let m = BrandMatcher::new(&[brand("Blank", &["", "   "]), brand("Dup", &["dup", "DUP"])]);
        assert!(m.find("anything at all").is_empty());
        let mentions = m.find("dup");
        assert_eq!(mentions.len(), 1);
        assert_eq!(mentions[0].matches.len(), 1);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let m =
            BrandMatcher::new(&[kestrel(), lumio(), brand("Sym", &["C++", "#", "@", "ß", "İ", "\u{301}"])]);
        let odd = [
            "",
            " ",
            "\n",
            "\0",
            "#",
            "@",
            "##kestrel@@",
            "İ",
            "i\u{307}",
            "ß",
            "ẞ",
            "ﬀ",
            "\u{301}kestrel\u{301}",
            "\u{FFFD}\u{FFFF}",
            "🏳️‍🌈",
            "K\u{0}estrel",
            "KESTREL\u{E0001}",
            "c++ C++C++",
            "ς",
            "ΣΣ",
            "ŉ",
            "\u{1F600}\u{1F600}kestrel phone",
            "x\u{200D}kestrel\u{200D}phone",
            "ルミオ\u{3099}",
        ];
        for text in odd {
            let _ = found(&m, text);
            let _ = found(&m, &text.repeat(7));
        }
        // Every char boundary of a mixed string, as start and end.
        let mixed = "İ Kestrel 🇩🇪 phone 小米 ß ルミオ ς #LumioAudio";
        let bounds: Vec<usize> = mixed.char_indices().map(|(i, _)| i).chain([mixed.len()]).collect();
        for &a in &bounds {
            for &b in bounds.iter().filter(|&&b| b >= a) {
                let _ = found(&m, &mixed[a..b]);
            }
        }
    }

    #[test]
    fn offsets_hold_in_generated_texts() {
        let m = BrandMatcher::new(&[kestrel(), lumio(), brand("Weiß", &["Weiß Bräu", "ΟΔΥΣΣΕΥΣ"])]);
        let pieces = [
            "Kestrel",
            "KESTREL",
            "kestrel mobile",
            "#KestrelMobile",
            "@kestrelmobile",
            "phone",
            " ",
            "  ",
            "\t",
            "\u{A0}",
            "\n",
            "İ",
            "ß",
            "ẞ",
            "WEISS BRÄU",
            "weiß\u{A0}\u{A0}bräu",
            "Οδυσσευς",
            "😀",
            "🇩🇪",
            "👍🏽",
            ",",
            "(",
            "'s",
            "红隼X200",
            "ルミオ",
            "小",
            "a",
            "Lumio",
            "lumio lamp",
            "ǅ",
            "K",
            "\u{301}",
            "x",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut matched = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..12 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            matched += found(&m, &text).len();
        }
        assert!(matched > 1000, "{matched}");
    }

    /// Not a test of speed (timings are not asserted): prints the cost of
    /// `find` on a typical post. `cargo test --release --lib
    /// matching::tests::timing -- --nocapture --ignored`.
    #[test]
    #[ignore]
    fn timing() {
        let m =
            BrandMatcher::new(&[kestrel(), lumio(), brand("Orbix", &["Orbix", "@orbixglobal", "欧比斯"])]);
        let text = "Kestrel X200 after two weeks\nJust got my new Kestrel X200 and honestly the battery \
            life is \"insane\" — two full days with heavy use. The camera is great in daylight but \
            struggles at night.\n\nCompared to my old Orbix phone the screen is brighter, and the \
            firmware update last week fixed the Bluetooth drops I had with my Lumio Audio earbuds.\n\
            Battery: 5/5\nCamera: 3/5\nScreen: 4/5\n\nWould I recommend it? Yes, if you don't shoot \
            a lot at night.";
        let n = 50_000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(m.find(std::hint::black_box(text)));
        }
        println!("find ({} bytes, 3 brands): {:?} per post", text.len(), start.elapsed() / n);
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(Folded::new(std::hint::black_box(text)));
        }
        println!("  fold: {:?}", start.elapsed() / n);
        let folded = Folded::new(text);
        let start = std::time::Instant::now();
        for _ in 0..n {
            if let Some(ac) = &m.automaton {
                std::hint::black_box(
                    ac.find_overlapping_iter(std::hint::black_box(folded.text.as_str())).count(),
                );
            }
        }
        println!("  search: {:?} {:?}", start.elapsed() / n, m.automaton.as_ref().map(|a| a.kind()));
        let plain = "Nothing to see here, just a long post about the weather and the garden. ".repeat(7);
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(m.find(std::hint::black_box(&plain)));
        }
        println!("find ({} bytes, no brand): {:?} per post", plain.len(), start.elapsed() / n);
    }
}
