//! Reading one text for products: catalog links, the evidence and aspects of
//! each, and product-like names the catalog lacks. Model-free: the caller
//! scores the evidence with the sentiment model.

use super::aspects::AspectLexicon;
use super::evidence::evidence_range;
use super::gazetteer::{Gazetteer, ProductLink};
use super::unlinked::{self, Candidate};
use super::{BrandTerms, CatalogEntry};
use crate::matching::BrandMatcher;

/// A catalog product found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFinding {
    /// The link (product index, span, confidence, rule).
    pub link: ProductLink,
    /// Byte range of the evidence (the sentence or clause about it).
    pub evidence: (usize, usize),
    /// Aspects the evidence talks about.
    pub aspects: Vec<String>,
}

/// What a text says about products.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Catalog products, in text order.
    pub products: Vec<ProductFinding>,
    /// Product-like names that link to nothing.
    pub unlinked: Vec<Candidate>,
}

/// The catalog, brands and aspect lexicon, compiled once and applied to every post.
#[derive(Debug)]
pub struct ProductReader {
    products: Vec<CatalogEntry>,
    brands: Vec<BrandTerms>,
    gazetteer: Gazetteer,
    matcher: BrandMatcher,
    aspects: AspectLexicon,
}

impl ProductReader {
    /// Compiles the reader. `matcher` must be built from the same brands, in
    /// the same order, as `brands` (brand indices are shared).
    pub fn new(
        products: Vec<CatalogEntry>,
        brands: Vec<BrandTerms>,
        matcher: BrandMatcher,
        aspects: AspectLexicon,
    ) -> ProductReader {
        let gazetteer = Gazetteer::new(&products, &brands);
        ProductReader { products, brands, gazetteer, matcher, aspects }
    }

    /// The products it links to.
    pub fn products(&self) -> &[CatalogEntry] {
        &self.products
    }

    /// The brands it knows.
    pub fn brands(&self) -> &[BrandTerms] {
        &self.brands
    }

    /// Reads `text`. With `aspects` false (a language the lexicon is not
    /// written in) no aspects are looked for.
    pub fn read(&self, text: &str, aspects: bool) -> Reading {
        let links = self.gazetteer.find(text);
        let spans: Vec<(usize, usize)> = links.iter().map(|l| (l.start, l.end)).collect();
        let products: Vec<ProductFinding> = links
            .into_iter()
            .map(|link| {
                let evidence = evidence_range(text, link.start, link.end, &spans);
                let found = if aspects {
                    self.aspects.find(&text[evidence.0..evidence.1]).into_iter().map(str::to_owned).collect()
                } else {
                    Vec::new()
                };
                ProductFinding { link, evidence, aspects: found }
            })
            .collect();
        let brand_spans: Vec<(usize, usize, usize)> = self
            .matcher
            .find(text)
            .into_iter()
            .flat_map(|m| m.matches.into_iter().map(move |t| (t.start, t.end, m.brand)))
            .collect();
        let linked: Vec<(usize, usize)> = products.iter().map(|p| (p.link.start, p.link.end)).collect();
        let unlinked = unlinked::candidates(text, &brand_spans, &linked);
        Reading { products, unlinked }
    }
}
