//! The catalog gazetteer: which catalog products a text names.
//!
//! Compiled once per catalog from every product's name, SKU and aliases, then
//! run on every post. Names are matched the way people write them, not the
//! way the catalog spells them:
//!
//! * **Tokens.** Text and catalog terms are cut into the same pieces: at
//!   spaces and punctuation, at letter↔digit changes and at camelCase
//!   changes ("X200ProMax" → x|200|pro|max, "iphone15" → iphone|15), each
//!   Han/kana/Hangul character on its own, a `+` glued to a word kept as a
//!   piece of its own ("S9+"). Pieces are NFKC-normalised (full-width
//!   "ＸＭ５" is "XM5") and lower-cased.
//! * **Keys.** A run of pieces is looked up by the concatenation of its
//!   pieces, so "XM-5", "XM5", "xm 5" and "Xm5" are one key (`xm5`), and
//!   "SuperCharge", "supercharge" and "Super Charge" another. A run may cross
//!   spaces, hyphens and underscores but no other punctuation and no line
//!   break; it must start and end at word boundaries ("X200abc" and "MyX200"
//!   name nothing; inside a `#hashtag` camelCase changes are word
//!   boundaries, so "#LoveMyX200" names the X200). URLs, e-mail addresses and
//!   `@handles` never name a product (a handle can still be the brand
//!   context of an ambiguous alias).
//! * **Variants.** A trailing generation number is also indexed as its
//!   other spellings ("Arc Gen 2" = "Arc 2" = "Arc II" = "Arc 2nd gen"),
//!   unless that spelling belongs to another product. A plural or a
//!   possessive names the product too ("two X200s", "the XM5's ANC"); a
//!   glued capital `S` does not ("X200S" is another model).
//! * **Longest wins.** Overlapping candidates resolve to the one with the
//!   most pieces, then the most bytes, then the highest confidence: "X200
//!   Pro Max" is one link to the Pro Max, not also one to the X200. A match
//!   directly followed by a number or a capitalised tier word it does not
//!   include ("Kestrel Watch 3", "X200 Ultra") is a model the catalog lacks
//!   and links nothing.
//!
//! # Rules and confidences
//!
//! | rule            | when                                                   | confidence |
//! |-----------------|--------------------------------------------------------|------------|
//! | `name`          | the product's full name (distinctive)                  | 0.98 |
//! | `sku`           | the product's SKU ("KM-X200")                          | 0.95 |
//! | `alias`         | a distinctive alias                                    | 0.90 |
//! | `alias`         | an ambiguous alias written as a coined word ("BudsLite", "Fit3") | 0.80 |
//! | `alias`         | an ambiguous alias in Title Case, 3+ pieces ("Buds 2 Pro") or after a determiner ("my Watch 2") | 0.75 |
//! | `alias+brand`   | an ambiguous alias with its brand nearby               | 0.85 |
//! | `alias+context` | an ambiguous alias with a product word nearby          | 0.70 |
//!
//! A plural form costs 0.05.
//!
//! # Which aliases are ambiguous
//!
//! Decided when compiling, from the term alone. A term is **distinctive**
//! when it has
//!
//! * a Han/kana/Hangul character ("红隼X200", "ルミオ XM5"),
//! * a model code: a letter piece that is not a common word followed by a
//!   number, three characters or more together ("X200", "XM 5", "KOS6",
//!   "W700"; not "S9", "A5", "Tab 11"),
//! * a word of two letters or more that is not on the built-in list of
//!   common words (`is_common_word`: pro, max, arc, fit, tab, buds, ...),
//! * or one of the brands' names ("Lumio Buds", "KestrelOS 6").
//!
//! Everything else (common words, single letters and numbers: "Pro Max",
//! "Arc 2", "Fit 3", "S9", "65W charger") is **ambiguous** and links only
//!
//! * with one of its brand's names within 10 words (4 when the alias is
//!   written all in lower case): "Kestrel's Pro Max";
//! * written as a coined word, camelCase or a word of two letters or more
//!   glued to a number ("BudsLite", "Fit3"), unless it is tier words only
//!   ("ProMax");
//! * as three pieces or more in Title Case with a number ("Buds 2 Pro");
//! * capitalised right after a determiner ("my Watch 2", "The Pulse
//!   Mini"; not in a Title Case headline, not a short code like "the A5",
//!   not tier words only like "the Pro Max");
//! * or with a product word (`is_context_word`: phone, battery,
//!   soundbar, review, ...) within 6 words (2 when written all in lower
//!   case): "Arc 2 soundbar", "S9 battery".
//!
//! An ambiguous alias right after a number ("iPhone 15 Pro Max") or right
//! after a capitalised word that is no brand and does not start its
//! sentence ("my Galaxy S9", "the iPhone Pro Max") is someone else's model
//! and never links (a distinctive alias too after such a word: "Sony
//! XM5"); a short code written with a space ("A 5",
//! "S 9") links only with its brand ("a 5 star review" is no phone). A key
//! that two products share links only with a brand nearby that leaves one
//! of them. A brand name alone never names a product: a product term whose
//! key is a brand alias is dropped unless it is distinctive on its own
//! ("Kestrel X200" stays, even with `#KestrelX200` as a brand alias).
//!
//! The text should be NFKC-normalised already (see [`crate::normalize`]);
//! the per-character NFKC here is a safety net that cannot compose
//! sequences (half-width kana with a separate voicing mark).

use std::collections::{HashMap, HashSet};
use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::{BrandTerms, CatalogEntry};

/// One product named in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductLink {
    /// Index into the `products` slice given to [`Gazetteer::new`].
    pub product: usize,
    /// Byte offset of the start in the text (on a char boundary).
    pub start: usize,
    /// Byte offset one past the end in the text (on a char boundary).
    pub end: usize,
    /// The text as written.
    pub surface: String,
    /// 0..=1: how sure the link is.
    pub confidence: f32,
    /// The rule that made it: one of "name", "sku", "alias", "alias+brand", "alias+context".
    pub rule: &'static str,
}

/// Every product's names, compiled once per catalog.
#[derive(Clone)]
pub struct Gazetteer {
    /// Key (concatenated lower-cased pieces) → what it names. Every prefix of
    /// a key is in the map too, marked `extends`, so a scan stops as soon as
    /// no key can start with what it has read.
    index: HashMap<Box<str>, Slot>,
    /// The brand of each product (index into the brands slice).
    brand_of: Vec<usize>,
}

impl fmt::Debug for Gazetteer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.index.values().filter(|s| !s.targets.is_empty()).count();
        f.debug_struct("Gazetteer").field("products", &self.brand_of.len()).field("keys", &keys).finish()
    }
}

/// Confidence of each rule (see the module documentation).
const CONF_NAME: f32 = 0.98;
const CONF_SKU: f32 = 0.95;
const CONF_ALIAS: f32 = 0.9;
const CONF_COINED: f32 = 0.8;
const CONF_TITLED: f32 = 0.75;
const CONF_BRAND: f32 = 0.85;
const CONF_CONTEXT: f32 = 0.7;
const PLURAL_PENALTY: f32 = 0.05;

/// How near, in words, a brand name must be to an ambiguous alias.
const BRAND_WINDOW: usize = 10;
/// The same for an alias written all in lower case: "watch 2" is more often
/// a verb and a number than a product, so only a brand right beside counts.
const LOWERCASE_BRAND_WINDOW: usize = 4;
/// How near, in words, a product word must be to an ambiguous alias.
const CONTEXT_WINDOW: usize = 6;
/// The same for an alias written all in lower case ("arc 2 soundbar").
const LOWERCASE_CONTEXT_WINDOW: usize = 2;
/// Longest run of pieces looked at; keys stop far earlier in practice.
const MAX_SPAN: usize = 32;

/// What a key names.
#[derive(Debug, Clone, Default)]
struct Slot {
    targets: Vec<Target>,
    /// Some longer key starts with this one.
    extends: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Product(Entry),
    /// A brand alias (index into the brands slice): context, never a link.
    Brand(usize),
}

/// One product a key names, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    product: usize,
    kind: Kind,
    /// Distinctive without the brand name (model code, CJK, uncommon word).
    coined: bool,
}

/// How a key names its product, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Name,
    Sku,
    Alias,
    Ambiguous,
}

/// What a catalog term is made of (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TermClass {
    /// Distinctive on its own.
    Coined,
    /// Distinctive through a brand name only.
    Branded,
    /// Common words, single letters and numbers only.
    Words,
}

impl Gazetteer {
    /// Compiles the catalog. `products[i].brand` indexes `brands`; terms that
    /// are empty or all punctuation are skipped.
    pub fn new(products: &[CatalogEntry], brands: &[BrandTerms]) -> Gazetteer {
        // Brand aliases: every key, and the "bare" ones (a brand name, not a
        // campaign tag like #KestrelX200) that make a term merely branded.
        let mut brand_keys: HashMap<String, Vec<usize>> = HashMap::new();
        let mut bare = HashSet::new();
        for (b, brand) in brands.iter().enumerate() {
            for alias in std::iter::once(&brand.name).chain(&brand.aliases) {
                let tokens = tokenize(alias);
                if tokens.keys.is_empty() {
                    continue;
                }
                if !has_model_code(&tokens) {
                    bare.insert(tokens.keys.clone());
                }
                let list = brand_keys.entry(tokens.keys).or_default();
                if !list.contains(&b) {
                    list.push(b);
                }
            }
        }

        let mut entries: HashMap<String, Vec<Entry>> = HashMap::new();
        let mut variants: HashMap<String, Vec<Entry>> = HashMap::new();
        for (p, product) in products.iter().enumerate() {
            let terms = [(&product.name, Role::Name), (&product.sku, Role::Sku)]
                .into_iter()
                .chain(product.aliases.iter().map(|a| (a, Role::Alias)));
            for (term, role) in terms {
                let tokens = tokenize(term);
                if tokens.keys.is_empty() || (role == Role::Sku && !sku_is_specific(&tokens)) {
                    continue;
                }
                let class = classify(&tokens, &bare);
                let kind = match (role, class) {
                    (_, TermClass::Words) => Kind::Ambiguous,
                    (Role::Name, _) => Kind::Name,
                    (Role::Sku, _) => Kind::Sku,
                    (Role::Alias, _) => Kind::Alias,
                };
                let entry = Entry { product: p, kind, coined: class == TermClass::Coined };
                if role != Role::Sku {
                    for key in generation_variants(&tokens) {
                        add_entry(&mut variants, key, entry);
                    }
                }
                add_entry(&mut entries, tokens.keys, entry);
            }
        }
        // A variant spelling counts only where it names one product and no
        // term spells another product that way.
        for (key, list) in variants {
            let [entry] = list.as_slice() else {
                continue;
            };
            if entries.get(&key).is_some_and(|l| l.iter().any(|e| e.product != entry.product)) {
                continue;
            }
            add_entry(&mut entries, key, *entry);
        }

        let mut index: HashMap<Box<str>, Slot> = HashMap::new();
        for (key, mut list) in entries {
            // A brand name alone never names a product.
            if brand_keys.contains_key(&key) {
                list.retain(|e| e.coined);
            }
            if !list.is_empty() {
                index
                    .entry(key.into_boxed_str())
                    .or_default()
                    .targets
                    .extend(list.into_iter().map(Target::Product));
            }
        }
        for (key, list) in brand_keys {
            index
                .entry(key.into_boxed_str())
                .or_default()
                .targets
                .extend(list.into_iter().map(Target::Brand));
        }
        let keys: Vec<Box<str>> = index.keys().cloned().collect();
        for key in keys {
            for (i, _) in key.char_indices().skip(1) {
                if let Some(prefix) = key.get(..i) {
                    index.entry(prefix.into()).or_default().extends = true;
                }
            }
        }
        Gazetteer { index, brand_of: products.iter().map(|p| p.brand).collect() }
    }

    /// Every product mention, in text order, non-overlapping (longest, most specific wins).
    pub fn find(&self, text: &str) -> Vec<ProductLink> {
        if self.index.is_empty() || text.is_empty() {
            return Vec::new();
        }
        let tokens = tokenize(text);
        let (hits, brands) = self.scan(&tokens);
        if hits.is_empty() {
            return Vec::new();
        }
        let mut accepted: Vec<Accepted> = Vec::new();
        for hit in &hits {
            let (Some(first), Some(last)) = (tokens.toks.get(hit.first), tokens.toks.get(hit.last)) else {
                continue;
            };
            let Some((product, rule, mut confidence)) = self.decide(&tokens, hit, &brands) else {
                continue;
            };
            if hit.plural {
                confidence -= PLURAL_PENALTY;
            }
            let (start, end) = (first.start, last.end);
            accepted.push(Accepted {
                first: hit.first,
                last: hit.last,
                start,
                end,
                product,
                rule,
                confidence,
            });
        }
        // Longest (pieces, then bytes) first, then the surest, then leftmost.
        accepted.sort_by(|a, b| {
            (b.last - b.first)
                .cmp(&(a.last - a.first))
                .then((b.end - b.start).cmp(&(a.end - a.start)))
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.start.cmp(&b.start))
        });
        let mut taken = vec![false; tokens.toks.len()];
        let mut chosen: Vec<Accepted> = Vec::new();
        for a in accepted {
            if let Some(pieces) = taken.get_mut(a.first..=a.last)
                && !pieces.contains(&true)
            {
                pieces.fill(true);
                chosen.push(a);
            }
        }
        chosen.sort_by_key(|a| a.start);
        let mut links: Vec<ProductLink> = Vec::with_capacity(chosen.len());
        for a in chosen {
            // Pieces cut from one character (NFKC "½" is "1⁄2") share its bytes.
            if links.last().is_some_and(|l| l.end > a.start) {
                continue;
            }
            let Some(surface) = text.get(a.start..a.end) else {
                continue;
            };
            links.push(ProductLink {
                product: a.product,
                start: a.start,
                end: a.end,
                surface: surface.to_owned(),
                confidence: a.confidence,
                rule: a.rule,
            });
        }
        links
    }

    /// How many products it was built from.
    pub fn len(&self) -> usize {
        self.brand_of.len()
    }

    /// Whether it was built from no products.
    pub fn is_empty(&self) -> bool {
        self.brand_of.is_empty()
    }

    /// Every run of pieces that is a key: product candidates and brand names.
    fn scan<'g>(&'g self, tokens: &Tokens) -> (Vec<Hit<'g>>, Vec<BrandHit>) {
        let toks = &tokens.toks;
        let mut hits = Vec::new();
        let mut brands = Vec::new();
        for (first, head) in toks.iter().enumerate() {
            if !head.word_start {
                continue;
            }
            for (last, tok) in toks.iter().enumerate().skip(first).take(MAX_SPAN) {
                if tok.run != head.run {
                    break;
                }
                let Some(key) = tokens.keys.get(head.kstart..tok.kend) else {
                    break;
                };
                let slot = self.index.get(key);
                if tok.word_end {
                    let exact = slot.filter(|s| !s.targets.is_empty());
                    if let Some(slot) = exact {
                        for target in &slot.targets {
                            if let Target::Brand(brand) = *target {
                                brands.push(BrandHit { brand, first, last });
                            }
                        }
                        if slot.targets.iter().any(|t| matches!(t, Target::Product(_))) {
                            hits.push(Hit { slot, first, last, plural: false });
                        }
                    } else if is_plural_end(toks, first, last)
                        && let Some(stem) = key.strip_suffix('s')
                        && let Some(slot) = self.index.get(stem)
                        && slot.targets.iter().any(|t| matches!(t, Target::Product(_)))
                    {
                        hits.push(Hit { slot, first, last, plural: true });
                    }
                }
                if !slot.is_some_and(|s| s.extends) {
                    break;
                }
            }
        }
        (hits, brands)
    }

    /// Whether a candidate links, and to what, by which rule.
    fn decide(
        &self,
        tokens: &Tokens,
        hit: &Hit<'_>,
        brands: &[BrandHit],
    ) -> Option<(usize, &'static str, f32)> {
        let toks = &tokens.toks;
        let span = toks.get(hit.first..=hit.last)?;
        if span.iter().any(|t| !t.linkable) || is_extended(tokens, hit.first, hit.last) {
            return None;
        }
        let mut products = hit.slot.targets.iter().filter_map(|t| match t {
            Target::Product(e) => Some(*e),
            Target::Brand(_) => None,
        });
        let entry = products.next()?;
        let lowercase = !span.iter().any(|t| t.upper);
        let brand_window = if lowercase { LOWERCASE_BRAND_WINDOW } else { BRAND_WINDOW };
        if products.next().is_some() {
            // Shared by several products: only a brand nearby can tell them apart.
            if is_foreign_model(tokens, hit.first, brands, true) {
                return None;
            }
            let mut chosen = None;
            for e in hit.slot.targets.iter().filter_map(|t| match t {
                Target::Product(e) => Some(e),
                Target::Brand(_) => None,
            }) {
                let brand = self.brand_of.get(e.product).copied();
                if brand.is_some_and(|b| brand_near(toks, brands, b, hit.first, hit.last, brand_window)) {
                    if chosen.is_some_and(|c| c != e.product) {
                        return None;
                    }
                    chosen = Some(e.product);
                }
            }
            return chosen.map(|p| (p, "alias+brand", CONF_BRAND));
        }
        let (rule, confidence) = match entry.kind {
            Kind::Name => ("name", CONF_NAME),
            Kind::Sku => ("sku", CONF_SKU),
            // "Sony XM5": even a distinctive alias can be another maker's
            // model; a number before it is a count ("my 2 X200s").
            Kind::Alias if is_foreign_model(tokens, hit.first, brands, false) => return None,
            Kind::Alias => ("alias", CONF_ALIAS),
            Kind::Ambiguous => {
                if is_foreign_model(tokens, hit.first, brands, true) {
                    return None;
                }
                let brand = self.brand_of.get(entry.product).copied();
                if brand.is_some_and(|b| brand_near(toks, brands, b, hit.first, hit.last, brand_window)) {
                    ("alias+brand", CONF_BRAND)
                } else if has_spaced_code(span) {
                    return None;
                } else if is_coined_spelling(tokens, span) {
                    ("alias", CONF_COINED)
                } else if is_titled(span) || is_named_after_determiner(tokens, span, hit.first) {
                    ("alias", CONF_TITLED)
                } else {
                    let window = if lowercase { LOWERCASE_CONTEXT_WINDOW } else { CONTEXT_WINDOW };
                    if !context_near(tokens, hit.first, hit.last, window) {
                        return None;
                    }
                    ("alias+context", CONF_CONTEXT)
                }
            }
        };
        Some((entry.product, rule, confidence))
    }
}

/// Which field of a product a term comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Name,
    Sku,
    Alias,
}

/// Adds `entry` under `key`, one entry per product (the strongest kind).
fn add_entry(map: &mut HashMap<String, Vec<Entry>>, key: String, entry: Entry) {
    let list = map.entry(key).or_default();
    match list.iter_mut().find(|e| e.product == entry.product) {
        Some(existing) => {
            existing.kind = existing.kind.min(entry.kind);
            existing.coined |= entry.coined;
        }
        None => list.push(entry),
    }
}

/// A SKU is indexed when it cannot be an ordinary word: four characters or
/// more and a digit or two pieces ("KM-X200", "LU-APP").
fn sku_is_specific(tokens: &Tokens) -> bool {
    tokens.keys.chars().count() >= 4 && (tokens.toks.len() >= 2 || tokens.toks.iter().any(|t| t.digit))
}

/// Whether a term is distinctive, and why (see the module documentation).
fn classify(tokens: &Tokens, bare_brands: &HashSet<String>) -> TermClass {
    let toks = &tokens.toks;
    // Pieces inside a brand name.
    let mut branded = vec![false; toks.len()];
    for (a, head) in toks.iter().enumerate() {
        for (b, tail) in toks.iter().enumerate().skip(a) {
            if tokens.keys.get(head.kstart..tail.kend).is_some_and(|k| bare_brands.contains(k))
                && let Some(covered) = branded.get_mut(a..=b)
            {
                covered.fill(true);
            }
        }
    }
    let uncommon = toks.iter().zip(&branded).any(|(t, &in_brand)| {
        !in_brand
            && (t.cjk
                || (t.alpha && t.chars >= 2 && !is_common_word(tokens.key(t)) && !is_roman(tokens.key(t))))
    });
    if uncommon || has_model_code(tokens) {
        TermClass::Coined
    } else if branded.contains(&true) {
        TermClass::Branded
    } else {
        TermClass::Words
    }
}

/// A letter piece that is not a common word followed by a number, three
/// characters or more together: "X200", "XM 5", "KOS6" (not "S9", "Tab 11").
fn has_model_code(tokens: &Tokens) -> bool {
    tokens.toks.windows(2).any(|pair| {
        let [letters, number] = pair else {
            return false;
        };
        letters.alpha
            && !letters.cjk
            && number.digit
            && number.gap != Gap::Break
            && letters.chars + number.chars >= 3
            && !is_common_word(tokens.key(letters))
    })
}

/// Other spellings of a trailing generation number: for "Arc Gen 2", "Arc 2",
/// "Arc II", "Arc 2nd gen", ... The piece before the number must be a word
/// of three letters or more ("S9", "XM 5" and "X200" have no generations).
fn generation_variants(tokens: &Tokens) -> Vec<String> {
    let parts: Vec<&str> = tokens.toks.iter().map(|t| tokens.key(t)).collect();
    let n = parts.len();
    let last = |k: usize| n.checked_sub(k).and_then(|i| parts.get(i).copied());
    let (base_len, number) = match (last(3), last(2), last(1)) {
        (_, Some(g), Some(x)) if is_gen_word(g) && generation_number(x).is_some() => {
            (n - 2, generation_number(x).unwrap_or(0))
        }
        (Some(x), Some(suffix), Some(g))
            if is_gen_word(g) && generation_number(x).is_some_and(|v| ordinal_suffix(v) == suffix) =>
        {
            (n - 3, generation_number(x).unwrap_or(0))
        }
        (_, _, Some(x)) if generation_number(x).is_some() => (n - 1, generation_number(x).unwrap_or(0)),
        _ => return Vec::new(),
    };
    let base = parts.get(..base_len).unwrap_or_default();
    let Some(word) = base.last() else {
        return Vec::new();
    };
    if number == 0 || word.chars().count() < 3 || !word.chars().all(char::is_alphabetic) || is_gen_word(word)
    {
        return Vec::new();
    }
    let stem = base.concat();
    let suffix = ordinal_suffix(number);
    let mut out = vec![
        format!("{stem}{number}"),
        format!("{stem}gen{number}"),
        format!("{stem}generation{number}"),
        format!("{stem}{number}{suffix}gen"),
        format!("{stem}{number}{suffix}generation"),
    ];
    if let Some(roman) = roman(number) {
        out.push(format!("{stem}{roman}"));
    }
    out
}

fn is_gen_word(word: &str) -> bool {
    matches!(word, "gen" | "generation")
}

/// 1..=10 written in digits, or II..=V in Roman numerals.
fn generation_number(piece: &str) -> Option<u32> {
    match piece {
        "ii" => Some(2),
        "iii" => Some(3),
        "iv" => Some(4),
        "v" => Some(5),
        _ if piece.bytes().all(|b| b.is_ascii_digit()) => piece.parse().ok().filter(|n| (1..=10).contains(n)),
        _ => None,
    }
}

fn ordinal_suffix(n: u32) -> &'static str {
    match n {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    }
}

/// Roman numerals for generations; "I" is left out (it is a pronoun).
fn roman(n: u32) -> Option<&'static str> {
    match n {
        2 => Some("ii"),
        3 => Some("iii"),
        4 => Some("iv"),
        5 => Some("v"),
        _ => None,
    }
}

fn is_roman(piece: &str) -> bool {
    matches!(piece, "i" | "ii" | "iii" | "iv" | "v" | "vi" | "vii" | "viii" | "ix" | "x")
}

/// Words that do not make a product term distinctive: product-line words,
/// tiers, sizes, units, generations and ordinary English.
fn is_common_word(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "the"
            | "my"
            | "and"
            | "of"
            | "for"
            | "with"
            | "in"
            | "on"
            | "by"
            | "new"
            | "old"
            | "pro"
            | "max"
            | "plus"
            | "ultra"
            | "lite"
            | "light"
            | "mini"
            | "micro"
            | "nano"
            | "fold"
            | "flip"
            | "arc"
            | "sub"
            | "dock"
            | "fit"
            | "pad"
            | "tab"
            | "watch"
            | "band"
            | "buds"
            | "bud"
            | "pods"
            | "pod"
            | "wave"
            | "pulse"
            | "pen"
            | "stylus"
            | "case"
            | "cover"
            | "connect"
            | "app"
            | "home"
            | "original"
            | "gen"
            | "generation"
            | "charger"
            | "charge"
            | "charging"
            | "super"
            | "studio"
            | "wireless"
            | "travel"
            | "xl"
            | "xs"
            | "se"
            | "fe"
            | "air"
            | "go"
            | "one"
            | "edge"
            | "neo"
            | "note"
            | "nova"
            | "prime"
            | "mobile"
            | "phone"
            | "smart"
            | "active"
            | "sport"
            | "classic"
            | "standard"
            | "series"
            | "edition"
            | "speaker"
            | "soundbar"
            | "headphones"
            | "earbuds"
            | "tablet"
            | "os"
            | "link"
            | "hub"
            | "core"
            | "lens"
            | "box"
            | "kit"
            | "ring"
            | "tag"
            | "book"
            | "view"
            | "play"
            | "sound"
            | "beam"
            | "stick"
            | "cam"
            | "duo"
            | "evo"
            | "turbo"
            | "power"
            | "fast"
            | "flex"
            | "slim"
            | "tv"
            | "mic"
            | "dot"
            | "key"
            | "bar"
            | "base"
            | "station"
            | "stand"
            | "strap"
            | "cable"
            | "adapter"
            | "battery"
            | "screen"
            | "glass"
            | "camera"
            | "audio"
            | "first"
            | "second"
            | "third"
            | "st"
            | "nd"
            | "rd"
            | "th"
            | "mah"
            | "gb"
            | "tb"
            | "mm"
            | "hz"
            | "mp"
    )
}

/// Words that make a nearby ambiguous alias a product mention. Not "watch":
/// it is a verb as often ("watch the Arc 2 trailer").
fn is_context_word(word: &str) -> bool {
    matches!(
        word,
        "phone"
            | "smartphone"
            | "handset"
            | "cellphone"
            | "android"
            | "headphone"
            | "headphones"
            | "headset"
            | "earbud"
            | "earbuds"
            | "earphone"
            | "earphones"
            | "buds"
            | "soundbar"
            | "speaker"
            | "subwoofer"
            | "tablet"
            | "smartwatch"
            | "wearable"
            | "tracker"
            | "stylus"
            | "charger"
            | "charging"
            | "battery"
            | "camera"
            | "screen"
            | "display"
            | "case"
            | "review"
            | "firmware"
            | "update"
            | "updated"
            | "bought"
            | "buy"
            | "buying"
            | "ordered"
            | "preorder"
            | "preordered"
            | "upgrade"
            | "upgraded"
            | "unboxing"
            | "unboxed"
            | "bluetooth"
            | "anc"
            | "pairing"
            | "paired"
            | "bass"
            | "warranty"
            | "specs"
            | "strap"
            | "hinge"
            | "noise"
            | "cancelling"
            | "canceling"
    )
}

/// Tier words that, right after a match, make it a model the catalog lacks.
fn is_tier_word(word: &str) -> bool {
    matches!(word, "pro" | "max" | "plus" | "ultra" | "lite" | "mini" | "fold" | "xl")
}

/// One run of pieces that is a product key.
#[derive(Debug)]
struct Hit<'g> {
    slot: &'g Slot,
    first: usize,
    last: usize,
    /// Matched without a trailing plural `s`.
    plural: bool,
}

/// A candidate that passed its rule, before overlaps are resolved.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    first: usize,
    last: usize,
    start: usize,
    end: usize,
    product: usize,
    rule: &'static str,
    confidence: f32,
}

/// One brand name in the text.
#[derive(Debug, Clone, Copy)]
struct BrandHit {
    brand: usize,
    first: usize,
    last: usize,
}

/// Words between two piece spans (0 when they overlap, 1 when adjacent).
fn word_distance(toks: &[Tok], a: (usize, usize), b: (usize, usize)) -> Option<usize> {
    let word = |i: usize| toks.get(i).map(|t| t.word);
    if b.1 < a.0 {
        Some(word(a.0)? - word(b.1)?)
    } else if a.1 < b.0 {
        Some(word(b.0)? - word(a.1)?)
    } else {
        None
    }
}

fn brand_near(
    toks: &[Tok],
    brands: &[BrandHit],
    brand: usize,
    first: usize,
    last: usize,
    window: usize,
) -> bool {
    let (Some(head), Some(tail)) = (toks.get(first), toks.get(last)) else {
        return false;
    };
    let near = |b: &BrandHit| {
        b.brand == brand && word_distance(toks, (first, last), (b.first, b.last)).is_some_and(|d| d <= window)
    };
    // Brand hits are in text order of their first piece and span at most
    // MAX_SPAN pieces: look only at those that can be in the window.
    let word_of = |b: &BrandHit| toks.get(b.first).map_or(0, |t| t.word);
    let split = brands.partition_point(|b| b.first < first);
    let (before, after) = brands.split_at(split);
    before.iter().rev().take_while(|b| head.word.saturating_sub(word_of(b)) <= window + MAX_SPAN).any(near)
        || after.iter().take_while(|b| word_of(b).saturating_sub(tail.word) <= window).any(near)
}

/// A product word within `window` words, not inside the candidate itself.
fn context_near(tokens: &Tokens, first: usize, last: usize, window: usize) -> bool {
    let toks = &tokens.toks;
    let (Some(head), Some(tail)) = (toks.get(first), toks.get(last)) else {
        return false;
    };
    let before =
        toks.get(..first).unwrap_or_default().iter().rev().take_while(|t| head.word - t.word <= window);
    let after = toks.get(last + 1..).unwrap_or_default().iter().take_while(|t| t.word - tail.word <= window);
    before.chain(after).any(|t| {
        if !(t.word_start && t.word_end && t.linkable && !t.cjk) {
            return false;
        }
        let key = tokens.key(t);
        is_context_word(key) || key.len() > 3 && key.strip_suffix('s').is_some_and(is_context_word)
    })
}

/// An alias that goes on another maker's name: right after a number
/// ("iPhone 15 Pro Max"; only when `after_number`), or right after a capitalised word that is
/// none of the brands and does not start its sentence ("my Galaxy S9", "the
/// iPhone Pro Max"; a sentence's first word is capitalised for grammar).
fn is_foreign_model(tokens: &Tokens, first: usize, brands: &[BrandHit], after_number: bool) -> bool {
    let toks = &tokens.toks;
    let (Some(head), Some(prev_i)) = (toks.get(first), first.checked_sub(1)) else {
        return false;
    };
    let Some(prev) = toks.get(prev_i) else {
        return false;
    };
    if prev.run != head.run {
        return false;
    }
    if prev.digit {
        return after_number;
    }
    // The pieces of the previous written word.
    let w0 =
        toks.get(..prev_i).unwrap_or_default().iter().rposition(|t| t.word != prev.word).map_or(0, |i| i + 1);
    let word = toks.get(w0..=prev_i).unwrap_or_default();
    let starts_sentence = w0.checked_sub(1).and_then(|i| toks.get(i)).is_none_or(|t| t.run != prev.run);
    let key = tokens.keys.get(toks.get(w0).map_or(prev.kstart, |t| t.kstart)..prev.kend).unwrap_or_default();
    !starts_sentence
        && word.iter().all(|t| t.alpha && !t.cjk)
        && word.iter().any(|t| t.upper)
        && key.chars().count() >= 2
        && !is_determiner(key)
        && !brands
            .get(..brands.partition_point(|b| b.first <= prev_i))
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(|b| b.first + MAX_SPAN > w0)
            .any(|b| w0 <= b.last)
}

/// Capitalised after a determiner: "my Watch 2", "The Pulse Mini". Short codes ("the A5") and tier words ("the Pro Max") are left
/// to brand and context.
fn is_named_after_determiner(tokens: &Tokens, span: &[Tok], first: usize) -> bool {
    let toks = &tokens.toks;
    let (Some(head), Some(prev)) = (toks.get(first), first.checked_sub(1).and_then(|i| toks.get(i))) else {
        return false;
    };
    // A capitalised determiner mid-sentence is a Title Case headline ("Watch
    // The Arc 2 Trailer"), where capitals say nothing.
    let prev_starts_sentence =
        first.checked_sub(2).and_then(|i| toks.get(i)).is_none_or(|t| t.run != prev.run);
    head.gap == Gap::Space
        && prev.word_start
        && (!prev.upper || prev_starts_sentence)
        && is_determiner(tokens.key(prev))
        && span.iter().any(|t| t.alpha && t.chars >= 2 && !is_tier_word(tokens.key(t)))
        && span.iter().filter(|t| t.alpha).all(|t| t.title)
}

fn is_determiner(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "the"
            | "my"
            | "our"
            | "your"
            | "his"
            | "her"
            | "their"
            | "new"
            | "this"
            | "that"
            | "these"
            | "those"
    )
}

/// The match goes on as a longer name the catalog lacks: a number after a
/// word ("Kestrel Watch 3"), or a tier word ("X200 Ultra"; "X200 plus the
/// XM5" is a conjunction unless the match is lower case too).
fn is_extended(tokens: &Tokens, first: usize, last: usize) -> bool {
    let toks = &tokens.toks;
    let (Some(tail), Some(next)) = (toks.get(last), toks.get(last + 1)) else {
        return false;
    };
    if next.run != tail.run || !matches!(next.gap, Gap::Space | Gap::Hyphen) || !next.word_end {
        return false;
    }
    if next.digit {
        return tail.alpha && !tail.cjk;
    }
    let lowercase_match = !toks.get(first..=last).unwrap_or_default().iter().any(|t| t.upper);
    is_tier_word(tokens.key(next)) && (next.upper || lowercase_match)
}

/// A single letter and a number written apart ("A 5", "S 9").
fn has_spaced_code(span: &[Tok]) -> bool {
    span.windows(2).any(|pair| {
        matches!(pair, [letter, number] if letter.alpha && letter.chars == 1 && number.digit && number.gap == Gap::Space)
    })
}

/// Written as one coined word: camelCase ("BudsLite") or a word glued to a
/// number ("Fit3"), not tier words alone ("ProMax").
fn is_coined_spelling(tokens: &Tokens, span: &[Tok]) -> bool {
    let glued = span.windows(2).any(|pair| match pair {
        [_, b] if b.gap == Gap::Glue(Glue::Camel) => true,
        [a, b] if b.gap == Gap::Glue(Glue::LetterDigit) => a.alpha && a.chars >= 2,
        _ => false,
    });
    glued && span.iter().any(|t| !t.alpha || !is_tier_word(tokens.key(t)))
}

/// Three pieces or more, a number among them, every word capitalised, two
/// of them real words: "Buds 2 Pro", "Home Dock 3".
fn is_titled(span: &[Tok]) -> bool {
    span.len() >= 3
        && span.iter().any(|t| t.digit)
        && span.iter().filter(|t| t.alpha && t.chars >= 2).count() >= 2
        && span.iter().filter(|t| t.alpha).all(|t| t.title)
}

/// The last piece is a plural `s`: glued lowercase "s" ("X200s") or a word
/// of three letters or more ending in lowercase "s" ("Pros").
fn is_plural_end(toks: &[Tok], first: usize, last: usize) -> bool {
    let Some(t) = toks.get(last) else {
        return false;
    };
    if !t.lower_s || !t.alpha || t.cjk {
        return false;
    }
    if t.chars == 1 {
        last > first && matches!(t.gap, Gap::Glue(Glue::DigitLetter | Glue::LetterDigit | Glue::Camel))
    } else {
        t.chars >= 3
    }
}

// --- Tokenizer ------------------------------------------------------------------

/// What separates a piece from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// Punctuation, a line break, the start of the text: runs never cross it.
    Break,
    /// Spaces or tabs.
    Space,
    /// A hyphen or an underscore.
    Hyphen,
    /// Nothing: the pieces are one written word.
    Glue(Glue),
}

impl Gap {
    fn strength(self) -> u8 {
        match self {
            Gap::Glue(_) => 0,
            Gap::Space => 1,
            Gap::Hyphen => 2,
            Gap::Break => 3,
        }
    }
}

/// Why one written word was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glue {
    LetterDigit,
    DigitLetter,
    Camel,
    /// Next to a Han/kana/Hangul character: a word boundary.
    Script,
    /// Before a glued `+`: not a word boundary ("S9+" is not "S9").
    Plus,
}

/// One piece of a text.
#[derive(Debug, Clone, Copy)]
struct Tok {
    /// Byte range in the original text.
    start: usize,
    end: usize,
    /// Byte range of the lower-cased piece in [`Tokens::keys`].
    kstart: usize,
    kend: usize,
    gap: Gap,
    /// Numbers only.
    digit: bool,
    /// Letters (and combining marks) only.
    alpha: bool,
    /// A Han/kana/Hangul character.
    cjk: bool,
    /// Has an uppercase letter as written.
    upper: bool,
    /// Starts with an uppercase letter as written.
    title: bool,
    /// Ends with a lowercase `s` as written.
    lower_s: bool,
    /// Characters in the key.
    chars: usize,
    /// Not part of an @handle.
    linkable: bool,
    /// Part of a #hashtag or an @handle.
    tag: bool,
    /// Runs of pieces between breaks, numbered.
    run: usize,
    /// Written words, numbered (each CJK character is a word).
    word: usize,
    /// A match may start (end) here.
    word_start: bool,
    word_end: bool,
}

/// A tokenized text: pieces and their keys back to back, so the key of a
/// run of pieces is a slice of `keys`.
#[derive(Debug, Default)]
struct Tokens {
    keys: String,
    toks: Vec<Tok>,
}

impl Tokens {
    fn key(&self, tok: &Tok) -> &str {
        self.keys.get(tok.kstart..tok.kend).unwrap_or_default()
    }
}

/// Letter case of a character, for cutting camelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Upper,
    Lower,
    /// Letters without case (and titlecase letters).
    Letter,
    Digit,
}

impl CharClass {
    fn of(c: char) -> CharClass {
        if c.is_numeric() {
            CharClass::Digit
        } else if c.is_uppercase() {
            CharClass::Upper
        } else if c.is_lowercase() {
            CharClass::Lower
        } else {
            CharClass::Letter
        }
    }

    fn is_letter(self) -> bool {
        self != CharClass::Digit
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    /// After `#`: camelCase changes are word boundaries.
    Tag,
    /// After `@`: like a hashtag, and never a product.
    Handle,
}

/// The piece being read.
#[derive(Debug, Clone, Copy)]
struct Current {
    start: usize,
    end: usize,
    kstart: usize,
    gap: Gap,
    last: CharClass,
    before_last: Option<CharClass>,
    /// Where the last character starts, in the text and in the keys.
    last_start: usize,
    last_kstart: usize,
    mode: Mode,
}

struct Tokenizer<'t> {
    text: &'t str,
    out: Tokens,
    cur: Option<Current>,
    /// The strongest separator since the last piece; `None`: right after it.
    gap: Option<Gap>,
    mode: Mode,
}

fn tokenize(text: &str) -> Tokens {
    let mut t =
        Tokenizer { text, out: Tokens::default(), cur: None, gap: Some(Gap::Break), mode: Mode::Plain };
    let mut pos = 0;
    let mut chunk_start = true;
    while let Some(c) = text.get(pos..).and_then(|rest| rest.chars().next()) {
        let len = c.len_utf8();
        if c.is_whitespace() {
            chunk_start = true;
            t.separator(if is_line_break(c) { Gap::Break } else { Gap::Space });
            t.mode = Mode::Plain;
            pos += len;
            continue;
        }
        if chunk_start {
            chunk_start = false;
            let end = text
                .get(pos..)
                .and_then(|rest| rest.find(char::is_whitespace))
                .map_or(text.len(), |k| pos + k);
            if text.get(pos..end).is_some_and(is_link_like) {
                t.separator(Gap::Break);
                pos = end;
                continue;
            }
        }
        pos = t.step(c, pos);
    }
    t.finish();
    t.number();
    t.out
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A URL, a bare domain with a path, or an e-mail address.
fn is_link_like(chunk: &str) -> bool {
    let trimmed = chunk.trim_start_matches(|c: char| !c.is_alphanumeric());
    if chunk.contains("://") || trimmed.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")) {
        return true;
    }
    if let Some(at) = chunk.find('@')
        && chunk.get(..at).and_then(|h| h.chars().next_back()).is_some_and(char::is_alphanumeric)
        && chunk.get(at..).is_some_and(|d| d.contains('.'))
    {
        return true;
    }
    // "example.com/x200": a dot followed by a letter before the first slash.
    chunk.find('/').and_then(|slash| chunk.get(..slash)).is_some_and(|head| {
        head.match_indices('.')
            .any(|(i, _)| head.get(i + 1..).and_then(|r| r.chars().next()).is_some_and(char::is_alphabetic))
    })
}

/// Han, kana and Hangul: written without spaces, one piece per character.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}'
        | '\u{3040}'..='\u{30FF}'
        | '\u{3130}'..='\u{318F}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{A960}'..='\u{A97F}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF66}'..='\u{FF9F}'
        | '\u{20000}'..='\u{3FFFF}')
}

impl Tokenizer<'_> {
    /// Reads the character at `pos` (NFKC-normalised); returns where the next one starts.
    fn step(&mut self, c: char, pos: usize) -> usize {
        let end = pos + c.len_utf8();
        let n = if c.is_ascii() {
            c
        } else {
            let mut normalized = c.nfkc();
            match (normalized.next(), normalized.next()) {
                (Some(n), None) => n,
                (None, _) => return end,
                (Some(a), Some(b)) => {
                    self.plain(a, pos, end);
                    self.plain(b, pos, end);
                    for n in normalized {
                        self.plain(n, pos, end);
                    }
                    return end;
                }
            }
        };
        match n {
            '#' | '@' => {
                let opens = self.cur.is_none() && self.peek(end).is_some_and(|(c, _)| c.is_alphanumeric());
                self.separator(Gap::Break);
                self.mode = match (opens, n) {
                    (true, '#') => Mode::Tag,
                    (true, _) => Mode::Handle,
                    _ => Mode::Plain,
                };
                end
            }
            '\'' | '\u{2019}' | '\u{02BC}' => {
                // A possessive "'s" is dropped: "XM5's" reads as "XM5".
                self.separator(Gap::Break);
                self.mode = Mode::Plain;
                if self.out.toks.last().is_some_and(|t| t.end == pos)
                    && let Some(('s' | 'S', s_len)) = self.peek(end)
                    && !self.peek(end + s_len).is_some_and(|(c, _)| c.is_alphanumeric())
                {
                    return end + s_len;
                }
                end
            }
            '+' if self.cur.is_some()
                && !self.peek(end).is_some_and(|(c, _)| c.is_alphanumeric() && !is_cjk(c)) =>
            {
                self.finish();
                self.begin(pos, Gap::Glue(Glue::Plus), CharClass::Letter);
                self.push_char('+', pos, end);
                self.finish();
                end
            }
            _ => {
                self.plain(n, pos, end);
                end
            }
        }
    }

    /// The first normalised character at `pos` and the original's length.
    fn peek(&self, pos: usize) -> Option<(char, usize)> {
        let c = self.text.get(pos..)?.chars().next()?;
        let n = if c.is_ascii() { c } else { c.nfkc().next()? };
        Some((n, c.len_utf8()))
    }

    /// A normalised character with no look-ahead rule.
    fn plain(&mut self, n: char, pos: usize, end: usize) {
        if is_cjk(n) {
            self.finish();
            let gap = self.gap.take().unwrap_or(Gap::Glue(Glue::Script));
            self.begin(pos, gap, CharClass::Letter);
            self.push_char(n, pos, end);
            self.finish();
        } else if n.is_alphanumeric() {
            self.word_char(n, pos, end);
        } else if is_combining_mark(n) {
            if self.cur.is_some() {
                self.push_char(n, pos, end);
            } else {
                self.separator(Gap::Break);
            }
        } else if n == '_' {
            // Joins words inside a hashtag or handle too.
            self.separator(Gap::Hyphen);
        } else if matches!(n, '-' | '\u{2010}' | '\u{2011}') {
            self.separator(Gap::Hyphen);
            self.mode = Mode::Plain;
        } else if n.is_whitespace() {
            self.separator(Gap::Space);
            self.mode = Mode::Plain;
        } else {
            self.separator(Gap::Break);
            self.mode = Mode::Plain;
        }
    }

    fn word_char(&mut self, n: char, pos: usize, end: usize) {
        let class = CharClass::of(n);
        match self.cur {
            None => {
                let gap = self.gap.take().unwrap_or(Gap::Glue(Glue::Script));
                self.begin(pos, gap, class);
            }
            Some(cur) => {
                let cut = match (cur.last, class) {
                    (CharClass::Digit, c) if c.is_letter() => Some(Glue::DigitLetter),
                    (l, CharClass::Digit) if l.is_letter() => Some(Glue::LetterDigit),
                    (CharClass::Lower, CharClass::Upper) => Some(Glue::Camel),
                    _ => None,
                };
                if let Some(glue) = cut {
                    self.finish();
                    self.begin(pos, Gap::Glue(glue), class);
                } else if (cur.last, class) == (CharClass::Upper, CharClass::Lower)
                    && cur.before_last == Some(CharClass::Upper)
                {
                    // "XMPro": the P already read starts the next piece.
                    self.finish_at(cur.last_start, cur.last_kstart);
                    self.cur = Some(Current {
                        start: cur.last_start,
                        kstart: cur.last_kstart,
                        gap: Gap::Glue(Glue::Camel),
                        last: class,
                        before_last: Some(CharClass::Upper),
                        ..cur
                    });
                } else if let Some(cur) = &mut self.cur {
                    cur.before_last = Some(cur.last);
                    cur.last = class;
                }
            }
        }
        self.push_char(n, pos, end);
    }

    fn begin(&mut self, pos: usize, gap: Gap, class: CharClass) {
        self.gap = None;
        self.cur = Some(Current {
            start: pos,
            end: pos,
            kstart: self.out.keys.len(),
            gap,
            last: class,
            before_last: None,
            last_start: pos,
            last_kstart: self.out.keys.len(),
            mode: self.mode,
        });
    }

    /// Appends a character, lower-cased, to the current piece.
    fn push_char(&mut self, n: char, pos: usize, end: usize) {
        let kpos = self.out.keys.len();
        if n.is_ascii() {
            self.out.keys.push(n.to_ascii_lowercase());
        } else {
            self.out.keys.extend(n.to_lowercase());
        }
        if let Some(cur) = &mut self.cur {
            if !is_combining_mark(n) {
                cur.last_start = pos;
                cur.last_kstart = kpos;
            }
            cur.end = end;
        }
    }

    fn separator(&mut self, gap: Gap) {
        self.finish();
        if self.gap.is_none_or(|g| g.strength() < gap.strength()) {
            self.gap = Some(gap);
        }
    }

    fn finish(&mut self) {
        if let Some(cur) = self.cur {
            self.finish_at(cur.end, self.out.keys.len());
        }
    }

    /// Ends the current piece at `end` in the text and `kend` in the keys.
    fn finish_at(&mut self, end: usize, kend: usize) {
        let Some(cur) = self.cur.take() else {
            return;
        };
        if kend <= cur.kstart || end <= cur.start {
            return;
        }
        let written = self.text.get(cur.start..end).unwrap_or_default();
        let key = self.out.keys.get(cur.kstart..kend).unwrap_or_default();
        let first = key.chars().next();
        self.out.toks.push(Tok {
            start: cur.start,
            end,
            kstart: cur.kstart,
            kend,
            gap: cur.gap,
            digit: key.chars().all(char::is_numeric),
            alpha: key.chars().all(|c| c.is_alphabetic() || is_combining_mark(c)),
            cjk: first.is_some_and(is_cjk),
            upper: written.chars().any(char::is_uppercase),
            title: written.chars().next().is_some_and(char::is_uppercase),
            lower_s: written.ends_with('s'),
            chars: key.chars().count(),
            linkable: cur.mode != Mode::Handle,
            tag: cur.mode != Mode::Plain,
            run: 0,
            word: 0,
            word_start: false,
            word_end: false,
        });
    }

    /// Numbers runs and words and marks word boundaries, once every piece is read.
    fn number(&mut self) {
        let toks = &mut self.out.toks;
        let (mut run, mut word) = (0, 0);
        for i in 0..toks.len() {
            let boundary = match (i.checked_sub(1).and_then(|p| toks.get(p)), toks.get(i)) {
                (Some(prev), Some(tok)) => {
                    if tok.gap == Gap::Break {
                        run += 1;
                    }
                    if !matches!(tok.gap, Gap::Glue(_)) || tok.cjk || prev.cjk {
                        word += 1;
                    }
                    match tok.gap {
                        Gap::Glue(Glue::Script) => true,
                        Gap::Glue(Glue::Plus) => false,
                        Gap::Glue(_) => prev.tag && tok.tag,
                        _ => true,
                    }
                }
                _ => true,
            };
            if let Some(prev) = i.checked_sub(1).and_then(|p| toks.get_mut(p)) {
                prev.word_end = boundary;
            }
            if let Some(tok) = toks.get_mut(i) {
                tok.word_start = boundary;
                tok.run = run;
                tok.word = word;
            }
        }
        if let Some(last) = toks.last_mut() {
            last.word_end = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(sku: &str, name: &str, brand: usize, aliases: &str) -> CatalogEntry {
        CatalogEntry {
            product_id: 0,
            sku: sku.into(),
            name: name.into(),
            brand,
            aliases: aliases.split('|').map(str::to_owned).collect(),
        }
    }

    /// Rows of config/catalog.example.csv.
    fn catalog() -> Vec<CatalogEntry> {
        vec![
            product("KM-X200", "Kestrel X200", 0, "X200|X 200|X-200|Kestrel X 200|红隼X200"),
            product(
                "KM-X200P",
                "Kestrel X200 Pro",
                0,
                "X200 Pro|X200Pro|X-200 Pro|X200P|x200 pro|红隼X200 Pro",
            ),
            product("KM-X200PM", "Kestrel X200 Pro Max", 0, "X200 Pro Max|X200 ProMax|X200PM|Pro Max"),
            product("KM-X200L", "Kestrel X200 Lite", 0, "X200 Lite|X200L|X-200 Lite"),
            product("KM-TAB11", "Kestrel Tab 11", 0, "Tab 11|Tab11|Kestrel Tab"),
            product("KM-TAB8", "Kestrel Tab 8 Mini", 0, "Tab 8|Tab 8 Mini|Tab8 Mini|Tab Mini"),
            product("KM-WATCH2", "Kestrel Watch 2", 0, "Kestrel Watch 2|Watch 2|KWatch 2|K-Watch 2"),
            product(
                "KM-CHG65",
                "Kestrel SuperCharge 65W",
                0,
                "SuperCharge 65W|SuperCharge|65W charger|65 W charger",
            ),
            product("KM-OS6", "KestrelOS 6", 0, "KestrelOS 6|Kestrel OS 6|KOS 6|KOS6"),
            product("LU-XM5", "Lumio XM-5", 1, "XM-5|XM5|XM 5|Lumio XM5|ルミオ XM5"),
            product("LU-BUDS2P", "Lumio Buds 2 Pro", 1, "Buds 2 Pro|Buds2 Pro|Buds 2P|Lumio Buds Pro Gen 2"),
            product("LU-BUDSL", "Lumio Buds Lite", 1, "Buds Lite|BudsLite|Lumio Buds Lite"),
            product("LU-ARC2", "Lumio Arc Gen 2", 1, "Arc Gen 2|Arc 2|Arc2|Lumio Arc 2|Arc II"),
            product("LU-ARC1", "Lumio Arc", 1, "Lumio Arc|Arc Gen 1|original Arc"),
            product("OB-S9", "Orbix S9", 2, "S9|S 9|S-9|Orbix S 9|欧比斯S9"),
            product("OB-S9P", "Orbix S9 Plus", 2, "S9 Plus|S9+|S9Plus|S 9 Plus"),
            product("OB-A5", "Orbix A5", 2, "A5|A 5|Orbix A 5"),
            product("OB-FLIP2", "Orbix Flip 2", 2, "Flip 2|Flip2|Orbix Flip Gen 2"),
            product("OB-FIT", "Orbix Fit 3", 2, "Fit 3|Fit3|Orbix Fit"),
            product("OB-PODS", "Orbix Pods", 2, "Orbix Pods|Pods Gen 3"),
        ]
    }

    fn brands() -> Vec<BrandTerms> {
        let brand = |id: i64, name: &str, aliases: &[&str]| BrandTerms {
            brand_id: id,
            name: name.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        };
        vec![
            brand(1, "Kestrel", &["Kestrel", "Kestrel Mobile", "@kestrelmobile", "#KestrelX200", "红隼手机"]),
            brand(2, "Lumio", &["Lumio", "Lumio Audio", "@lumioaudio", "ルミオ", "路米欧"]),
            brand(3, "Orbix", &["Orbix", "@orbixglobal", "欧比斯"]),
        ]
    }

    fn gazetteer() -> Gazetteer {
        Gazetteer::new(&catalog(), &brands())
    }

    /// (sku, surface) of every link, checking offsets on the way.
    fn found(g: &Gazetteer, text: &str) -> Vec<(String, String)> {
        let skus: Vec<String> = catalog().into_iter().map(|p| p.sku).collect();
        let links = g.find(text);
        let mut previous_end = 0;
        for link in &links {
            assert!(text.is_char_boundary(link.start) && text.is_char_boundary(link.end), "{link:?}");
            assert!(link.start < link.end && link.start >= previous_end, "{link:?} in {text:?}");
            assert_eq!(&text[link.start..link.end], link.surface);
            assert!((0.0..=1.0).contains(&link.confidence));
            assert!(["name", "sku", "alias", "alias+brand", "alias+context"].contains(&link.rule));
            previous_end = link.end;
        }
        links.into_iter().map(|l| (skus[l.product].clone(), l.surface)).collect()
    }

    fn skus(g: &Gazetteer, text: &str) -> Vec<String> {
        found(g, text).into_iter().map(|(sku, _)| sku).collect()
    }

    fn one(g: &Gazetteer, text: &str) -> ProductLink {
        let links = g.find(text);
        assert_eq!(links.len(), 1, "{text}: {links:?}");
        links.into_iter().next().unwrap()
    }

    #[test]
    fn case_spacing_and_hyphen_variants() {
        let g = gazetteer();
        for text in ["x-200", "X 200", "x200", "X200", "KESTREL X200", "kestrel x200", "ｘ２００", "my X200!"]
        {
            assert_eq!(skus(&g, text), ["KM-X200"], "{text}");
        }
        for text in ["XM-5", "XM5", "xm 5", "Xm5", "Lumio XM5", "LUMIO XM-5"] {
            assert_eq!(skus(&g, text), ["LU-XM5"], "{text}");
        }
        for text in ["X200 PRO", "x200pro", "X200Pro", "X200PRO", "X-200 Pro", "X200P"] {
            assert_eq!(skus(&g, text), ["KM-X200P"], "{text}");
        }
        assert_eq!(found(&g, "love my KestrelOS 6 update"), [("KM-OS6".into(), "KestrelOS 6".into())]);
        assert_eq!(skus(&g, "kos6 is out"), ["KM-OS6"]);
    }

    #[test]
    fn longest_most_specific_match_wins() {
        let g = gazetteer();
        assert_eq!(found(&g, "X200 Pro Max"), [("KM-X200PM".into(), "X200 Pro Max".into())]);
        assert_eq!(found(&g, "the X200 Pro rocks"), [("KM-X200P".into(), "X200 Pro".into())]);
        assert_eq!(skus(&g, "Kestrel X200 Pro Max"), ["KM-X200PM"]);
        assert_eq!(skus(&g, "X200ProMax"), ["KM-X200PM"]);
        assert_eq!(skus(&g, "x200 lite"), ["KM-X200L"]);
        let link = one(&g, "Kestrel X200 Pro Max");
        assert_eq!((link.rule, link.confidence), ("name", CONF_NAME));
    }

    #[test]
    fn unknown_longer_models_link_nothing() {
        let g = gazetteer();
        assert!(g.find("X200 Ultra leaks").is_empty());
        assert!(g.find("the XM5 Max rumour").is_empty());
        // "Kestrel Tab" followed by a number is not the Tab 11: it is the Tab 8.
        assert_eq!(found(&g, "Kestrel Tab 8"), [("KM-TAB8".into(), "Tab 8".into())]);
        // A conjunction is no tier word.
        assert_eq!(skus(&g, "my X200 plus XM5 setup"), ["KM-X200", "LU-XM5"]);
        // Glued letters make it another word.
        assert!(g.find("X200abc and MyX200 and X2000").is_empty());
        assert!(g.find("X200S is coming").is_empty());
        assert!(g.find("S9+ battery").iter().all(|l| l.product != 14));
    }

    #[test]
    fn sku() {
        let g = gazetteer();
        let link = one(&g, "Order KM-X200 today");
        assert_eq!((link.surface.as_str(), link.rule, link.confidence), ("KM-X200", "sku", CONF_SKU));
        assert_eq!(skus(&g, "km x200pm restock"), ["KM-X200PM"]);
    }

    #[test]
    fn plurals_and_possessives() {
        let g = gazetteer();
        assert_eq!(found(&g, "my two X200s"), [("KM-X200".into(), "X200s".into())]);
        let link = one(&g, "my two X200s");
        assert!((link.confidence - (CONF_ALIAS - PLURAL_PENALTY)).abs() < 1e-6);
        assert_eq!(found(&g, "the XM5's ANC"), [("LU-XM5".into(), "XM5".into())]);
        assert_eq!(found(&g, "the XM5’s ANC"), [("LU-XM5".into(), "XM5".into())]);
        assert_eq!(skus(&g, "both X200 Pros died"), ["KM-X200P"]);
    }

    #[test]
    fn cjk_names() {
        let g = gazetteer();
        assert_eq!(found(&g, "我的红隼X200很好用"), [("KM-X200".into(), "红隼X200".into())]);
        assert_eq!(found(&g, "ルミオ XM5 最高"), [("LU-XM5".into(), "ルミオ XM5".into())]);
        assert_eq!(found(&g, "欧比斯S9太贵了"), [("OB-S9".into(), "欧比斯S9".into())]);
        assert_eq!(found(&g, "我买了X200手机"), [("KM-X200".into(), "X200".into())]);
        // The brand alone in Chinese names no product.
        assert!(g.find("红隼手机很好").is_empty());
    }

    #[test]
    fn hashtags_handles_and_urls() {
        let g = gazetteer();
        assert_eq!(found(&g, "#KestrelX200 launch"), [("KM-X200".into(), "KestrelX200".into())]);
        assert_eq!(skus(&g, "#LoveMyX200"), ["KM-X200"]);
        assert!(g.find("cc @x200fan").is_empty());
        assert!(g.find("https://www.kestrel-mobile.example/phones/x200").is_empty());
        assert!(g.find("see kestrel-mobile.example/phones/x200-pro now").is_empty());
        assert!(g.find("mail x200@kestrel.example").is_empty());
        // A handle still counts as the brand nearby.
        assert_eq!(skus(&g, "@kestrelmobile when is the Pro Max out"), ["KM-X200PM"]);
    }

    #[test]
    fn camel_and_joined_forms() {
        let g = gazetteer();
        assert_eq!(skus(&g, "X200ProMax"), ["KM-X200PM"]);
        let link = one(&g, "BudsLite are fine");
        assert_eq!((link.product, link.rule, link.confidence), (11, "alias", CONF_COINED));
        assert_eq!(skus(&g, "my Arc2 died"), ["LU-ARC2"]);
        assert_eq!(skus(&g, "SuperCharge is fast"), ["KM-CHG65"]);
        // Tier words alone, even glued, are no product.
        assert!(g.find("the ProMax is huge").is_empty());
    }

    #[test]
    fn ambiguous_aliases_need_brand_or_context() {
        let g = gazetteer();
        let link = one(&g, "Arc 2 soundbar");
        assert_eq!((link.product, link.rule, link.confidence), (12, "alias+context", CONF_CONTEXT));
        assert!(g.find("the story arc 2 times").is_empty());
        let link = one(&g, "S9 battery is awful");
        assert_eq!((link.product, link.rule), (14, "alias+context"));
        assert!(g.find("A5 paper").is_empty());
        assert!(g.find("Pro Max").is_empty());
        assert!(g.find("the Pro Max is huge").is_empty());
        let link = one(&g, "Kestrel's Pro Max");
        assert_eq!((link.product, link.rule, link.confidence), (2, "alias+brand", CONF_BRAND));
        assert_eq!(link.surface, "Pro Max");
        // Someone else's model number before tier words.
        assert!(g.find("Kestrel X200 vs iPhone 15 Pro Max").iter().all(|l| l.product != 2));
        // A short code written apart needs the brand.
        assert!(g.find("a 5 star review").is_empty());
        assert_eq!(skus(&g, "Orbix A 5"), ["OB-A5"]);
        // Lower case needs the product word right beside.
        assert_eq!(skus(&g, "my arc 2 soundbar died"), ["LU-ARC2"]);
        assert!(g.find("the arc 2 has a nice soundbar").is_empty());
        assert!(g.find("The Arc 2 has a nice soundbar").len() == 1);
        // Title Case, three pieces with a number.
        assert_eq!(skus(&g, "Buds 2 Pro are great"), ["LU-BUDS2P"]);
        assert!(g.find("buds 2 pro are great").is_empty());
        // Capitalised after a determiner.
        assert_eq!(found(&g, "I love my Flip 2, so light"), [("OB-FLIP2".into(), "Flip 2".into())]);
        assert!(g.find("I love the A5").is_empty());
        assert_eq!(skus(&g, "The Fit 3 is comfy"), ["OB-FIT"]);
        assert!(g.find("Watch The Arc 2 Trailer").is_empty());
        assert_eq!(skus(&g, "I watched season 2 on my Tab 11"), ["KM-TAB11"]);
        // Another maker's name before it.
        assert!(g.find("my Galaxy S9 battery died").is_empty());
        assert!(g.find("the iPhone Pro Max camera").is_empty());
        assert_eq!(skus(&g, "Galaxy? No, the S9 battery"), ["OB-S9"]);
        assert_eq!(found(&g, "the new Sony XM5 vs Lumio XM5"), [("LU-XM5".into(), "Lumio XM5".into())]);
        assert_eq!(skus(&g, "Sony? XM5 all the way"), ["LU-XM5"]);
        assert_eq!(skus(&g, "my 2 X200s"), ["KM-X200"]);
    }

    #[test]
    fn common_english_links_nothing() {
        let g = gazetteer();
        for text in [
            "I watched 2 episodes",
            "I'll watch 2 episodes tonight",
            "the arc of the story",
            "a flip phone",
            "fit 3 people in the car",
            "the pods",
            "page 12",
            "I watched season 2 on my tab 11",
            "Hands On With Fit 3",
            "a 65 w bulb",
            "supercharge your workflow",
            "it's 9 o'clock",
            "Kestrel",
            "the kestrel hovered over the field",
            "Lumio Audio and Orbix",
            "max pro tips",
        ] {
            assert!(g.find(text).is_empty(), "{text}: {:?}", g.find(text));
        }
    }

    #[test]
    fn generation_variants_are_indexed() {
        let g = gazetteer();
        for text in ["Lumio Arc II", "Lumio Arc 2nd gen", "Lumio Arc Generation 2", "Lumio Arc Gen 2"] {
            assert_eq!(skus(&g, text), ["LU-ARC2"], "{text}");
        }
        assert_eq!(skus(&g, "Lumio Buds Pro 2"), ["LU-BUDS2P"]);
        assert_eq!(skus(&g, "Lumio Arc"), ["LU-ARC1"]);
        // "Orbix Pods" goes on with a number: the "Pods 3" variant, with its brand.
        assert_eq!(found(&g, "Orbix Pods 3"), [("OB-PODS".into(), "Pods 3".into())]);
        assert_eq!(skus(&g, "Pods III case"), ["OB-PODS"]);
    }

    #[test]
    fn offsets_are_bytes_of_the_original_text() {
        let g = gazetteer();
        let text = "🔥🇩🇪 我爱 İstanbul, ｘ２００ and X200!";
        let links = g.find(text);
        assert_eq!(links.len(), 2);
        assert_eq!(&text[links[0].start..links[0].end], "ｘ２００");
        assert_eq!(links[1].start, text.rfind("X200").unwrap());
        assert_eq!(links[1].surface, "X200");
    }

    #[test]
    fn several_products_in_order() {
        let g = gazetteer();
        let text = "love the camera on the X200 but the Orbix S9 battery is awful";
        let links = g.find(text);
        assert_eq!(links.len(), 2, "{links:?}");
        assert_eq!((links[0].product, links[0].surface.as_str(), links[0].rule), (0, "X200", "alias"));
        assert_eq!(links[0].confidence, CONF_ALIAS);
        assert_eq!((links[1].product, links[1].surface.as_str(), links[1].rule), (14, "Orbix S9", "name"));
        assert_eq!(links[1].start, text.find("Orbix").unwrap());
    }

    #[test]
    fn shared_keys_need_a_brand_that_settles_them() {
        let catalog = vec![
            product("A-1", "Alpha Dock 3", 0, "Dock 3"),
            product("B-1", "Beta Dock 3", 1, "Dock 3"),
            product("B-2", "Beta Zed 9", 1, "Zed9"),
            product("A-2", "Alpha Zed 9", 0, "Zed9"),
        ];
        let brands = vec![
            BrandTerms { brand_id: 1, name: "Alpha".into(), aliases: vec!["Alpha".into()] },
            BrandTerms { brand_id: 2, name: "Beta".into(), aliases: vec!["Beta".into()] },
        ];
        let g = Gazetteer::new(&catalog, &brands);
        assert_eq!(g.len(), 4);
        assert!(!g.is_empty());
        assert!(g.find("my Dock 3 speaker").is_empty());
        assert!(g.find("my Zed9").is_empty());
        let link = one(&g, "Beta's Zed9 is loud");
        assert_eq!((link.product, link.rule), (2, "alias+brand"));
        assert!(g.find("Alpha or Beta? Zed9").is_empty());
    }

    #[test]
    fn generation_variants_yield_to_other_products() {
        // "Arc Gen 2" would also be "Arc 2", but that is another product's alias.
        let catalog = vec![
            product("A-1", "Alpha Arc Gen 2", 0, "Arc Gen 2"),
            product("A-2", "Alpha Arc Two", 0, "Arc 2"),
            product("B-1", "Beta Wave Gen 3", 1, "Wave Gen 3"),
            product("B-2", "Beta Tide Gen 3", 1, "Wave 3rd gen"),
        ];
        let brands = vec![
            BrandTerms { brand_id: 1, name: "Alpha".into(), aliases: vec!["Alpha".into()] },
            BrandTerms { brand_id: 2, name: "Beta".into(), aliases: vec!["Beta".into()] },
        ];
        let g = Gazetteer::new(&catalog, &brands);
        let products = |text: &str| g.find(text).into_iter().map(|l| l.product).collect::<Vec<_>>();
        assert_eq!(products("Alpha's Arc 2"), [1]);
        assert_eq!(products("Alpha Arc 2nd gen"), [0]);
        // Both would be "Arc II": neither is.
        assert!(products("Alpha's Arc II").is_empty());
        // The explicit spelling wins over the other product's variant.
        assert_eq!(products("Beta's Wave 3rd gen"), [3]);
        // Both products' generation 3: "Wave 3" names neither.
        assert!(products("Beta's Wave 3").is_empty());
        assert_eq!(products("Beta Wave Gen 3"), [2]);
    }

    #[test]
    fn brand_name_as_product_alias_never_links() {
        let catalog = vec![product("KM-1", "Kestrel Phone", 0, "Kestrel|Kestrel Mobile|KM1 phone")];
        let g = Gazetteer::new(&catalog, &brands()[..1]);
        assert!(g.find("Kestrel").is_empty());
        assert!(g.find("kestrel mobile is great").is_empty());
        assert_eq!(g.find("Kestrel Phone").len(), 1);
    }

    #[test]
    fn empty_and_degenerate_catalogs() {
        let g = Gazetteer::new(&[], &[]);
        assert!(g.is_empty());
        assert!(g.find("X200").is_empty());
        let g = Gazetteer::new(&[product("", "", 7, "|  |--|#")], &[]);
        assert_eq!(g.len(), 1);
        assert!(g.find("anything at all").is_empty());
        assert!(format!("{g:?}").contains("Gazetteer"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let g = gazetteer();
        let odd = [
            "",
            " ",
            "'",
            "'s",
            "X200'",
            "X200'S",
            "#",
            "@",
            "+",
            "S9++",
            "ﬁ ½ ① ㍿ ﷺ",
            "İ X200 ß",
            "\u{301}X200\u{301}",
            "x\u{200D}200",
            "X\u{FE0F}200",
            "ﾙﾐｵ XM5",
            "红隼",
            "X200s's",
            "#@#x200",
            "a@b",
            "://",
            "www.",
            "XMPro XMPRO XmPro",
        ];
        for text in odd {
            let _ = found(&g, text);
            let _ = found(&g, &text.repeat(5));
        }
        let mixed = "İ Kestrel's 🇩🇪 X200s 红隼X200 Pro ルミオ XM5 #KestrelX200 S9+ Arc 2 soundbar";
        let bounds: Vec<usize> = mixed.char_indices().map(|(i, _)| i).chain([mixed.len()]).collect();
        for &a in &bounds {
            for &b in bounds.iter().filter(|&&b| b >= a) {
                let _ = found(&g, &mixed[a..b]);
            }
        }
    }
}
