//! From a source's [`RawItem`] to a [`Post`] ready to store: HTML to clean
//! text, Unicode NFKC, whitespace folded, language detected, canonical URL,
//! content hash, author handle hashed when the privacy settings say so.

use chrono::{DateTime, Utc};

use crate::sources::{Engagement, RawItem};

/// A post ready to be matched and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Stable id within the source.
    pub external_id: String,
    /// Canonical URL (tracking parameters and fragment stripped).
    pub url: Option<String>,
    /// Author handle, or its keyed hash.
    pub author: Option<String>,
    /// Title, normalised like the body.
    pub title: Option<String>,
    /// Clean text: NFKC, whitespace folded, paragraphs kept as line breaks.
    pub body: String,
    /// ISO 639-3 code (`eng`, `deu`, `cmn`, ...) or `unknown`.
    pub lang: String,
    /// Detector confidence in 0..=1, when a language was detected.
    pub lang_confidence: Option<f32>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Engagement counts.
    pub engagement: Engagement,
    /// SHA-256 of the normalised title and body: the cross-source dedupe key.
    pub content_hash: [u8; 32],
}

impl Post {
    /// The text brand matching reads: title, a line break, body.
    pub fn match_text(&self) -> String {
        match &self.title {
            Some(title) if !title.is_empty() => format!("{title}\n{}", self.body),
            _ => self.body.clone(),
        }
    }
}

/// The key of the keyed hash of author handles (`privacy.hash_author_handles`).
#[derive(Clone)]
pub struct AuthorKey(pub secrecy::SecretString);

/// Normalises one item; `author_key` set means author handles are stored hashed.
pub fn normalize(item: RawItem, author_key: Option<&AuthorKey>) -> Post {
    let _ = (item, author_key);
    todo!("part 2: normalize")
}
