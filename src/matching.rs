//! Brand queries, compiled once: which watched brands a text mentions.

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
    brands: Vec<BrandConfig>,
}

impl BrandMatcher {
    /// Compiles the brands' queries.
    pub fn new(brands: &[BrandConfig]) -> BrandMatcher {
        BrandMatcher { brands: brands.to_vec() }
    }

    /// The brands `text` mentions, in brand order.
    pub fn find(&self, text: &str) -> Vec<BrandMention> {
        let _ = (text, &self.brands);
        todo!("part 2: matching")
    }
}
