//! Names the catalog lacks: product-like spans next to a brand mention that
//! link to no catalog product ("Kestrel X300 Ultra" when the catalog stops at
//! the X200). They feed a "catalog gaps" report that a product manager reads,
//! so every rule leans to precision: a missed name shows up again in the next
//! post, a junk name wastes someone's time.
//!
//! Rules (a token is a run of letters and digits, `-` allowed inside ("XM-6"),
//! `+` allowed at the end ("S9+"); names never span punctuation or a line
//! break):
//!
//! * **`model_number`**: right after a brand mention (its possessive "'s"
//!   allowed, then at most two filler words such as "new", "the", "announces"),
//!   either a token mixing letters and digits ("X300", "XM-6", "S10", "7T";
//!   not units, ordinals or generic tech terms: "5G", "8GB", "120Hz", "2nd",
//!   "IP68", "USB3", "Q3", "v2") or a short name word and a number ("Pods 4",
//!   "Nova Fold 4"; not a year, not "Day 1", not "5 stars"). Then up to three
//!   suffix words: Pro, Max, Plus, Ultra, Lite, Mini, Fold, Flip, SE, 5G, Air,
//!   Neo, FE, XL, Gen N (lower-case ones only after a lower-case model:
//!   "x300 pro", but not the "max" of "X300 max brightness"). Nothing when a
//!   component noun follows ("Kestrel A15 chip").
//! * **`capitalised_after_brand`**: right after a brand mention, one or two
//!   capitalised words (then suffix words) that are not on a stoplist of
//!   common English words, headline verbs, company/store/support words,
//!   category nouns, operating systems, days, months, places and colours
//!   ("Kestrel Falcon" yes; "Kestrel Support", "Kestrel Mobile", "Kestrel The",
//!   "Kestrel Watch" no), and not followed by a service or feature noun
//!   ("Kestrel Health app"). Skipped on a line written in Title Case
//!   (headlines: "Kestrel Announces Record Profits"), where capitals say
//!   nothing. All-capital words ("CEO", "AI") never count.
//! * **`hashtag`**: `#KestrelX300Ultra`, `#Kestrel_Falcon`: a hashtag that
//!   starts with a brand surface from the same text, followed by a model
//!   number or CamelCase name words (split at case and letter/digit changes);
//!   or, when the text mentions a brand, a hashtag that is a model number
//!   itself (`#X300Ultra`; at most four letters before the number, so
//!   `#iPhone16` and `#CES2025` stay out). Generic hashtags never.
//! * **`quoted`**: one to four words in quotes (“…”, "…", «…», ‘…’) within
//!   ten tokens of a brand mention, each a capitalised name word, a model
//!   number, a number or a suffix ("the new “Falcon Edge”", 'Kestrel's "X300
//!   Ultra"'). A single word without a digit also needs a cue just before
//!   the quote ("new", "codenamed", "dubbed", ...), and no quoted name may be
//!   followed by a feature noun ("“Night Sight” mode").
//!
//! **Surface**: the name as written *without* the brand word ("X300 Ultra"
//! for "Kestrel X300 Ultra", "X300" for `#KestrelX300`); the brand is in
//! [`Candidate::brand`], and `start..end` covers exactly the surface. Counting
//! by [`Candidate::normalized`] thus groups "Kestrel X300", "X-300" and
//! `#KestrelX300` together.
//!
//! Candidates overlapping a linked product or a brand mention, or whose key
//! is a brand surface of the text, are dropped; within one text each key
//! counts once (first occurrence kept).

use unicode_normalization::UnicodeNormalization;

use crate::matching::is_word_char;

/// Rule name: a model-number pattern next to a brand.
pub const RULE_MODEL_NUMBER: &str = "model_number";
/// Rule name: capitalised words right after a brand.
pub const RULE_CAPITALISED: &str = "capitalised_after_brand";
/// Rule name: a hashtag naming a product.
pub const RULE_HASHTAG: &str = "hashtag";
/// Rule name: a quoted name near a brand.
pub const RULE_QUOTED: &str = "quoted";

/// A product-like name in a text that links to no catalog product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the brand it was found next to (into the brand list the
    /// caller uses), if any: the brand before it, the brand prefix of a
    /// hashtag, the nearest brand for a quote, the text's only brand for a
    /// bare model-number hashtag.
    pub brand: Option<usize>,
    /// The name as written, without the brand word: "X300 Ultra" for
    /// "Kestrel X300 Ultra", "X300Ultra" for `#KestrelX300Ultra`. Always
    /// `text[start..end]`.
    pub surface: String,
    /// Key it is counted under: NFKC, case-folded, spaces, hyphens and
    /// underscores removed ("x300ultra").
    pub normalized: String,
    /// Byte offset of the start in the text.
    pub start: usize,
    /// Byte offset one past the end.
    pub end: usize,
    /// Which rule found it: [`RULE_MODEL_NUMBER`], [`RULE_CAPITALISED`],
    /// [`RULE_HASHTAG`] or [`RULE_QUOTED`].
    pub rule: &'static str,
}

/// Finds candidates in `text`. `brand_spans`: (start, end, brand index) of
/// the brand mentions (from brand matching); `linked`: byte ranges already
/// linked to catalog products (a candidate overlapping one is dropped).
/// Sorted by position.
pub fn candidates(
    text: &str,
    brand_spans: &[(usize, usize, usize)],
    linked: &[(usize, usize)],
) -> Vec<Candidate> {
    let mut brands: Vec<(usize, usize, usize)> =
        brand_spans.iter().copied().filter(|&(s, e, _)| s < e && text.get(s..e).is_some()).collect();
    // Every rule needs a brand in the text: a model number alone could be anyone's.
    if brands.is_empty() {
        return Vec::new();
    }
    brands.sort_unstable();
    let ctx = Context::new(text, brands);
    let mut found = Vec::new();
    for &(_, end, brand) in &ctx.brands {
        ctx.after_brand(end, brand, &mut found);
    }
    ctx.hashtags(&mut found);
    ctx.quoted(&mut found);
    ctx.finish(found, linked)
}

/// A token: a run of word characters (see the module docs) as a byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    start: usize,
    end: usize,
}

/// One text and what every rule needs to know about it.
struct Context<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    /// Valid brand spans, sorted by start.
    brands: Vec<(usize, usize, usize)>,
    /// Normalised brand surfaces of the text (without `#`/`@`), with their brand.
    brand_keys: Vec<(String, usize)>,
}

/// A candidate before the final checks.
struct Found {
    brand: Option<usize>,
    start: usize,
    end: usize,
    rule: &'static str,
}

impl<'a> Context<'a> {
    fn new(text: &'a str, brands: Vec<(usize, usize, usize)>) -> Context<'a> {
        let tokens = tokenize(text);
        let mut brand_keys: Vec<(String, usize)> = Vec::new();
        for &(s, e, b) in &brands {
            let surface = text.get(s..e).unwrap_or_default().trim_start_matches(['#', '@']);
            let key: String = normalize_key(surface).chars().filter(|c| c.is_alphanumeric()).collect();
            if !key.is_empty() && !brand_keys.iter().any(|(k, _)| *k == key) {
                brand_keys.push((key, b));
            }
        }
        // Longest first, so "kestrelmobile" is tried as a hashtag prefix before "kestrel".
        brand_keys.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        Context { text, tokens, brands, brand_keys }
    }

    fn word(&self, token: Token) -> &'a str {
        self.text.get(token.start..token.end).unwrap_or_default()
    }

    fn in_brand(&self, start: usize, end: usize) -> bool {
        self.brands.iter().any(|&(s, e, _)| s < end && start < e)
    }

    /// The tokens that follow `pos` on the same line, separated by spaces
    /// only, up to a brand mention or at most `max` of them.
    fn run_after(&self, pos: usize, max: usize) -> Vec<Token> {
        let first = self.tokens.partition_point(|t| t.start < pos);
        let mut run = Vec::new();
        let mut prev_end = pos;
        for &token in self.tokens.iter().skip(first).take(max) {
            if !self.spaces_only(prev_end, token.start) || self.in_brand(token.start, token.end) {
                break;
            }
            run.push(token);
            prev_end = token.end;
        }
        run
    }

    /// Whether the word right after `end` (spaces only between) is in `list`.
    fn followed_by(&self, end: usize, list: &[&str]) -> bool {
        self.run_after(end, 1).first().is_some_and(|t| list.contains(&self.word(*t).to_lowercase().as_str()))
    }

    /// Whether `text[a..b]` is empty or horizontal whitespace.
    fn spaces_only(&self, a: usize, b: usize) -> bool {
        a <= b && self.text.get(a..b).is_some_and(|gap| gap.chars().all(is_horizontal_space))
    }

    /// The `model_number` and `capitalised_after_brand` rules after a brand
    /// mention ending at `end`.
    fn after_brand(&self, end: usize, brand: usize, found: &mut Vec<Found>) {
        let mut pos = end;
        let rest = self.text.get(end..).unwrap_or_default();
        for possessive in ["'s", "’s", "'S", "’S"] {
            if let Some(after) = rest.strip_prefix(possessive)
                && !after.chars().next().is_some_and(is_word_char)
            {
                pos = end + possessive.len();
            }
        }
        let run = self.run_after(pos, 10);
        for skip in 0..=2_usize {
            if let Some(filler) = skip.checked_sub(1).and_then(|i| run.get(i))
                && !FILLERS.contains(&self.word(*filler).to_lowercase().as_str())
            {
                break;
            }
            let Some(rest) = run.get(skip..) else {
                break;
            };
            if let Some(n) = self.model_at(rest)
                && let (Some(first), Some(last)) = (rest.first(), rest.get(n - 1))
            {
                // "Kestrel A15 chip": a component's model number, not a product's.
                if self.followed_by(last.end, COMPONENT_NOUNS) {
                    return;
                }
                found.push(Found {
                    brand: Some(brand),
                    start: first.start,
                    end: last.end,
                    rule: RULE_MODEL_NUMBER,
                });
                return;
            }
        }
        if let Some(n) = self.capitalised_at(&run)
            && let (Some(first), Some(last)) = (run.first(), run.get(n - 1))
            && !self.title_case_line(first.start)
            && !self.followed_by(last.end, FEATURE_NOUNS)
            && !self.followed_by(last.end, COMPONENT_NOUNS)
        {
            found.push(Found {
                brand: Some(brand),
                start: first.start,
                end: last.end,
                rule: RULE_CAPITALISED,
            });
        }
    }

    /// How many tokens of `run` make a model-number name, if it starts with one.
    fn model_at(&self, run: &[Token]) -> Option<usize> {
        let first = self.word(*run.first()?);
        let (core_end, core) = if is_model_token(first) {
            (1, first)
        } else if is_name_word(first) {
            // "Pods 4", "Nova Fold 4".
            let mut n = 1;
            if run.get(1).is_some_and(|t| is_suffix(self.word(*t), false)) {
                n = 2;
            }
            let number = run.get(n)?;
            if !is_number(self.word(*number)) || !self.number_ends_name(number.end) {
                return None;
            }
            (n + 1, first)
        } else {
            return None;
        };
        let lower_ok = !core.chars().any(char::is_uppercase);
        Some(core_end + self.suffixes(run.get(core_end..).unwrap_or_default(), lower_ok))
    }

    /// Whether a number ending at `end` ends a name rather than starting a
    /// quantity ("Pods 4 are great" yes; "Watch 2 years", "Stock 5%", "Pods 4.5" no).
    fn number_ends_name(&self, end: usize) -> bool {
        let rest = self.text.get(end..).unwrap_or_default();
        let mut chars = rest.chars();
        match chars.next() {
            Some('%') => return false,
            Some('.' | ',') if chars.next().is_some_and(|c| c.is_ascii_digit()) => return false,
            _ => {}
        }
        let next = self.run_after(end, 1);
        next.first().is_none_or(|t| !QUANTITY_NOUNS.contains(&self.word(*t).to_lowercase().as_str()))
    }

    /// How many tokens at the start of `run` are suffix words ("Pro Max", "Gen 2").
    fn suffixes(&self, run: &[Token], lower_ok: bool) -> usize {
        let mut n = 0;
        while n < run.len() && n < 4 {
            let Some(word) = run.get(n).map(|t| self.word(*t)) else {
                break;
            };
            if is_suffix(word, lower_ok) {
                n += 1;
            } else if word.eq_ignore_ascii_case("gen")
                && (lower_ok || word.starts_with('G'))
                && run.get(n + 1).is_some_and(|t| {
                    let w = self.word(*t);
                    w.len() <= 2 && w.chars().all(|c| c.is_ascii_digit())
                })
            {
                n += 2;
            } else {
                break;
            }
        }
        n
    }

    /// How many tokens of `run` make a capitalised name, if it starts with one.
    fn capitalised_at(&self, run: &[Token]) -> Option<usize> {
        let mut n = 0;
        while n < 2 && run.get(n).is_some_and(|t| is_capitalised_name(self.word(*t))) {
            n += 1;
        }
        if n == 0 {
            return None;
        }
        Some(n + self.suffixes(run.get(n..).unwrap_or_default(), false))
    }

    /// Whether the line around `pos` is written in Title Case: then a
    /// capital after a brand is the headline's, not a name's. Counts words
    /// of four letters or more outside brand mentions.
    fn title_case_line(&self, pos: usize) -> bool {
        let line_start = self.text.get(..pos).and_then(|s| s.rfind('\n')).map_or(0, |i| i + 1);
        let line_end = self.text.get(pos..).and_then(|s| s.find('\n')).map_or(self.text.len(), |i| pos + i);
        let (mut words, mut capitalised) = (0usize, 0usize);
        for &token in &self.tokens {
            if token.start < line_start || token.end > line_end || self.in_brand(token.start, token.end) {
                continue;
            }
            let word = self.word(token);
            if word.chars().count() < 4 || !word.chars().all(char::is_alphabetic) {
                continue;
            }
            words += 1;
            if word.chars().next().is_some_and(char::is_uppercase) {
                capitalised += 1;
            }
        }
        words >= 3 && capitalised * 4 >= words * 3
    }

    /// The `hashtag` rule.
    fn hashtags(&self, found: &mut Vec<Found>) {
        let only_brand = self.only_brand();
        for (hash, _) in self.text.match_indices('#') {
            if self.text.get(..hash).and_then(|s| s.chars().next_back()).is_some_and(is_word_char) {
                continue;
            }
            let body_start = hash + 1;
            let body_len = self
                .text
                .get(body_start..)
                .unwrap_or_default()
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
                .map_or(self.text.len() - body_start, |(i, _)| i);
            let body_end = body_start + body_len;
            let Some(body) = self.text.get(body_start..body_end) else {
                continue;
            };
            if body.is_empty() {
                continue;
            }
            let prefixed = self.brand_keys.iter().find_map(|(key, brand)| {
                let head = body.get(..key.len())?;
                head.to_lowercase().eq(key).then_some((key.len(), *brand))
            });
            let (rest_start, brand, names_allowed) = match prefixed {
                Some((len, brand)) => {
                    let rest = body.get(len..).unwrap_or_default();
                    let skipped = rest.len() - rest.trim_start_matches('_').len();
                    (body_start + len + skipped, Some(brand), true)
                }
                None => (body_start, only_brand, false),
            };
            let rest_end = body_end - (body.len() - body.trim_end_matches('_').len());
            let Some(rest) = self.text.get(rest_start..rest_end) else {
                continue;
            };
            if rest.is_empty() || !rest.is_ascii() {
                continue;
            }
            let segments = segments(rest);
            let max_letters = if names_allowed { 6 } else { 4 };
            let ok = tag_is_model(&segments, max_letters) || (names_allowed && tag_is_name(&segments));
            if ok {
                found.push(Found { brand, start: rest_start, end: rest_end, rule: RULE_HASHTAG });
            }
        }
    }

    /// The brand of the text when it mentions only one.
    fn only_brand(&self) -> Option<usize> {
        let first = self.brands.first()?.2;
        self.brands.iter().all(|&(_, _, b)| b == first).then_some(first)
    }

    /// The `quoted` rule.
    fn quoted(&self, found: &mut Vec<Found>) {
        let chars: Vec<(usize, char)> = self.text.char_indices().collect();
        let mut i = 0;
        while let Some(&(open, c)) = chars.get(i) {
            let closers: &[char] = match c {
                '"' => &['"'],
                '“' => &['”'],
                '„' => &['“', '”'],
                '«' => &['»'],
                '‘' => &['’'],
                _ => {
                    i += 1;
                    continue;
                }
            };
            let close = chars
                .iter()
                .enumerate()
                .skip(i + 1)
                .take_while(|&(_, &(pos, ch))| pos - open <= 80 && !is_line_break(ch))
                .find(|&(_, &(_, ch))| closers.contains(&ch));
            match close {
                Some((j, &(close_pos, close_char))) => {
                    self.quote(
                        open,
                        open + c.len_utf8(),
                        close_pos,
                        close_pos + close_char.len_utf8(),
                        found,
                    );
                    i = j + 1;
                }
                None => i += 1,
            }
        }
    }

    /// One quote: `open..inner_start` and `inner_end..close_end` are the marks.
    fn quote(
        &self,
        open: usize,
        inner_start: usize,
        inner_end: usize,
        close_end: usize,
        found: &mut Vec<Found>,
    ) {
        let first = self.tokens.partition_point(|t| t.start < inner_start);
        let last = self.tokens.partition_point(|t| t.end <= inner_end);
        let Some(inner) = self.tokens.get(first..last) else {
            return;
        };
        let (Some(head), Some(tail)) = (inner.first(), inner.last()) else {
            return;
        };
        // Nothing but the words and the spaces between them.
        if !self.spaces_only(inner_start, head.start)
            || !self.spaces_only(tail.end, inner_end)
            || inner
                .windows(2)
                .any(|w| w.first().zip(w.get(1)).is_none_or(|(a, b)| !self.spaces_only(a.end, b.start)))
        {
            return;
        }
        // A brand inside the quote comes off the front: “Kestrel Falcon” is "Falcon".
        let mut brand = None;
        let mut words = inner;
        while let Some((t, rest)) = words.split_first() {
            match self.brands.iter().find(|&&(s, e, _)| s < t.end && t.start < e) {
                Some(&(_, _, b)) => {
                    brand = Some(b);
                    words = rest;
                }
                None => break,
            }
        }
        if words.is_empty() || words.len() > 4 || words.iter().any(|t| self.in_brand(t.start, t.end)) {
            return;
        }
        if !self.quoted_name(words) {
            return;
        }
        let has_digit = words.iter().any(|t| self.word(*t).chars().any(|c| c.is_ascii_digit()));
        if words.len() == 1 && !has_digit && brand.is_none() {
            let cue =
                self.tokens.get(..first).and_then(<[Token]>::last).filter(|t| self.spaces_only(t.end, open));
            if !cue.is_some_and(|t| QUOTE_CUES.contains(&self.word(*t).to_lowercase().as_str())) {
                return;
            }
        }
        if self.followed_by(close_end, FEATURE_NOUNS) || self.followed_by(close_end, COMPONENT_NOUNS) {
            return;
        }
        let brand = match brand {
            Some(b) => Some(b),
            None => match self.nearest_brand(first, last) {
                Some(b) => Some(b),
                None => return,
            },
        };
        let (Some(s), Some(e)) = (words.first(), words.last()) else {
            return;
        };
        found.push(Found { brand, start: s.start, end: e.end, rule: RULE_QUOTED });
    }

    /// Whether quoted words read as a product name.
    fn quoted_name(&self, words: &[Token]) -> bool {
        let Some((first, rest)) = words.split_first() else {
            return false;
        };
        let head = self.word(*first);
        let next_is_number = rest.first().is_some_and(|t| is_number(self.word(*t)));
        let head_ok =
            is_model_token(head) || is_capitalised_name(head) || (is_name_word(head) && next_is_number);
        head_ok
            && rest.iter().all(|t| {
                let w = self.word(*t);
                is_model_token(w)
                    || is_number(w)
                    || is_suffix(w, false)
                    || (is_capitalised(w) && !is_stopword(w))
                    || w.eq_ignore_ascii_case("gen")
            })
    }

    /// The brand of the mention nearest to the tokens `first..last`, if one
    /// is at most ten tokens away.
    fn nearest_brand(&self, first: usize, last: usize) -> Option<usize> {
        self.brands
            .iter()
            .filter_map(|&(s, e, b)| {
                let b_first = self.tokens.partition_point(|t| t.end <= s);
                let b_last = self.tokens.partition_point(|t| t.start < e);
                // Tokens in between, on whichever side; 0 when they overlap.
                let distance = first.saturating_sub(b_last).max(b_first.saturating_sub(last));
                (distance <= 10).then_some((distance, b))
            })
            .min()
            .map(|(_, b)| b)
    }

    /// Drops what overlaps a linked product or a brand, or is only a brand;
    /// keeps the first occurrence of each key.
    fn finish(&self, mut found: Vec<Found>, linked: &[(usize, usize)]) -> Vec<Candidate> {
        // On the same span the rule with the stronger evidence names it.
        found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end), rule_rank(f.rule)));
        let mut out: Vec<Candidate> = Vec::new();
        let mut last_end = 0;
        for f in found {
            if f.start < last_end
                || linked.iter().any(|&(s, e)| s < f.end && f.start < e)
                || self.in_brand(f.start, f.end)
            {
                continue;
            }
            let Some(surface) = self.text.get(f.start..f.end) else {
                continue;
            };
            let normalized = normalize_key(surface);
            if normalized.is_empty()
                || self.brand_keys.iter().any(|(k, _)| *k == normalized)
                || out.iter().any(|c| c.normalized == normalized)
            {
                continue;
            }
            last_end = f.end;
            out.push(Candidate {
                brand: f.brand,
                surface: surface.to_owned(),
                normalized,
                start: f.start,
                end: f.end,
                rule: f.rule,
            });
        }
        out
    }
}

fn rule_rank(rule: &str) -> u8 {
    match rule {
        RULE_MODEL_NUMBER => 0,
        RULE_QUOTED => 1,
        RULE_HASHTAG => 2,
        _ => 3,
    }
}

/// Splits a text into tokens: runs of word characters, `-` joining two of
/// them, `+` allowed at the end; each character of a script written without
/// spaces is a token of its own.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&(start, c)) = chars.get(i) {
        if !c.is_alphanumeric() {
            i += 1;
            continue;
        }
        if !is_word_char(c) {
            tokens.push(Token { start, end: start + c.len_utf8() });
            i += 1;
            continue;
        }
        let mut j = i + 1;
        loop {
            match chars.get(j) {
                Some(&(_, c)) if is_word_char(c) => j += 1,
                Some(&(_, '-')) if chars.get(j + 1).is_some_and(|&(_, n)| is_word_char(n)) => j += 2,
                _ => break,
            }
        }
        // "S9+", "S9++": the pluses belong to the name unless a word follows them.
        let mut k = j;
        while chars.get(k).is_some_and(|&(_, c)| c == '+') {
            k += 1;
        }
        if k > j && !chars.get(k).is_some_and(|&(_, c)| is_word_char(c)) {
            j = k;
        }
        let end = chars.get(j).map_or(text.len(), |&(p, _)| p);
        tokens.push(Token { start, end });
        i = j;
    }
    tokens
}

/// A hashtag body split at `_`, at letter/digit changes and at case changes
/// ("X300Ultra" → X, 300, Ultra; "XMPro" → XM, Pro). ASCII only.
fn segments(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..bytes.len() {
        let (Some(&p), Some(&c)) = (bytes.get(i - 1), bytes.get(i)) else {
            continue;
        };
        let next_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        let split = p == b'_'
            || c == b'_'
            || p.is_ascii_digit() != c.is_ascii_digit()
            || (p.is_ascii_lowercase() && c.is_ascii_uppercase())
            || (p.is_ascii_uppercase() && c.is_ascii_uppercase() && next_lower);
        if split {
            out.extend(s.get(start..i));
            start = i;
        }
    }
    out.extend(s.get(start..));
    out.retain(|seg| !seg.is_empty() && *seg != "_");
    out
}

/// Hashtag segments that read as a model number with suffixes:
/// X|300|Ultra, Nova|4, S|9|U, Pods|Pro|3 is not (a suffix before the number).
fn tag_is_model(segments: &[&str], max_letters: usize) -> bool {
    let (Some(letters), Some(digits)) = (segments.first(), segments.get(1)) else {
        return false;
    };
    if letters.len() > max_letters || !letters.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let mut core = format!("{letters}{digits}");
    let mut n = 2;
    // A trailing capital or two belongs to the model ("S9U"), unless it is a suffix word.
    if let Some(tail) = segments.get(2)
        && tail.len() <= 2
        && tail.bytes().all(|b| b.is_ascii_uppercase())
        && !is_suffix(tail, false)
        && segments.get(3).is_none_or(|next| !next.bytes().all(|b| b.is_ascii_digit()))
    {
        core.push_str(tail);
        n = 3;
    }
    if !is_model_token(&core) {
        return false;
    }
    let lower_ok = !core.chars().any(|c| c.is_ascii_uppercase());
    while let Some(seg) = segments.get(n) {
        let next = segments.get(n + 1);
        if is_suffix(seg, lower_ok) {
            n += 1;
        } else if (seg.eq_ignore_ascii_case("gen")
            && next.is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit())))
            || (*seg == "5" && next.is_some_and(|g| g.eq_ignore_ascii_case("g")))
        {
            // "Gen2", "5G": split in two by the letter/digit change.
            n += 2;
        } else {
            return false;
        }
    }
    true
}

/// Hashtag segments (after a brand prefix) that read as capitalised name
/// words with suffixes: Falcon, Falcon|Edge, Falcon|Pro.
fn tag_is_name(segments: &[&str]) -> bool {
    let names = segments.iter().take_while(|s| is_capitalised_name(s)).count().min(2);
    names > 0 && segments.iter().skip(names).all(|s| is_suffix(s, false))
}

/// A token mixing letters and digits that could be a model number: "X300",
/// "XM-6", "S9+", "A5", "Nova4", "7T"; not "5G", "8GB", "2nd", "IP68", "Q3".
fn is_model_token(word: &str) -> bool {
    let core: String = word.trim_end_matches('+').chars().filter(|&c| c != '-').collect();
    if core.len() < 2 || core.len() > 10 || !core.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let lower = core.to_ascii_lowercase();
    if !lower.bytes().any(|b| b.is_ascii_digit()) || !lower.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    if GENERIC_TOKENS.contains(&lower.as_str()) {
        return false;
    }
    let lead = lower.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (prefix, rest) = lower.split_at(lead);
    let number_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (number, tail) = rest.split_at(number_len);
    if !tail.bytes().all(|b| b.is_ascii_alphabetic()) || tail.len() > 2 {
        return false;
    }
    if lead == 0 {
        // "7T", "13T": a short number and a letter or two that is not a unit.
        return number_len <= 3 && !tail.is_empty() && !UNITS.contains(&tail);
    }
    if lead > 6 || number_len > 4 || is_year(number) {
        return false;
    }
    // Versions and desktop chips ("v2", "i7") read as models only with more digits.
    if (prefix == "v" || prefix == "i") && number_len == 1 {
        return false;
    }
    !GENERIC_PREFIXES.contains(&prefix)
}

/// A plain number that can end a product name: 1 to 4 digits, not a year.
fn is_number(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 4
        && word.bytes().all(|b| b.is_ascii_digit())
        && !is_year(word)
        && !(word.len() > 1 && word.starts_with('0'))
}

fn is_year(digits: &str) -> bool {
    digits.len() == 4 && (digits.starts_with("19") || digits.starts_with("20"))
}

/// A product-line word that a number may follow: "Pods", "Nova", "XM".
fn is_name_word(word: &str) -> bool {
    let count = word.chars().count();
    if !(2..=12).contains(&count) || !word.chars().all(char::is_alphabetic) || is_stopword(word) {
        return false;
    }
    let upper = word.chars().filter(|c| c.is_uppercase()).count();
    is_capitalised(word) || (upper == count && count <= 4)
}

/// First letter upper-case, the rest letters with at least one lower-case.
fn is_capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase)
        && word.chars().all(char::is_alphabetic)
        && word.chars().any(char::is_lowercase)
}

/// A capitalised word that can be (part of) a product name: not a
/// stopword, suffix or bare category noun ("Kestrel Watch" alone names no
/// new product; "Kestrel Watch 3" is found by the model-number rule).
fn is_capitalised_name(word: &str) -> bool {
    word.chars().count() >= 3
        && is_capitalised(word)
        && !is_stopword(word)
        && !is_suffix(word, false)
        && !CATEGORY_NOUNS.contains(&word.to_lowercase().as_str())
}

/// A model suffix ("Pro", "Max", "5G", "Gen2"); lower-case only where the
/// model itself was written in lower case ("x300 pro", but not the "max" of
/// "X300 max brightness").
fn is_suffix(word: &str, lower_ok: bool) -> bool {
    let bare = word.trim_end_matches('+');
    let lower = bare.to_lowercase();
    let cased = lower_ok || bare.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
    let gen_n = lower
        .strip_prefix("gen")
        .is_some_and(|d| (1..=2).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
    cased && (SUFFIXES.contains(&lower.as_str()) || gen_n)
}

fn is_stopword(word: &str) -> bool {
    let lower = word.to_lowercase();
    STOPWORDS.iter().any(|group| group.split_ascii_whitespace().any(|w| w == lower))
}

fn is_horizontal_space(c: char) -> bool {
    c.is_whitespace() && !is_line_break(c)
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// The counting key: NFKC, lower-cased, without spaces, hyphens, underscores and `#`.
fn normalize_key(surface: &str) -> String {
    let normalized: String = surface.nfkc().collect();
    normalized
        .to_lowercase()
        .chars()
        .filter(|&c| !(c.is_whitespace() || matches!(c, '-' | '_' | '#' | '\u{2010}' | '\u{2011}')))
        .collect()
}

/// Model suffix words (lower case).
const SUFFIXES: &[&str] =
    &["pro", "max", "plus", "ultra", "lite", "mini", "fold", "flip", "se", "5g", "air", "neo", "fe", "xl"];

/// Words allowed between a brand and its model number ("Kestrel's new X300",
/// "Kestrel announces the X300").
const FILLERS: &[&str] = &[
    "new",
    "all-new",
    "the",
    "a",
    "an",
    "its",
    "their",
    "latest",
    "upcoming",
    "next",
    "rumored",
    "rumoured",
    "leaked",
    "unreleased",
    "unannounced",
    "flagship",
    "budget",
    "announces",
    "announced",
    "launches",
    "launched",
    "unveils",
    "unveiled",
    "teases",
    "teased",
    "confirms",
    "confirmed",
    "reveals",
    "revealed",
    "releases",
    "released",
    "introduces",
    "introduced",
    "debuts",
    "debuted",
];

/// Letter sequences before a number that name a technology, a period or an
/// event, not a product: IP68, USB3, WiFi6, Q3, FY25, MWC25, Top10.
const GENERIC_PREFIXES: &[&str] = &[
    "q", "h", "fy", "ip", "ipx", "usb", "wifi", "bt", "mp", "covid", "ddr", "lpddr", "ufs", "hdmi", "arm",
    "ps", "gpt", "web", "mwc", "ces", "ifa", "wwdc", "io", "top", "day", "sd", "rtx", "gtx", "no", "nr",
    "ver", "ep", "pt", "cat", "lte", "gen", "part", "vol", "pg", "dp", "am", "pm", "tv", "ios", "android",
    "win", "rev",
];

/// Whole tokens that mix letters and digits but are no product of a watched brand.
const GENERIC_TOKENS: &[&str] =
    &["x86", "x64", "a2dp", "f1", "k8s", "h264", "h265", "mp3", "mp4", "i18n", "a11y", "3d", "2d"];

/// Letter endings of a number that make it a measure, an ordinal or a time:
/// 5G, 8GB, 65W, 4K, 10x, 2nd, 90s, 3pm, 1080p.
const UNITS: &[&str] = &[
    "g", "gb", "tb", "mb", "kb", "w", "k", "x", "d", "h", "hr", "s", "m", "mm", "cm", "nm", "km", "p", "st",
    "nd", "rd", "th", "am", "pm", "yo", "v", "a", "db", "ms", "kg", "lb", "oz", "in", "ft", "c", "f", "b",
    "bn", "mn", "hz", "mp", "ml", "l", "y",
];

/// Nouns after a number that make it a quantity: "Watch 2 years", "Top 5 reasons".
const QUANTITY_NOUNS: &[&str] = &[
    "years", "year", "yrs", "months", "month", "weeks", "week", "days", "day", "hours", "hour", "hrs",
    "minutes", "minute", "mins", "min", "seconds", "secs", "stars", "star", "times", "percent", "people",
    "units", "million", "billion", "thousand", "points", "pts", "reasons", "things", "ways", "tips", "of",
    "out", "more", "other", "others", "users", "phones", "devices", "models", "colors", "colours", "inches",
    "inch", "dollars", "bucks",
];

/// Product-line nouns: a name with a number ("Watch 3", "Phone 2"), never
/// a name alone.
const CATEGORY_NOUNS: &[&str] = &[
    "phone",
    "watch",
    "band",
    "tab",
    "tablet",
    "pad",
    "buds",
    "pods",
    "earbuds",
    "headphones",
    "speaker",
    "laptop",
    "book",
    "pen",
    "stylus",
    "ring",
    "glasses",
    "tv",
    "dock",
    "hub",
];

/// Words before a single quoted word that announce a name: the new “Falcon”.
const QUOTE_CUES: &[&str] = &[
    "new",
    "upcoming",
    "next",
    "rumored",
    "rumoured",
    "leaked",
    "codenamed",
    "codename",
    "dubbed",
    "named",
    "unreleased",
    "unannounced",
    "all-new",
];

/// Nouns after a model number that make it a component's: "A15 chip".
const COMPONENT_NOUNS: &[&str] =
    &["chip", "chips", "chipset", "processor", "soc", "cpu", "gpu", "npu", "modem", "sensor", "engine"];

/// Nouns after a name that make it a feature, service or slogan, not a
/// product: “Night Sight” mode, Kestrel Health app.
const FEATURE_NOUNS: &[&str] = &[
    "mode",
    "modes",
    "feature",
    "features",
    "button",
    "setting",
    "settings",
    "option",
    "options",
    "menu",
    "tab",
    "effect",
    "effects",
    "filter",
    "filters",
    "campaign",
    "ad",
    "ads",
    "slogan",
    "tagline",
    "experience",
    "technology",
    "tech",
    "program",
    "programme",
    "plan",
    "subscription",
    "service",
    "update",
    "theme",
    "colour",
    "color",
    "finish",
    "bug",
    "issue",
    "problem",
    "error",
    "message",
    "notification",
    "warning",
    "label",
    "sticker",
    "sale",
    "deal",
    "promise",
    "policy",
    "app",
    "apps",
    "integration",
    "extension",
    "plugin",
    "account",
    "storage",
    "team",
    "store",
    "website",
    "event",
    "keynote",
    "assistant",
];

/// Capitalised words that are not product names, in groups of lower-case
/// words separated by spaces (read by [`is_stopword`]).
const STOPWORDS: &[&str] = &[
    // Pronouns, determiners, question words.
    "i me my mine we us our ours you your yours he him his she her hers it its they them their theirs this
     that these those the a an some any all every each no not none both either neither another other such
     what which who whom whose why how when where there here everyone everybody someone anyone nobody
     nothing something anything everything",
    // Prepositions and conjunctions.
    "and but or nor so yet for with without from to of in on at by about above below over under into onto
     after before since until while because if unless than then though although vs versus via per like as
     against between during through across near off out up down around also",
    // Auxiliaries and common verbs.
    "is are was were be been being am has have had having do does did done will would can could should
     shall may might must get gets got make makes made say says said see sees saw know knows think thinks
     want wants need needs use uses used try tries tried go goes went going come comes came coming take
     takes took give gives gave let lets keep keeps kept look looks buy buys bought sell sells sold pay paid
     work works worked working stop stops start starts started check meet watching thinking getting making
     trying selling buying",
    // Verbs of headlines.
    "announces announced announce announcing launches launched launching unveils unveiled unveil releases
     released release reveals revealed reveal confirms confirmed teases teased tease drops dropped cuts
     raises raised beats beat sues sued wins won loses lost hires fires fired plans planned opens opened
     closes closed recalls recalled fixes fixed fix sucks rocks rules cares pushes pushed kills killed brings
     adds added removes removed expands partners acquires acquired reports reported posts posted ships
     shipped delays delayed warns denies admits slashes hikes faces responds apologizes apologises
     introduces introduced debuts debuted leaks leaked claims promises rolls blames bans banned joins leaves
     returns",
    // Adverbs, adjectives, interjections.
    "just still even now only really very too again never always ever already soon finally officially
     reportedly quietly honestly literally actually basically seriously definitely totally probably maybe
     please thanks thank yes yeah nope ok okay lol lmao wow omg best worst better worse good great bad new old
     big small first last next latest upcoming top free official original real true full huge nice cool
     amazing awesome terrible horrible awful fake cheap expensive premium budget flagship flagships more most
     less much many same different own well sure hello hey exclusive breaking update updated edit psa rip",
    // Time.
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july august
     september october november december jan feb mar apr jun jul aug sep sept oct nov dec today tonight
     tomorrow yesterday day days week weeks weekend month months year years morning evening night spring
     summer autumn fall winter christmas easter holiday holidays season forever",
    // Company, retail and support words.
    "mobile mobiles inc ltd llc corp corporation company group holdings global international worldwide
     electronics technologies technology tech labs audio support store stores shop shops outlet team app
     apps customer customers service services care updates software firmware event events keynote news
     stock stocks shares share investors earnings revenue profits profit sales sale ceo founder fans fan
     users user owners owner community forum forums subreddit account accounts cloud website site online
     help center centre warranty repair repairs headquarters launch review reviews unboxing giveaway deal
     deals offer offers promo discount coupon black cyber prime version leak rumor rumors rumour rumours
     press marketing ad ads commercial engineers engineering employees staff workers office factory retail
     partner brand brands logo careers jobs lawsuit patent patents recall ecosystem id login",
    // Category nouns in the plural and generic ones (singular product-line
    // nouns are in CATEGORY_NOUNS: they may take a number).
    "phones smartphone smartphones tablets laptops headphone earphones speakers charger chargers case cases
     cable cables accessories accessory device devices product products gadget gadgets lineup range family
     models model battery camera screen display price prices smartwatch wearable wearables foldable
     foldables soundbar",
    // Numbered parts.
    "part episode chapter step round level page number vol volume issue tier generation gen",
    // Operating systems and platforms.
    "android ios ipados macos windows linux wearos harmonyos chrome chromeos gemini alexa siri",
    // Places.
    "india china japan korea germany france spain italy europe european america american usa uk canada
     australia brazil mexico indonesia vietnam thailand philippines malaysia singapore turkey russia africa
     asia nigeria pakistan bangladesh uae dubai london paris berlin tokyo beijing shenzhen north south east
     west world",
    // Colours.
    "white silver grey gray blue red green gold pink purple orange yellow graphite midnight titanium rose",
    // Social media.
    "fail fails love loves hate hates life gang squad nation army lovers haters fanboys fanboy vibes moment
     challenge tips tricks hacks thread reddit twitter youtube tiktok instagram follow rt dm",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Brand spans as brand matching gives them: every whole-word,
    /// case-insensitive occurrence of the given names (brand index by position).
    fn spans(text: &str, brands: &[&str]) -> Vec<(usize, usize, usize)> {
        let lower = text.to_ascii_lowercase();
        let mut out = Vec::new();
        for (b, brand) in brands.iter().enumerate() {
            let needle = brand.to_ascii_lowercase();
            for (i, _) in lower.match_indices(&needle) {
                let end = i + needle.len();
                let before = text[..i].chars().next_back();
                let after = text[end..].chars().next();
                if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
                    out.push((i, end, b));
                }
            }
        }
        out
    }

    fn run(text: &str) -> Vec<Candidate> {
        candidates(text, &spans(text, &["Kestrel", "Lumio", "Orbix"]), &[])
    }

    fn surfaces(text: &str) -> Vec<(String, &'static str)> {
        run(text).into_iter().map(|c| (c.surface, c.rule)).collect()
    }

    #[track_caller]
    fn assert_found(text: &str, expected: &[(&str, &str)]) {
        let got = surfaces(text);
        let got: Vec<(&str, &str)> = got.iter().map(|(s, r)| (s.as_str(), *r)).collect();
        assert_eq!(got, expected, "in {text:?}");
    }

    #[track_caller]
    fn assert_none(text: &str) {
        assert_eq!(surfaces(text), [], "in {text:?}");
    }

    #[test]
    fn model_numbers_after_a_brand() {
        assert_found("Just got the Kestrel X300 and wow", &[("X300", RULE_MODEL_NUMBER)]);
        assert_found("Kestrel X300 Ultra leaks show a periscope", &[("X300 Ultra", RULE_MODEL_NUMBER)]);
        assert_found("Orbix S10 vs Pixel, which one?", &[("S10", RULE_MODEL_NUMBER)]);
        assert_found("Lumio XM-6 review: best ANC yet?", &[("XM-6", RULE_MODEL_NUMBER)]);
        assert_found("The Orbix Pods 4 keep disconnecting", &[("Pods 4", RULE_MODEL_NUMBER)]);
        assert_found("Orbix S10+ or S10 Ultra?", &[("S10+", RULE_MODEL_NUMBER)]);
        assert_found("Kestrel X300 Pro Max 5G spotted", &[("X300 Pro Max 5G", RULE_MODEL_NUMBER)]);
        assert_found("Kestrel Nova Fold 4 hinge is creaky", &[("Nova Fold 4", RULE_MODEL_NUMBER)]);
        assert_found("Lumio Buds 3 Gen 2 when?", &[("Buds 3 Gen 2", RULE_MODEL_NUMBER)]);
        assert_found("kestrel x300 pro battery is a joke", &[("x300 pro", RULE_MODEL_NUMBER)]);
    }

    #[test]
    fn model_numbers_after_fillers_and_possessives() {
        assert_found("Kestrel's new X300 looks great", &[("X300", RULE_MODEL_NUMBER)]);
        assert_found("Kestrel announces the X300 Lite for $299", &[("X300 Lite", RULE_MODEL_NUMBER)]);
        assert_found("Kestrel’s upcoming A7 leaked", &[("A7", RULE_MODEL_NUMBER)]);
        // Three words away is too far.
        assert_none("Kestrel will probably announce X300 soon");
    }

    #[test]
    fn lower_case_suffix_words_need_a_lower_case_model() {
        assert_found("Kestrel X300 max brightness is low", &[("X300", RULE_MODEL_NUMBER)]);
    }

    #[test]
    fn units_ordinals_years_and_quantities_are_not_models() {
        for text in [
            "Kestrel 5G coverage is bad",
            "Kestrel 8GB RAM is not enough",
            "Kestrel 65W charger died",
            "Orbix in 2025",
            "Orbix 2025 lineup",
            "Kestrel 2nd gen was better",
            "Kestrel IP68 rating is a lie",
            "Kestrel Q3 earnings beat estimates",
            "Kestrel Watch 2 years later",
            "Kestrel Stock 5% down",
            "Kestrel Top 5 features",
            "Kestrel Day 1 impressions",
            "Kestrel v2 firmware",
            "I gave it 5 stars",
            "Lumio 4K streaming",
            // A component's model number, an operating system's version.
            "My Kestrel A15 chip gets hot",
            "Kestrel Android 15 update rolling out",
        ] {
            assert_none(text);
        }
    }

    #[test]
    fn capitalised_names_after_a_brand() {
        assert_found("Has anyone tried the Kestrel Falcon yet?", &[("Falcon", RULE_CAPITALISED)]);
        assert_found("the Kestrel Falcon Edge is gorgeous", &[("Falcon Edge", RULE_CAPITALISED)]);
        assert_found("my Kestrel Falcon Pro arrived today", &[("Falcon Pro", RULE_CAPITALISED)]);
        // A stopword ends the name.
        assert_found("Kestrel Falcon Review in the comments", &[("Falcon", RULE_CAPITALISED)]);
    }

    #[test]
    fn generic_words_after_a_brand_are_not_names() {
        for text in [
            "Kestrel support was useless",
            "Kestrel Support was useless",
            "Kestrel Mobile announced a new phone",
            "Kestrel The best phone I have owned",
            "Kestrel Store in Berlin is closing",
            "Kestrel Team please fix this",
            "Kestrel CEO says sorry",
            "Kestrel Monday update broke everything",
            "Kestrel India prices are up",
            "I switched from Orbix. Kestrel Falcon next",
            "Kestrel, Lumio and Orbix all raised prices",
            "Kestrel Lumio Orbix",
            // Services and features, not products.
            "Kestrel Health app keeps crashing",
            "Kestrel Cloud storage is full",
            "Kestrel Watch is fine",
        ] {
            let got = surfaces(text);
            assert!(
                got.iter().all(|(s, _)| s != "Support" && s != "Mobile" && s != "The"),
                "{text:?}: {got:?}"
            );
            if !text.contains("Falcon") {
                assert_eq!(got, [], "in {text:?}");
            }
        }
        // After a full stop the capital is the sentence's.
        assert_found("I switched from Orbix. Kestrel Falcon next", &[("Falcon", RULE_CAPITALISED)]);
    }

    #[test]
    fn title_case_lines_give_no_capitalised_names() {
        assert_none("Kestrel Announces Record Profits Amid Supply Worries");
        assert_none("Kestrel Falcon Hands On: Bigger Battery, Better Camera");
        // Model numbers are still found in a headline.
        assert_found(
            "Kestrel Announces X300 Ultra With Bigger Battery",
            &[("X300 Ultra", RULE_MODEL_NUMBER)],
        );
    }

    #[test]
    fn hashtags_with_a_brand_prefix() {
        // Brand matching does not see "Kestrel" in #KestrelX300, so a text
        // with nothing else has no brand and no candidate.
        assert_found("Can't wait! #KestrelX300", &[]);
        assert_found("Kestrel, can't wait! #KestrelX300", &[("X300", RULE_HASHTAG)]);
        assert_found("Kestrel did it again #KestrelX300Ultra", &[("X300Ultra", RULE_HASHTAG)]);
        assert_found("#kestrelx300 in stock?", &[]);
        assert_found("Kestrel fans #kestrelx300", &[("x300", RULE_HASHTAG)]);
        assert_found("Kestrel teaser #Kestrel_Falcon", &[("Falcon", RULE_HASHTAG)]);
        assert_found("Kestrel teaser #KestrelFalconEdge", &[("FalconEdge", RULE_HASHTAG)]);
        let c = run("Kestrel did it again #KestrelX300Ultra");
        assert_eq!(c[0].normalized, "x300ultra");
        assert_eq!(c[0].brand, Some(0));
    }

    #[test]
    fn hashtags_that_are_model_numbers() {
        let c = run("Lumio finally did it #XM6Pro #audio");
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].surface.as_str(), c[0].brand, c[0].rule), ("XM6Pro", Some(1), RULE_HASHTAG));
        // Which brand, when two are mentioned, is not known.
        let c = run("Lumio or Orbix? #S10Ultra");
        assert_eq!((c[0].surface.as_str(), c[0].brand), ("S10Ultra", None));
    }

    #[test]
    fn generic_hashtags_are_not_names() {
        for text in [
            "Kestrel #android #tech #deal",
            "Kestrel at #MWC2025 #CES2025",
            "Kestrel #5G #4K #IP68 #Q3",
            "Kestrel #iPhone16 #Pixel9",
            "Kestrel #KestrelFans #KestrelSupport #KestrelFail",
            "Kestrel #Kestrel",
            "#X300Ultra with no brand in the text",
            "Kestrel C#7 code",
        ] {
            let got = surfaces(text);
            let expected: &[(String, &str)] = &[];
            assert_eq!(got, expected, "in {text:?}");
        }
        assert!(candidates("#X300Ultra with no brand", &[], &[]).is_empty());
    }

    #[test]
    fn quoted_names_near_a_brand() {
        assert_found(
            "Kestrel is about to launch the new “Falcon Edge” next month",
            &[("Falcon Edge", RULE_QUOTED)],
        );
        assert_found(
            "rumour: Kestrel's next flagship is called \"X300 Ultra\"",
            &[("X300 Ultra", RULE_QUOTED)],
        );
        assert_found("Orbix is teasing its new \"Halo\" in a video", &[("Halo", RULE_QUOTED)]);
        assert_found("\u{201c}Kestrel Falcon\u{201d} is real, says a leaker", &[("Falcon", RULE_QUOTED)]);
        assert_found("Kestrel's \"Falcon\" is real", &[]);
        let c = run("Lumio confirmed the codenamed \u{201c}Aria\u{201d} earbuds");
        assert_eq!((c[0].surface.as_str(), c[0].brand), ("Aria", Some(1)));
    }

    #[test]
    fn quotes_that_are_not_names() {
        for text in [
            // Speech, scare quotes, slogans, features.
            "Kestrel said \"we are listening\" again",
            "Kestrel calls it \"Revolutionary\" lol",
            "Kestrel's \u{201c}Premium\u{201d} build is plastic",
            "Kestrel's \u{201c}Night Sight\u{201d} mode is bad",
            "Kestrel support said \"Top 5\" issue",
            "Kestrel's \"Customer Care\" is a joke",
            // Too far from the brand.
            "Kestrel is one of many brands that I have been thinking about for a while now honestly and the new \u{201c}Falcon Edge\u{201d}",
            // No brand at all.
            "the new \u{201c}Falcon Edge\u{201d} looks great",
            "\"Kestrel\" is trending",
        ] {
            assert_eq!(surfaces(text), [], "in {text:?}");
        }
    }

    #[test]
    fn linked_products_and_brand_aliases_are_dropped() {
        let text = "Kestrel X200 is fine but the Kestrel X300 is better";
        let brands = spans(text, &["Kestrel"]);
        let x200 = text.find("X200").unwrap();
        let got = candidates(text, &brands, &[(brands[0].0, x200 + 4)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].surface, "X300");
        // A linked span covering only the model number is enough too.
        assert!(candidates("Kestrel X200", &[(0, 7, 0)], &[(8, 12)]).is_empty());
        // "Kestrel Mobile" is the brand alias itself.
        assert!(candidates("Kestrel Mobile announced", &[(0, 14, 0)], &[]).is_empty());
    }

    #[test]
    fn one_candidate_per_key_per_text() {
        let c = run("Kestrel X300 leak! #KestrelX300 and the Kestrel X-300 again");
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].surface.as_str(), c[0].normalized.as_str(), c[0].rule),
            ("X300", "x300", RULE_MODEL_NUMBER)
        );
    }

    #[test]
    fn offsets_are_bytes_into_the_text() {
        let text = "🔥🔥 Wow, the Kestrel X300 Ultra 😍 and #KestrelNova4";
        let c = run(text);
        assert_eq!(c.len(), 2);
        for candidate in &c {
            assert_eq!(&text[candidate.start..candidate.end], candidate.surface);
        }
        assert_eq!(c[0].start, text.find("X300").unwrap());
        assert_eq!(c[0].surface, "X300 Ultra");
        assert_eq!(c[1].surface, "Nova4");
        assert_eq!(c[1].normalized, "nova4");
    }

    #[test]
    fn brand_index_is_the_callers() {
        let text = "Orbix S10 and Lumio XM-6";
        let c = candidates(text, &[(0, 5, 7), (14, 19, 3)], &[]);
        let got: Vec<(&str, Option<usize>)> = c.iter().map(|c| (c.surface.as_str(), c.brand)).collect();
        assert_eq!(got, [("S10", Some(7)), ("XM-6", Some(3))]);
    }

    #[test]
    fn normalised_keys() {
        assert_eq!(normalize_key("X300 Ultra"), "x300ultra");
        assert_eq!(normalize_key("XM-6"), "xm6");
        assert_eq!(normalize_key("Ｘ３００"), "x300");
        assert_eq!(normalize_key("S10+"), "s10+");
    }

    #[test]
    fn tokens_and_segments() {
        let text = "XM-6, S9+ wow-";
        let words: Vec<&str> = tokenize(text).iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(words, ["XM-6", "S9+", "wow"]);
        assert_eq!(segments("X300Ultra"), ["X", "300", "Ultra"]);
        assert_eq!(segments("XMPro_2"), ["XM", "Pro", "2"]);
        assert!(is_model_token("7T"));
        assert!(!is_model_token("5G"));
        assert!(!is_model_token("2nd"));
        assert!(!is_model_token("USB3"));
        assert!(is_model_token("A5"));
    }

    #[test]
    fn stoplists_are_lower_case() {
        let lists = [
            STOPWORDS,
            FILLERS,
            SUFFIXES,
            QUANTITY_NOUNS,
            QUOTE_CUES,
            FEATURE_NOUNS,
            GENERIC_PREFIXES,
            GENERIC_TOKENS,
            UNITS,
            CATEGORY_NOUNS,
        ];
        for list in lists {
            assert!(list.iter().all(|w| w.to_lowercase() == *w), "{list:?}");
        }
        // A product-line noun must be able to take a number ("Watch 3").
        for noun in CATEGORY_NOUNS {
            assert!(!is_stopword(noun), "{noun}");
        }
        assert!(is_stopword("Support") && is_stopword("forever") && !is_stopword("Falcon"));
    }
}
