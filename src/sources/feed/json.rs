//! A lenient JSON Feed reader, for the feeds feed-rs refuses: a version URL
//! with `http://`, a numeric `id`, a missing `title`, an attachment without
//! `mime_type`. Read through `serde_json::Value`, field by field, so one odd
//! field costs that field only.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Body, Engagement, ItemParts};

/// The items of a JSON Feed, and how many array elements were not items.
pub(super) fn read(text: &str) -> Result<(Vec<ItemParts>, usize), String> {
    let value: Value = serde_json::from_str(text).map_err(|err| format!("invalid JSON: {err}"))?;
    let feed = value.as_object().ok_or("JSON, but not a JSON Feed: the top level is not an object")?;
    let version = feed.get("version").and_then(Value::as_str).unwrap_or_default();
    if !version.contains("jsonfeed.org/version/") {
        return Err(format!(
            "JSON, but not a JSON Feed: \"version\" is {}, not a jsonfeed.org version URL",
            feed.get("version").map_or_else(|| "missing".to_owned(), Value::to_string)
        ));
    }
    let items =
        feed.get("items").and_then(Value::as_array).ok_or("a JSON Feed without an \"items\" array")?;
    let feed_author = author(feed);
    let feed_lang = string(feed, "language");
    let mut skipped = 0;
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        match item.as_object() {
            Some(item) => parts.push(item_parts(item, feed_author.as_deref(), feed_lang.as_deref())),
            None => skipped += 1,
        }
    }
    Ok((parts, skipped))
}

fn item_parts(item: &Map<String, Value>, feed_author: Option<&str>, feed_lang: Option<&str>) -> ItemParts {
    let id = match item.get("id") {
        Some(Value::String(id)) => Some(id.trim().to_owned()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let links = ["url", "external_url"].into_iter().filter_map(|key| string(item, key)).collect();
    let body = string(item, "content_html")
        .map(Body::Html)
        .or_else(|| string(item, "content_text").map(Body::Text))
        .or_else(|| string(item, "summary").map(Body::Text));
    ItemParts {
        id: id.filter(|id| !id.is_empty()),
        links,
        author: author(item).or_else(|| feed_author.map(str::to_owned)),
        title: string(item, "title").map(|title| super::entities::decode_refs(&title)),
        body,
        published: date(item, "date_published").or_else(|| date(item, "date_modified")),
        engagement: Engagement::default(),
        lang: string(item, "language").or_else(|| feed_lang.map(str::to_owned)),
    }
}

/// A non-empty string member, trimmed.
fn string(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned)
}

/// The name of the first author: 1.1's `authors` array, else 1.0's `author`.
fn author(object: &Map<String, Value>) -> Option<String> {
    let authors = object.get("authors").and_then(Value::as_array).into_iter().flatten();
    authors.chain(object.get("author")).filter_map(Value::as_object).find_map(|person| string(person, "name"))
}

/// An RFC 3339 date (what the spec asks for), or an RFC 2822 one.
fn date(object: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    let text = string(object, key)?;
    DateTime::parse_from_rfc3339(&text)
        .or_else(|_| DateTime::parse_from_rfc2822(&text))
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_feed_rs_refuses() {
        let text = r#"{"version": "http://jsonfeed.org/version/1", "items": [
            {"id": 42, "url": "/a", "content_text": "hi", "date_published": "2020-01-02T03:04:05+01:00",
             "authors": [{"name": "Ann"}]},
            "junk"
        ]}"#;
        let (items, skipped) = read(text).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(items[0].id.as_deref(), Some("42"));
        assert_eq!(items[0].links, vec!["/a".to_owned()]);
        assert_eq!(items[0].body, Some(Body::Text("hi".into())));
        assert_eq!(items[0].author.as_deref(), Some("Ann"));
        assert_eq!(items[0].published.map(|d| d.to_rfc3339()).as_deref(), Some("2020-01-02T02:04:05+00:00"));
    }

    #[test]
    fn rejects_json_that_is_not_a_feed() {
        assert!(read(r#"{"rss": {"channel": {}}}"#).unwrap_err().contains("not a JSON Feed"));
        assert!(read("[1, 2]").unwrap_err().contains("not a JSON Feed"));
        assert!(read(r#"{"version": "https://jsonfeed.org/version/1.1"}"#).unwrap_err().contains("items"));
        assert!(read(r#"{"verion": "1.0""#).unwrap_err().starts_with("invalid JSON"));
    }
}
