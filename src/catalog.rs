//! The product catalog file: CSV or JSON in, validated [`NewProduct`]s out.
//!
//! Parsing is all-or-nothing: every row is checked before anything is
//! written, and any bad row (missing SKU, unknown brand, duplicate SKU, bad
//! UTF-8, wrong column count, ...) fails the whole import with its line
//! number, so the catalog in the database is never half-updated.
//!
//! CSV columns: `sku`, `name`, `brand` (required), `category`, `aliases`
//! (separated by `|`), `url`; any other column goes into `attributes` (as
//! text). A `discontinued` column, as `catalog list --format csv` writes it,
//! is ignored: a product is discontinued when a full import no longer lists it.
//! JSON: an array of objects with the same keys (`aliases` may be an array or
//! a `|`-separated string); other keys go into `attributes`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::store::NewProduct;

/// At most this many problems are listed; the rest are counted.
const MAX_LISTED: usize = 50;

/// A catalog file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CatalogFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl CatalogFormat {
    /// The format a file name implies (`.csv`, `.json`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(CatalogFormat::Csv),
            "json" => Some(CatalogFormat::Json),
            _ => None,
        }
    }
}

/// A brand products may belong to.
#[derive(Debug, Clone)]
pub struct KnownBrand {
    /// Database id.
    pub id: i64,
    /// Name (matched ignoring case).
    pub name: String,
}

/// The brands a catalog may name: the stored ones the config still lists
/// (a disabled brand takes no new products).
pub fn known_brands(rows: Vec<crate::store::BrandRow>) -> Vec<KnownBrand> {
    rows.into_iter().filter(|b| b.enabled).map(|b| KnownBrand { id: b.id, name: b.name }).collect()
}

/// One thing wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a catalog file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read catalog file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The format could not be told from the file name.
    #[error("cannot tell the format of {} from its name; pass --format csv or --format json", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file has bad rows; nothing was imported.
    #[error("{}: nothing imported, the catalog is unchanged: {}", path.display(), summary(problems, *total))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The first problems, in line order.
        problems: Vec<RowProblem>,
        /// How many problems there are in all.
        total: usize,
    },
}

fn summary(problems: &[RowProblem], total: usize) -> String {
    let mut out = if total == 1 { "1 problem".to_owned() } else { format!("{total} problems") };
    for p in problems {
        out.push_str(&format!("\n  - {p}"));
    }
    if total > problems.len() {
        out.push_str(&format!("\n  - ... and {} more", total - problems.len()));
    }
    out
}

/// A row as read, before validation.
#[derive(Default)]
struct RawRow {
    line: usize,
    sku: Option<String>,
    name: Option<String>,
    brand: Option<String>,
    category: Option<String>,
    aliases: Vec<String>,
    url: Option<String>,
    attributes: Map<String, Value>,
}

/// Reads and validates a catalog file.
pub fn read_file(
    path: &Path,
    format: Option<CatalogFormat>,
    brands: &[KnownBrand],
) -> Result<Vec<NewProduct>, CatalogError> {
    let format = format
        .or_else(|| CatalogFormat::from_path(path))
        .ok_or_else(|| CatalogError::UnknownFormat { path: path.to_owned() })?;
    let bytes = std::fs::read(path).map_err(|source| CatalogError::Read { path: path.to_owned(), source })?;
    parse(&bytes, format, brands).map_err(|mut problems| {
        let total = problems.len();
        problems.truncate(MAX_LISTED);
        CatalogError::Invalid { path: path.to_owned(), problems, total }
    })
}

/// Parses and validates catalog bytes; on failure, every problem found.
pub fn parse(
    bytes: &[u8],
    format: CatalogFormat,
    brands: &[KnownBrand],
) -> Result<Vec<NewProduct>, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let rows = match format {
        CatalogFormat::Csv => read_csv(bytes, &mut problems),
        CatalogFormat::Json => read_json(bytes, &mut problems),
    };
    if rows.is_empty() && problems.is_empty() {
        problems.push(RowProblem { line: 1, message: "the file lists no products".into() });
    }
    let products = validate(rows, brands, &mut problems);
    if problems.is_empty() {
        Ok(products)
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

fn read_csv(bytes: &[u8], problems: &mut Vec<RowProblem>) -> Vec<RawRow> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let header = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.push(RowProblem { line: 1, message: format!("cannot read the header row: {e}") });
            return Vec::new();
        }
    };
    let mut columns: Vec<String> = Vec::new();
    for field in header.iter() {
        match std::str::from_utf8(field) {
            Ok(name) => {
                let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
                if columns.contains(&name) {
                    problems.push(RowProblem {
                        line: 1,
                        message: format!("column \"{name}\" appears twice in the header"),
                    });
                }
                columns.push(name);
            }
            Err(_) => {
                problems.push(RowProblem { line: 1, message: "the header row is not valid UTF-8".into() });
                return Vec::new();
            }
        }
    }
    for required in ["sku", "name", "brand"] {
        if !columns.iter().any(|c| c == required) {
            problems.push(RowProblem {
                line: 1,
                message: format!(
                    "the header has no \"{required}\" column (required columns: sku, name, brand)"
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Vec::new();
    }

    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                problems.push(RowProblem { line, message: format!("not valid CSV: {e}") });
                break;
            }
        }
        let line = record.position().map_or(line, |p| p.line() as usize);
        if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
            continue; // a blank line
        }
        if record.len() != columns.len() {
            problems.push(RowProblem {
                line,
                message: format!("has {} fields but the header has {} columns", record.len(), columns.len()),
            });
            continue;
        }
        let mut row = RawRow { line, ..RawRow::default() };
        let mut bad_utf8 = false;
        for (column, field) in columns.iter().zip(record.iter()) {
            let Ok(value) = std::str::from_utf8(field) else {
                problems
                    .push(RowProblem { line, message: format!("column \"{column}\" is not valid UTF-8") });
                bad_utf8 = true;
                continue;
            };
            let value = value.trim();
            let text = (!value.is_empty()).then(|| value.to_owned());
            match column.as_str() {
                "sku" => row.sku = text,
                "name" => row.name = text,
                "brand" => row.brand = text,
                "category" => row.category = text,
                "aliases" => row.aliases = split_aliases(value),
                "url" => row.url = text,
                // Written by `catalog list --format csv`; whether a product is
                // discontinued follows from the file, not from this column.
                "discontinued" => {}
                other => {
                    if let Some(text) = text {
                        row.attributes.insert(other.to_owned(), Value::String(text));
                    }
                }
            }
        }
        if !bad_utf8 {
            rows.push(row);
        }
    }
    rows
}

fn read_json(bytes: &[u8], problems: &mut Vec<RowProblem>) -> Vec<RawRow> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = line_at(bytes, e.valid_up_to());
            problems.push(RowProblem { line, message: "not valid UTF-8".into() });
            return Vec::new();
        }
    };
    // Borrowed raw values point into `text`, which gives each element's line.
    let items: Vec<&serde_json::value::RawValue> = match serde_json::from_str(text) {
        Ok(items) => items,
        Err(e) => {
            problems.push(RowProblem {
                line: e.line().max(1),
                message: format!("not a JSON array of product objects: {e}"),
            });
            return Vec::new();
        }
    };
    let mut rows = Vec::new();
    for raw in items {
        let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        let line = line_at(bytes, offset);
        let object = match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                problems.push(RowProblem {
                    line,
                    message: format!("expected a product object, found {}", json_type(&other)),
                });
                continue;
            }
            Err(e) => {
                problems.push(RowProblem { line, message: format!("not valid JSON: {e}") });
                continue;
            }
        };
        let mut row = RawRow { line, ..RawRow::default() };
        for (key, value) in object {
            let mut text = |field: &str, value: &Value| -> Option<String> {
                match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
                    Value::Number(n) if field == "sku" => Some(n.to_string()),
                    other => {
                        problems.push(RowProblem {
                            line,
                            message: format!("\"{field}\" must be a string, found {}", json_type(other)),
                        });
                        None
                    }
                }
            };
            match key.as_str() {
                "sku" => row.sku = text("sku", &value),
                "name" => row.name = text("name", &value),
                "brand" => row.brand = text("brand", &value),
                "category" => row.category = text("category", &value),
                "url" => row.url = text("url", &value),
                "aliases" => match value {
                    Value::Null => {}
                    Value::String(s) => row.aliases = split_aliases(&s),
                    Value::Array(items) => {
                        for item in items {
                            match item {
                                Value::String(s) if !s.trim().is_empty() => {
                                    row.aliases.push(s.trim().to_owned())
                                }
                                Value::String(_) => {}
                                other => problems.push(RowProblem {
                                    line,
                                    message: format!(
                                        "\"aliases\" must hold strings, found {}",
                                        json_type(&other)
                                    ),
                                }),
                            }
                        }
                    }
                    other => problems.push(RowProblem {
                        line,
                        message: format!(
                            "\"aliases\" must be an array of strings or a |-separated string, found {}",
                            json_type(&other)
                        ),
                    }),
                },
                "attributes" => match value {
                    Value::Object(extra) => row.attributes.extend(extra),
                    Value::Null => {}
                    other => problems.push(RowProblem {
                        line,
                        message: format!("\"attributes\" must be an object, found {}", json_type(&other)),
                    }),
                },
                _ => {
                    if !value.is_null() {
                        row.attributes.insert(key, value);
                    }
                }
            }
        }
        rows.push(row);
    }
    rows
}

/// Checks every row and resolves brands; problems go to `problems`.
fn validate(rows: Vec<RawRow>, brands: &[KnownBrand], problems: &mut Vec<RowProblem>) -> Vec<NewProduct> {
    let by_name: HashMap<String, &KnownBrand> = brands.iter().map(|b| (b.name.to_lowercase(), b)).collect();
    let known = || {
        let mut names: Vec<&str> = brands.iter().map(|b| b.name.as_str()).collect();
        names.sort_unstable();
        names.join(", ")
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut products = Vec::new();
    for row in rows {
        let line = row.line;
        let mut ok = true;
        let mut fail = |message: String| {
            problems.push(RowProblem { line, message });
            ok = false;
        };
        let sku = match row.sku {
            None => {
                fail("missing SKU".into());
                None
            }
            Some(sku) if sku.chars().any(char::is_control) => {
                fail(format!("SKU {sku:?} contains control characters"));
                None
            }
            Some(sku) => {
                if let Some(first) = seen.get(&sku) {
                    fail(format!("duplicate SKU \"{sku}\" (also on line {first})"));
                } else {
                    seen.insert(sku.clone(), line);
                }
                Some(sku)
            }
        };
        let label = sku.clone().unwrap_or_default();
        if row.name.is_none() {
            fail(format!("product \"{label}\" has no name"));
        }
        let brand_id = match &row.brand {
            None => {
                fail(format!("product \"{label}\" has no brand"));
                None
            }
            Some(brand) => match by_name.get(&brand.to_lowercase()) {
                Some(b) => Some(b.id),
                None => {
                    fail(format!(
                        "unknown brand \"{brand}\" (known brands: {}); add it to [[brands]] in the config first",
                        known()
                    ));
                    None
                }
            },
        };
        if let Some(url) = &row.url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => fail(format!("url \"{url}\" is not an http(s) URL")),
            }
        }
        let mut aliases: Vec<String> = Vec::new();
        for alias in row.aliases {
            if !aliases.iter().any(|a| a.to_lowercase() == alias.to_lowercase()) {
                aliases.push(alias);
            }
        }
        if let (true, Some(sku), Some(name), Some(brand_id)) = (ok, sku, row.name, brand_id) {
            products.push(NewProduct {
                sku,
                name,
                brand_id,
                category: row.category,
                aliases,
                url: row.url,
                attributes: Value::Object(row.attributes),
            });
        }
    }
    products
}

fn split_aliases(value: &str) -> Vec<String> {
    value.split('|').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect()
}

fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brands() -> Vec<KnownBrand> {
        vec![KnownBrand { id: 1, name: "Acme".into() }, KnownBrand { id: 2, name: "Globex".into() }]
    }

    #[test]
    fn csv_extra_columns_become_attributes_and_aliases_split() {
        let csv = "sku,name,brand,category,aliases,url,colour\nA-1,Rocket Skates,acme,Footwear, skates | RS-1 ||,https://acme.example/a1,red\n";
        let products = parse(csv.as_bytes(), CatalogFormat::Csv, &brands()).expect("valid catalog");
        assert_eq!(products.len(), 1);
        let p = &products[0];
        assert_eq!(p.brand_id, 1, "brand names match ignoring case");
        assert_eq!(p.aliases, vec!["skates", "RS-1"]);
        assert_eq!(p.attributes, serde_json::json!({"colour": "red"}));
    }

    #[test]
    fn csv_reports_every_bad_row_with_its_line() {
        let csv =
            "sku,name,brand\nA-1,One,Acme\n,Nameless SKU,Acme\nA-3,Three,Initech\nA-1,Again,Acme\nA-5,Five\n";
        let problems = parse(csv.as_bytes(), CatalogFormat::Csv, &brands()).expect_err("bad rows");
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{problems:?}");
        assert!(problems[0].message.contains("missing SKU"));
        assert!(problems[1].message.contains("unknown brand \"Initech\""));
        assert!(problems[2].message.contains("duplicate SKU \"A-1\" (also on line 2)"));
        assert!(problems[3].message.contains("has 2 fields but the header has 3"));
    }

    #[test]
    fn csv_bad_utf8_names_the_line() {
        let mut bytes = b"sku,name,brand\nA-1,One,Acme\nA-2,Tw".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"o,Acme\n");
        let problems = parse(&bytes, CatalogFormat::Csv, &brands()).expect_err("bad utf-8");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].message.contains("not valid UTF-8"));
    }

    #[test]
    fn json_rows_carry_their_line_numbers() {
        let json = "[\n  {\"sku\": \"G-1\", \"name\": \"Gizmo\", \"brand\": \"Globex\", \"aliases\": [\"giz\"], \"weight_g\": 120},\n  {\"sku\": \"G-2\", \"brand\": \"Globex\"}\n]";
        let problems = parse(json.as_bytes(), CatalogFormat::Json, &brands()).expect_err("missing name");
        assert_eq!(problems, vec![RowProblem { line: 3, message: "product \"G-2\" has no name".into() }]);
        let ok = "[{\"sku\": \"G-1\", \"name\": \"Gizmo\", \"brand\": \"Globex\", \"aliases\": \"giz|GZ\", \"weight_g\": 120}]";
        let products = parse(ok.as_bytes(), CatalogFormat::Json, &brands()).expect("valid");
        assert_eq!(products[0].aliases, vec!["giz", "GZ"]);
        assert_eq!(products[0].attributes, serde_json::json!({"weight_g": 120}));
    }

    #[test]
    fn empty_file_is_an_error() {
        let problems = parse(b"sku,name,brand\n", CatalogFormat::Csv, &brands()).expect_err("empty");
        assert!(problems[0].message.contains("no products"));
    }
}
