//! Products: the catalog gazetteer (which catalog products a post names),
//! aspects (what about them people praise or complain about) and names the
//! catalog lacks (product-like spans that link to nothing).
//!
//! Pure text processing, no database and no model: the analysis worker
//! compiles these once per catalog and runs them on every post.

pub mod aspects;
pub mod evidence;
pub mod gazetteer;
pub mod reader;
pub mod unlinked;

pub use reader::{ProductFinding, ProductReader, Reading};

/// A catalog product as the gazetteer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// `products.id`.
    pub product_id: i64,
    /// Stock-keeping unit, e.g. `KM-X200`.
    pub sku: String,
    /// Full name, e.g. `Kestrel X200`.
    pub name: String,
    /// Index into the brands slice given alongside (the product's brand).
    pub brand: usize,
    /// Other names people use (catalog aliases plus aliases added by hand).
    pub aliases: Vec<String>,
}

/// A watched brand as the gazetteer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandTerms {
    /// `brands.id`.
    pub brand_id: i64,
    /// Display name, e.g. `Kestrel`.
    pub name: String,
    /// Every term that names the brand (its aliases, including the name).
    pub aliases: Vec<String>,
}
