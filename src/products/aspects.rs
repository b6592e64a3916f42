//! The aspect lexicon: what about a product a sentence talks about (battery,
//! camera, price, ...), so that a product mention can carry "negative on
//! battery" rather than only "negative".
//!
//! Every synonym of every aspect goes into one Aho-Corasick automaton,
//! searched once per sentence (overlapping, so a candidate that fails a check
//! never hides a shorter one that passes). Rules:
//!
//! * **Folding**: the sentence and the synonyms are lower-cased; runs of
//!   whitespace, `-` and `_` count as one space ("noise-cancelling" is "noise
//!   cancelling", the aspect name `build_quality` is "build quality"); `’` is `'`.
//!   Synonyms are NFKC-normalised first (the text should already be, see
//!   [`crate::normalize`]).
//! * **Whole words**: where a synonym starts (ends) with a letter or digit, the
//!   text character before (after) it must not be one, as in
//!   [`crate::matching`]: "hot" is not found in "photos", "app" not in
//!   "happy". One exception: a number glued in front is allowed, so "mAh"
//!   matches "5000mAh" and "hz" matches "120Hz".
//! * **Plurals**: each single- or multi-word synonym also matches with a
//!   simple English plural ending ("bug" → "bugs", "battery" → "batteries",
//!   "patch" → "patches"), except words whose "-s" form is mostly a verb
//!   ("supports", "builds", "displays", "values").
//! * **Two-letter capitals** ("OS", "UI", "EQ") match only in capitals: "os"
//!   and "ui" are common words in Portuguese and French.
//! * **Currency signs** ("$", "€") match only next to a number ("$999",
//!   "999 €"), not in cashtags ("$KSTR").
//! * **Idioms veto**: a small built-in list of phrases ("in order to", "deal
//!   with", "free of charge", "sounds like", ...) cancels any synonym they
//!   overlap, whatever lexicon is configured.
//! * **Overlaps** resolve leftmost-longest across aspects: "feels cheap" is
//!   build quality, not price; "fast charging" is battery, not performance.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::UnicodeNormalization;

use crate::matching::is_word_char;

/// Why a configured lexicon was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AspectError {
    /// An aspect name is empty or only spaces.
    #[error("an aspect has an empty name")]
    EmptyName,
    /// A synonym is empty (or only spaces and dashes).
    #[error("aspect {aspect:?} has an empty synonym")]
    EmptySynonym {
        /// The aspect it was listed under.
        aspect: String,
    },
    /// One synonym (after case folding) listed under two aspects: a mention
    /// could not say which it is about.
    #[error("synonym {synonym:?} is claimed by both aspect {first:?} and aspect {second:?}")]
    Duplicate {
        /// The synonym as written under `second`.
        synonym: String,
        /// The aspect that listed it first.
        first: String,
        /// The aspect that listed it again.
        second: String,
    },
    /// The automaton could not be built (only absurdly large lexicons can cause it).
    #[error("the aspect lexicon could not be compiled: {0}")]
    Build(String),
}

/// The aspects and their synonyms, compiled once.
#[derive(Debug, Clone)]
pub struct AspectLexicon {
    aspects: Vec<Aspect>,
    /// `None` when there is nothing to search for.
    automaton: Option<AhoCorasick>,
    /// What each pattern of the automaton stands for, by pattern id.
    patterns: Vec<Pattern>,
}

/// One aspect as configured.
#[derive(Debug, Clone)]
struct Aspect {
    name: String,
    synonyms: Vec<String>,
}

/// One distinct folded string in the automaton.
#[derive(Debug, Clone)]
struct Pattern {
    role: Role,
    /// The text before it must not be a word character (a digit is allowed).
    check_before: bool,
    /// The text after it must not be a word character.
    check_after: bool,
    /// Only currency signs: needs a number next to it.
    currency: bool,
    /// Must appear in the text exactly so written (two-letter capitals).
    exact: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A synonym of the aspect with this index.
    Aspect(usize),
    /// An idiom that cancels the synonyms it overlaps.
    Veto,
}

/// The built-in lexicon: aspect name and synonyms, for phones, audio and
/// wearables posts. Product names stay out: a catalog product is not an aspect.
const DEFAULTS: &[(&str, &[&str])] = &[
    (
        "battery",
        &[
            "battery",
            "battery life",
            "battery drain",
            "charge",
            "charging",
            "charger",
            "recharge",
            "fast charge",
            "fast charging",
            "quick charge",
            "slow charging",
            "wireless charging",
            "charging speed",
            "drain",
            "draining",
            "dies by",
            "died by",
            "dies before",
            "dead by",
            "lasts all day",
            "lasts a day",
            "lasts the whole day",
            "out of juice",
            "mAh",
            "screen on time",
            "SOT",
            "standby",
            "endurance",
        ],
    ),
    (
        "camera",
        &[
            "camera",
            "cam",
            "photo",
            "photography",
            "picture",
            "pic",
            "lens",
            "lenses",
            "zoom",
            "telephoto",
            "periscope",
            "ultrawide",
            "ultra wide",
            "wide angle",
            "night mode",
            "night shots",
            "low light",
            "portrait mode",
            "selfie",
            "video recording",
            "4k video",
            "stabilization",
            "stabilisation",
            "OIS",
            "autofocus",
            "megapixel",
            "mp",
            "shutter",
            "bokeh",
            "image quality",
            "image processing",
        ],
    ),
    (
        "screen",
        &[
            "screen",
            "display",
            "brightness",
            "OLED",
            "AMOLED",
            "LCD",
            "LTPO",
            "refresh rate",
            "120hz",
            "hz",
            "nits",
            "bezel",
            "notch",
            "punch hole",
            "resolution",
            "glare",
            "touchscreen",
            "touch screen",
            "screen protector",
            "burn in",
            "dead pixel",
            "green line",
            "pwm",
            "viewing angles",
            "color accuracy",
            "colour accuracy",
        ],
    ),
    (
        "sound",
        &[
            "sound",
            "sound quality",
            "audio",
            "bass",
            "treble",
            "mids",
            "ANC",
            "noise cancelling",
            "noise canceling",
            "noise cancellation",
            "transparency mode",
            "ambient mode",
            "speaker",
            "mic",
            "microphone",
            "volume",
            "loud",
            "loudness",
            "soundstage",
            "EQ",
            "equalizer",
            "equaliser",
            "call quality",
            "codec",
            "LDAC",
            "aptX",
            "hiss",
            "distortion",
            "crackling",
            "muffled",
            "tinny",
        ],
    ),
    (
        "performance",
        &[
            "performance",
            "speed",
            "fast",
            "faster",
            "slow",
            "slower",
            "sluggish",
            "lag",
            "laggy",
            "lagging",
            "stutter",
            "stuttering",
            "smooth",
            "smoothly",
            "snappy",
            "chip",
            "chipset",
            "processor",
            "CPU",
            "GPU",
            "SoC",
            "RAM",
            "overheat",
            "overheating",
            "heat",
            "heats up",
            "hot",
            "throttling",
            "thermal",
            "thermals",
            "benchmark",
            "geekbench",
            "antutu",
            "frame drops",
            "fps",
            "ghz",
            "multitasking",
            "freezes",
        ],
    ),
    (
        "price",
        &[
            "price",
            "priced",
            "pricing",
            "pricey",
            "cost",
            "costly",
            "expensive",
            "cheap",
            "cheaper",
            "cheapest",
            "overpriced",
            "affordable",
            "worth it",
            "worth the money",
            "value",
            "value for money",
            "bang for the buck",
            "bang for your buck",
            "$",
            "€",
            "£",
            "₹",
            "bucks",
            "dollars",
            "euros",
            "deal",
            "discount",
            "on sale",
            "msrp",
            "rip off",
            "ripoff",
            "money",
        ],
    ),
    (
        "delivery",
        &[
            "delivery",
            "delivered",
            "shipping",
            "shipped",
            "shipment",
            "arrived",
            "arrival",
            "courier",
            "package",
            "parcel",
            "order",
            "ordered",
            "tracking",
            "tracking number",
            "dispatched",
            "out for delivery",
            "backorder",
            "fast shipping",
            "slow shipping",
            "fast delivery",
            "slow delivery",
            "shipping speed",
            "delivery time",
            "dhl",
            "fedex",
        ],
    ),
    (
        "customer_service",
        &[
            "customer service",
            "customer support",
            "customer care",
            "support",
            "tech support",
            "support team",
            "warranty",
            "RMA",
            "repair",
            "repaired",
            "refund",
            "refunded",
            "return",
            "returned",
            "replacement",
            "helpdesk",
            "help desk",
            "service center",
            "service centre",
            "live chat",
            "hotline",
            "call center",
            "call centre",
        ],
    ),
    (
        "build_quality",
        &[
            "build quality",
            "build",
            "built",
            "well built",
            "solid build",
            "feels cheap",
            "cheaply made",
            "cheap plastic",
            "plastic",
            "plasticky",
            "premium",
            "premium feel",
            "sturdy",
            "flimsy",
            "cracked",
            "crack",
            "hinge",
            "crease",
            "scratch",
            "scratched",
            "scuff",
            "scuffed",
            "dent",
            "dented",
            "durable",
            "durability",
            "creaky",
            "creak",
            "rattle",
            "wobbly",
            "water resistance",
            "waterproof",
            "IP68",
            "materials",
            "aluminium",
            "aluminum",
            "metal frame",
            "glass back",
            "fit and finish",
            "craftsmanship",
        ],
    ),
    (
        "software",
        &[
            "software",
            "update",
            "updated",
            "updating",
            "firmware",
            "OS",
            "operating system",
            "bug",
            "buggy",
            "app",
            "patch",
            "security patch",
            "UI",
            "user interface",
            "crash",
            "crashing",
            "glitch",
            "glitchy",
            "bloatware",
            "notification",
            "beta",
            "rollout",
            "changelog",
            "reboot",
            "bootloop",
            "boot loop",
        ],
    ),
];

/// Idioms that contain a synonym but are not about it. Each cancels the
/// synonym occurrences it overlaps (a synonym that contains the whole idiom
/// stands).
const VETOES: &[&str] = &[
    "in order to",
    "in order for",
    "out of order",
    "free of charge",
    "in charge",
    "take charge",
    "took charge",
    "deal with",
    "dealt with",
    "dealing with",
    "big deal",
    "great deal of",
    "good deal of",
    "sounds like",
    "sound like",
    "hot take",
    "hot takes",
    "hot topic",
    "hot spot",
    "hot garbage",
    "hot mess",
    "support for",
    "in support of",
    "in return",
    "return to",
    "returned to",
    "beta build",
    "dev build",
    "software build",
    "build number",
    "built in",
    "up to speed",
    "zoom call",
    "zoom calls",
    "zoom meeting",
    "on zoom",
    "update:",
    "thanks for the update",
    "screen time",
    "screen name",
    "on display",
    "display name",
    "share price",
    "stock price",
    "from scratch",
];

/// Synonyms whose "-s" form is mostly a verb, not a plural.
const NO_PLURAL: &[&str] = &["support", "build", "display", "value"];

impl AspectLexicon {
    /// The built-in lexicon: 10 aspects with synonyms (battery, camera,
    /// screen, sound, performance, price, delivery, customer_service,
    /// build_quality, software).
    pub fn defaults() -> AspectLexicon {
        let aspects = DEFAULTS
            .iter()
            .map(|(name, synonyms)| Aspect {
                name: (*name).to_owned(),
                synonyms: synonyms.iter().map(|s| (*s).to_owned()).collect(),
            })
            .collect();
        // The table is checked by a test, so lenient compiling only ever
        // skips what cannot be there.
        compile(aspects, false).unwrap_or_else(|error| {
            tracing::error!(%error, "built-in aspect lexicon could not be compiled; no aspect will be found");
            AspectLexicon { aspects: Vec::new(), automaton: None, patterns: Vec::new() }
        })
    }

    /// From the config: aspect name → synonyms (the name itself also matches,
    /// with `_` read as a space). Replaces the defaults entirely. Matching
    /// follows the module rules: a two-capital synonym such as "OS" matches
    /// only in capitals, the built-in idioms still veto. Refused if a name or
    /// synonym is empty, or if one synonym (compared case-folded) belongs to
    /// two aspects.
    pub fn new(aspects: &BTreeMap<String, Vec<String>>) -> Result<AspectLexicon, AspectError> {
        let aspects = aspects
            .iter()
            .map(|(name, synonyms)| Aspect { name: name.trim().to_owned(), synonyms: synonyms.clone() })
            .collect();
        compile(aspects, true)
    }

    /// Aspect names in the order first found in `sentence`, each once.
    pub fn find(&self, sentence: &str) -> Vec<&str> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let folded = FoldedText::new(sentence);
        let mut hits: Vec<(usize, usize, usize)> = Vec::new();
        let mut vetoes: Vec<(usize, usize)> = Vec::new();
        for m in automaton.find_overlapping_iter(folded.text.as_str()) {
            let Some(pattern) = self.patterns.get(m.pattern().as_usize()) else {
                continue;
            };
            if !accepts(pattern, &folded, sentence, m.start(), m.end()) {
                continue;
            }
            match pattern.role {
                Role::Aspect(aspect) => hits.push((m.start(), m.end(), aspect)),
                Role::Veto => vetoes.push((m.start(), m.end())),
            }
        }
        hits.retain(|&(start, end, _)| {
            !vetoes.iter().any(|&(vs, ve)| vs < end && start < ve && !(start <= vs && ve <= end))
        });
        hits.sort_unstable_by_key(|&(start, end, aspect)| (start, Reverse(end), aspect));
        let mut found: Vec<&str> = Vec::new();
        let mut last_end = 0;
        for (start, end, aspect) in hits {
            if start < last_end {
                continue;
            }
            last_end = end;
            if let Some(a) = self.aspects.get(aspect)
                && !found.contains(&a.name.as_str())
            {
                found.push(a.name.as_str());
            }
        }
        found
    }

    /// The (name, synonyms) pairs as configured, for printing and config docs.
    pub fn aspects(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.aspects.iter().map(|a| (a.name.as_str(), a.synonyms.as_slice()))
    }
}

/// Builds the automaton. `strict`: report empty and duplicate synonyms
/// instead of skipping them.
fn compile(aspects: Vec<Aspect>, strict: bool) -> Result<AspectLexicon, AspectError> {
    let mut strings: Vec<String> = Vec::new();
    let mut patterns: Vec<Pattern> = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    // Synonyms as written first, generated plurals after: a plural never
    // takes a string away from the aspect that lists it.
    let mut plurals: Vec<(String, usize)> = Vec::new();
    for (index, aspect) in aspects.iter().enumerate() {
        if aspect.name.is_empty() {
            if strict {
                return Err(AspectError::EmptyName);
            }
            continue;
        }
        for written in std::iter::once(&aspect.name).chain(&aspect.synonyms) {
            let folded = fold_term(written);
            if folded.is_empty() {
                if strict {
                    return Err(AspectError::EmptySynonym { aspect: aspect.name.clone() });
                }
                continue;
            }
            let exact = is_short_capitals(written.trim()).then(|| written.trim().to_owned());
            match ids.get(&folded).and_then(|&id| patterns.get_mut(id)) {
                Some(existing) => match existing.role {
                    Role::Aspect(other) if other == index => {
                        // Written once in capitals and once not: the lenient form wins.
                        if exact.is_none() {
                            existing.exact = None;
                        }
                    }
                    Role::Aspect(other) => {
                        if strict {
                            let first = aspects.get(other).map(|a| a.name.clone()).unwrap_or_default();
                            return Err(AspectError::Duplicate {
                                synonym: written.clone(),
                                first,
                                second: aspect.name.clone(),
                            });
                        }
                    }
                    Role::Veto => {}
                },
                None => {
                    ids.insert(folded.clone(), strings.len());
                    patterns.push(pattern(&folded, Role::Aspect(index), exact.clone()));
                    strings.push(folded.clone());
                }
            }
            if exact.is_none()
                && let Some(plural) = plural(&folded)
            {
                plurals.push((plural, index));
            }
        }
    }
    for (plural, index) in plurals {
        if !ids.contains_key(&plural) {
            ids.insert(plural.clone(), strings.len());
            patterns.push(pattern(&plural, Role::Aspect(index), None));
            strings.push(plural);
        }
    }
    for veto in VETOES {
        let folded = fold_term(veto);
        if !ids.contains_key(&folded) {
            ids.insert(folded.clone(), strings.len());
            patterns.push(pattern(&folded, Role::Veto, None));
            strings.push(folded);
        }
    }
    let any_aspect = patterns.iter().any(|p| matches!(p.role, Role::Aspect(_)));
    let automaton = if any_aspect {
        // Standard semantics: overlapping search needs them, and it lets a
        // longer candidate that fails a check leave the shorter one standing.
        let built = AhoCorasick::builder().match_kind(MatchKind::Standard).build(&strings);
        Some(built.map_err(|e| AspectError::Build(e.to_string()))?)
    } else {
        None
    };
    Ok(AspectLexicon { aspects, automaton, patterns })
}

fn pattern(folded: &str, role: Role, exact: Option<String>) -> Pattern {
    let first = folded.chars().next();
    let last = folded.chars().next_back();
    Pattern {
        role,
        check_before: first.is_some_and(is_word_char),
        check_after: last.is_some_and(is_word_char),
        currency: !folded.is_empty() && folded.chars().all(is_currency),
        exact,
    }
}

/// Whether an occurrence at `start..end` of the folded text passes the
/// pattern's checks.
fn accepts(pattern: &Pattern, folded: &FoldedText, original: &str, start: usize, end: usize) -> bool {
    let before = folded.text.get(..start).and_then(|s| s.chars().next_back());
    let after = folded.text.get(end..).and_then(|s| s.chars().next());
    if pattern.check_before
        && let Some(c) = before
        && is_word_char(c)
    {
        // "5000mAh", "120Hz": a number glued in front of a word is a unit.
        let glued_number = c.is_ascii_digit()
            && folded.text.get(start..).and_then(|s| s.chars().next()).is_some_and(char::is_alphabetic);
        if !glued_number {
            return false;
        }
    }
    if pattern.check_after && after.is_some_and(is_word_char) {
        return false;
    }
    if pattern.currency && !number_next_to(&folded.text, start, end) {
        return false;
    }
    if let Some(exact) = &pattern.exact {
        let (Some(&s), Some(&e)) = (folded.original.get(start), folded.original.get(end)) else {
            return false;
        };
        if original.get(s..e) != Some(exact.as_str()) {
            return false;
        }
    }
    true
}

/// Whether a digit is right before `start` or right after `end`, one space allowed.
fn number_next_to(text: &str, start: usize, end: usize) -> bool {
    let after = text.get(end..).map(|s| s.strip_prefix(' ').unwrap_or(s));
    let before = text.get(..start).map(|s| s.strip_suffix(' ').unwrap_or(s));
    after.and_then(|s| s.chars().next()).is_some_and(|c| c.is_ascii_digit())
        || before.and_then(|s| s.chars().next_back()).is_some_and(|c| c.is_ascii_digit())
}

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥' | '₹' | '₩' | '₽')
}

/// "OS", "UI", "EQ": two capital letters, which read as other words when
/// lower-cased.
fn is_short_capitals(written: &str) -> bool {
    written.chars().count() == 2 && written.chars().all(|c| c.is_ascii_uppercase())
}

/// The simple English plural of a folded synonym's last word, if it has one
/// worth matching.
fn plural(folded: &str) -> Option<String> {
    let last_word = folded.rsplit(' ').next().unwrap_or(folded);
    let plain = last_word.chars().all(|c| c.is_ascii_lowercase());
    if !plain || last_word.len() < 3 || NO_PLURAL.contains(&folded) {
        return None;
    }
    if last_word.ends_with('s') || last_word.ends_with("ing") || last_word.ends_with("ed") {
        return None;
    }
    let mut plural = folded.to_owned();
    if let Some(stem) = folded.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        plural = format!("{stem}ies");
    } else if folded.ends_with(['x', 'z']) || folded.ends_with("ch") || folded.ends_with("sh") {
        plural.push_str("es");
    } else {
        plural.push('s');
    }
    Some(plural)
}

/// How a synonym or idiom is compared: NFKC, folded like the text, trimmed.
fn fold_term(term: &str) -> String {
    let normalized: String = term.nfkc().collect();
    FoldedText::new(&normalized).text.trim().to_owned()
}

/// Separators that fold into one space: a multi-word synonym matches
/// "noise-cancelling", "noise  cancelling" and `build_quality` alike.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '_' | '\u{2010}' | '\u{2011}')
}

/// A folded copy of a sentence, with the original offset of every folded byte.
struct FoldedText {
    text: String,
    /// `original[i]`: where folded byte `i` came from; one extra entry for the end.
    original: Vec<usize>,
}

impl FoldedText {
    fn new(sentence: &str) -> FoldedText {
        let mut text = String::with_capacity(sentence.len());
        let mut original = Vec::with_capacity(sentence.len() + 1);
        let mut in_space = false;
        for (i, c) in sentence.char_indices() {
            if is_separator(c) {
                if !in_space {
                    text.push(' ');
                    original.push(i);
                    in_space = true;
                }
                continue;
            }
            in_space = false;
            let before = text.len();
            match c {
                '\u{2019}' | '\u{2018}' | '\u{02BC}' => text.push('\''),
                c if c.is_ascii() => text.push(c.to_ascii_lowercase()),
                c => text.extend(c.to_lowercase()),
            }
            original.resize(original.len() + (text.len() - before), i);
        }
        original.push(sentence.len());
        FoldedText { text, original }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(sentence: &str) -> Vec<String> {
        AspectLexicon::defaults().find(sentence).into_iter().map(str::to_owned).collect()
    }

    fn config(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(name, synonyms)| ((*name).to_owned(), synonyms.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[track_caller]
    fn assert_aspects(sentence: &str, expected: &[&str]) {
        assert_eq!(find(sentence), expected, "in {sentence:?}");
    }

    #[test]
    fn the_built_in_table_would_pass_the_config_checks() {
        let table: BTreeMap<String, Vec<String>> = DEFAULTS
            .iter()
            .map(|(n, s)| ((*n).to_owned(), s.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let lexicon = AspectLexicon::new(&table).unwrap();
        assert_eq!(lexicon.aspects().count(), 10);
        let defaults = AspectLexicon::defaults();
        let names: Vec<&str> = defaults.aspects().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "battery",
                "camera",
                "screen",
                "sound",
                "performance",
                "price",
                "delivery",
                "customer_service",
                "build_quality",
                "software"
            ]
        );
        assert!(AspectLexicon::defaults().aspects().all(|(_, synonyms)| synonyms.len() >= 10));
    }

    #[test]
    fn battery() {
        assert_aspects("Battery life on the X200 is awful, dies by 3pm every day", &["battery"]);
        assert_aspects("the 5000mAh cell barely lasts all day", &["battery"]);
        assert_aspects("It drains like crazy overnight", &["battery"]);
        assert_aspects("Charging takes forever and the batteries swell", &["battery"]);
        assert_aspects("65W fast charging is the best thing about it", &["battery"]);
        assert_aspects("My Kestrel's battery's at 20% by lunch", &["battery"]);
    }

    #[test]
    fn camera() {
        assert_aspects("The camera is incredible, night mode photos look like daylight", &["camera"]);
        assert_aspects("pics are soft and the zoom is useless past 3x", &["camera"]);
        assert_aspects("Selfies come out blurry", &["camera"]);
        assert_aspects("50MP sensor but the lens flares like mad", &["camera"]);
        assert_aspects("Video recording stabilisation is excellent", &["camera"]);
    }

    #[test]
    fn screen() {
        assert_aspects("The display is gorgeous", &["screen"]);
        assert_aspects("120Hz OLED, brightness outdoors is great", &["screen"]);
        assert_aspects("bezels are thin and the refresh rate feels great", &["screen"]);
        assert_aspects("Already got burn-in after 6 months", &["screen"]);
    }

    #[test]
    fn sound() {
        assert_aspects("The ANC on these is class leading", &["sound"]);
        assert_aspects("Noise-cancelling is weak but the bass slaps", &["sound"]);
        assert_aspects("noise canceling is better than my old pair", &["sound"]);
        assert_aspects("Mic quality on calls is terrible", &["sound"]);
        assert_aspects("Speakers get tinny at max volume", &["sound"]);
        assert_aspects("These sound amazing", &["sound"]);
    }

    #[test]
    fn performance() {
        assert_aspects("It's so laggy when switching apps", &["performance", "software"]);
        assert_aspects("Gets really hot while gaming and starts throttling", &["performance"]);
        assert_aspects("Snappy, smooth, no stutter at all", &["performance"]);
        assert_aspects("8GB RAM is not enough in 2025", &["performance"]);
        assert_aspects("The chip overheats in summer", &["performance"]);
    }

    #[test]
    fn price() {
        assert_aspects("Way too expensive for what it is", &["price"]);
        assert_aspects("Overpriced at $1199", &["price"]);
        assert_aspects("Got it for 299 € on Prime Day, great deal", &["price"]);
        assert_aspects("Totally worth it", &["price"]);
        assert_aspects("pricey but good value for money", &["price"]);
    }

    #[test]
    fn delivery() {
        assert_aspects("Shipping took three weeks", &["delivery"]);
        assert_aspects("The package arrived damaged, courier threw it over the fence", &["delivery"]);
        assert_aspects("My order still hasn't shipped", &["delivery"]);
        assert_aspects("Fast shipping, arrived in two days", &["delivery"]);
    }

    #[test]
    fn customer_service() {
        assert_aspects("Customer service was useless", &["customer_service"]);
        assert_aspects("Support never answered my ticket", &["customer_service"]);
        assert_aspects("They refused the warranty repair", &["customer_service"]);
        assert_aspects("Got a refund after an RMA that took a month", &["customer_service"]);
        assert_aspects("Returned it for a replacement", &["customer_service"]);
    }

    #[test]
    fn build_quality() {
        assert_aspects("Build quality is superb", &["build_quality"]);
        assert_aspects("It feels cheap", &["build_quality"]);
        assert_aspects("The hinge already has a crease", &["build_quality"]);
        assert_aspects("Scratches way too easily, so much plastic", &["build_quality"]);
        assert_aspects("Feels premium and sturdy", &["build_quality"]);
    }

    #[test]
    fn software() {
        assert_aspects("The latest update bricked it", &["software"]);
        assert_aspects("Firmware updates fixed the bugs", &["software"]);
        assert_aspects("The OS is full of bloatware", &["software"]);
        assert_aspects("The companion app crashes constantly", &["software"]);
        assert_aspects("Security patch is two months late", &["software"]);
    }

    #[test]
    fn no_match_inside_words() {
        for sentence in [
            "Most photographs here are mine",
            "I'm so happy with it",
            "Chiptune is my favourite genre",
            "Apparently nothing else matters",
            "photosynthesis",
            "Trampoline and scrambled eggs",
            "a cosmos of possibilities",
            "the rambling of an old man",
            "He made a chipper remark",
        ] {
            assert_aspects(sentence, &[]);
        }
        // "hot" in "photos" is not performance; "photos" is camera.
        assert_aspects("Love the photos", &["camera"]);
    }

    #[test]
    fn two_letter_capitals_only_in_capitals() {
        assert_aspects("the OS is clean", &["software"]);
        assert_aspects("Os fones são ótimos", &[]);
        assert_aspects("os celulares", &[]);
        assert_aspects("The UI is ugly", &["software"]);
    }

    #[test]
    fn currency_needs_a_number() {
        assert_aspects("Paid $999 for it", &["price"]);
        assert_aspects("$KSTR stock is up", &[]);
    }

    #[test]
    fn idioms_are_vetoed() {
        assert_aspects("I had to restart it in order to pair it", &[]);
        assert_aspects("Can't deal with it anymore", &[]);
        assert_aspects("That sounds like a good idea", &[]);
        assert_aspects("The screen protector was replaced free of charge", &["screen"]);
        assert_aspects("It supports eSIM", &[]);
        assert_aspects("The built-in stand is handy", &[]);
        assert_aspects("Update: it got worse", &[]);
        assert_aspects("The S9 Ultra is hot garbage", &[]);
        assert_aspects("Who's in charge of QA over there?", &[]);
    }

    #[test]
    fn several_aspects_in_order_of_first_appearance() {
        assert_aspects(
            "Great camera and screen, but battery life is bad and the camera app crashes",
            &["camera", "screen", "battery", "software"],
        );
        assert_aspects(
            "Shipping was quick but support ignored me and the screen cracked",
            &["delivery", "customer_service", "screen", "build_quality"],
        );
        assert_aspects("The price is fine but the sound is muffled", &["price", "sound"]);
    }

    #[test]
    fn longest_synonym_wins_across_aspects() {
        assert_aspects("Honestly it feels cheap", &["build_quality"]);
        assert_aspects("The phone is cheap", &["price"]);
        assert_aspects("Screen-on time is about 6 hours", &["battery"]);
        assert_aspects("Fast charging is a lifesaver", &["battery"]);
    }

    #[test]
    fn config_replaces_the_defaults() {
        let lexicon = AspectLexicon::new(&config(&[
            ("fit", &["comfort", "ear tips", "clamping force"]),
            ("battery", &[]),
        ]))
        .unwrap();
        assert_eq!(lexicon.find("Battery is fine, the ear-tips hurt after an hour"), ["battery", "fit"]);
        assert_eq!(lexicon.find("Great comfort"), ["fit"]);
        // The defaults are gone.
        assert!(lexicon.find("The camera is bad").is_empty());
        let names: Vec<(&str, usize)> = lexicon.aspects().map(|(n, s)| (n, s.len())).collect();
        assert_eq!(names, [("battery", 0), ("fit", 3)]);
    }

    #[test]
    fn aspect_names_match_with_underscores_as_spaces() {
        let lexicon = AspectLexicon::new(&config(&[("setup_process", &["onboarding"])])).unwrap();
        assert_eq!(lexicon.find("The setup process was painless"), ["setup_process"]);
        assert_eq!(lexicon.find("onboarding took forever"), ["setup_process"]);
    }

    #[test]
    fn config_errors() {
        assert_eq!(AspectLexicon::new(&config(&[(" ", &["x"])])).unwrap_err(), AspectError::EmptyName);
        assert_eq!(
            AspectLexicon::new(&config(&[("battery", &["charge", " - "])])).unwrap_err(),
            AspectError::EmptySynonym { aspect: "battery".into() }
        );
        let error =
            AspectLexicon::new(&config(&[("battery", &["Charge"]), ("price", &["charge"])])).unwrap_err();
        assert_eq!(
            error,
            AspectError::Duplicate {
                synonym: "charge".into(),
                first: "battery".into(),
                second: "price".into()
            }
        );
        assert!(error.to_string().contains("battery") && error.to_string().contains("price"));
        // An aspect name is a synonym too.
        assert!(matches!(
            AspectLexicon::new(&config(&[("price", &[]), ("value", &["price"])])),
            Err(AspectError::Duplicate { .. })
        ));
        // Listed twice under the same aspect is fine.
        assert!(AspectLexicon::new(&config(&[("battery", &["battery", "Battery"])])).is_ok());
    }

    #[test]
    fn empty_inputs() {
        let lexicon = AspectLexicon::new(&BTreeMap::new()).unwrap();
        assert!(lexicon.find("battery").is_empty());
        assert!(AspectLexicon::defaults().find("").is_empty());
    }
}
