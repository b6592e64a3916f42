//! Browsing stored mentions newest first, with filters and a keyset cursor.
//!
//! The cursor is the last row's `(mentioned_at, mention id)`: a page never
//! repeats or skips a row that existed when the first page was read, however
//! many posts arrive in between (new posts land before the first page or, if
//! published long ago, among later pages as what they are: new rows).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

/// Which mentions.
#[derive(Debug, Clone, Default)]
pub struct MentionFilter {
    /// Only this brand's.
    pub brand_id: Option<i64>,
    /// Only posts that name this product (for the model).
    pub product_id: Option<i64>,
    /// Only posts the model labelled so (`positive`, `neutral`, `negative`).
    pub sentiment: Option<String>,
    /// Only posts with a product mention discussing this aspect.
    pub aspect: Option<String>,
    /// Only posts from sources of this kind.
    pub source_kind: Option<String>,
    /// Only posts in this language (ISO 639-3, or `unknown`).
    pub language: Option<String>,
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Words that must all appear (PostgreSQL `websearch_to_tsquery` syntax:
    /// `"exact phrase"`, `-not`, `or`).
    pub text: Option<String>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MentionCursor {
    /// The last row's time.
    pub at: DateTime<Utc>,
    /// The last row's mention id.
    pub id: i64,
}

impl MentionCursor {
    /// The opaque text form given to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at.timestamp_micros(), self.id)
    }

    /// Reads [`MentionCursor::encode`]'s form.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        Some(MentionCursor {
            at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

/// A product named in a mention's post.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MentionProduct {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Targeted sentiment, if scored.
    pub sentiment: Option<String>,
}

/// One mention: a post and the brand it mentions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MentionRow {
    /// Mention id (the cursor's tiebreak).
    pub id: i64,
    /// Post id.
    pub post_id: i64,
    /// Brand mentioned.
    pub brand: String,
    /// The post's time (published, else fetched).
    pub mentioned_at: DateTime<Utc>,
    /// Source name.
    pub source: String,
    /// Source kind.
    pub source_kind: String,
    /// Link to the post.
    pub url: Option<String>,
    /// Author handle (or its keyed hash).
    pub author: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// The text, at most 600 characters; empty once retention purged it.
    pub text: String,
    /// Language (ISO 639-3) or `unknown`.
    pub language: Option<String>,
    /// The model's label of the post, if scored.
    pub sentiment: Option<String>,
    /// The model's probability of that label.
    pub sentiment_score: Option<f32>,
    /// Likes + replies + reposts (whatever the source reports).
    pub engagement: i64,
    /// Catalog products the post names.
    pub products: Vec<MentionProduct>,
}

/// The engagement number of a post's `engagement` JSON (the sum of its numbers).
pub(super) const ENGAGEMENT_SQL: &str =
    "(SELECT COALESCE(sum(CASE WHEN jsonb_typeof(e.value) = 'number' THEN e.value::numeric END), 0)::bigint
      FROM jsonb_each(p.engagement) e)";

impl Store {
    /// Up to `limit` mentions matching `filter`, newest first, after `cursor`.
    pub async fn mentions_page(
        &self,
        filter: &MentionFilter,
        model_id: &str,
        cursor: Option<MentionCursor>,
        limit: i64,
    ) -> Result<Vec<MentionRow>, StoreError> {
        let action = "listing mentions";
        let rows = sqlx::query(&format!(
            "SELECT m.id, m.post_id, b.name AS brand, m.mentioned_at, src.name AS source, src.kind AS source_kind,
                    p.url, p.author, p.title, left(p.body, 600) AS text, p.lang, s.label, s.score,
                    {ENGAGEMENT_SQL} AS engagement,
                    COALESCE((SELECT jsonb_agg(jsonb_build_object('sku', pr.sku, 'name', pr.name, 'sentiment', pm.sentiment)
                                               ORDER BY pm.span_start)
                              FROM product_mentions pm JOIN products pr ON pr.id = pm.product_id
                              WHERE pm.post_id = m.post_id AND pm.model_id = $1), '[]') AS products
             FROM mentions m
             JOIN brands b ON b.id = m.brand_id
             JOIN posts p ON p.id = m.post_id
             JOIN sources src ON src.id = p.source_id
             LEFT JOIN sentiments s ON s.post_id = m.post_id AND s.model_id = $1 AND s.status = 'scored'
             WHERE ($2::timestamptz IS NULL OR (m.mentioned_at, m.id) < ($2, $3))
               AND ($4::bigint IS NULL OR m.brand_id = $4)
               AND ($5::bigint IS NULL OR EXISTS (SELECT 1 FROM product_mentions pm
                                                  WHERE pm.post_id = m.post_id AND pm.model_id = $1
                                                    AND pm.product_id = $5))
               AND ($6::text IS NULL OR s.label = $6)
               AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM product_mentions pm
                                                JOIN product_mention_aspects a ON a.product_mention_id = pm.id
                                                WHERE pm.post_id = m.post_id AND pm.model_id = $1 AND a.aspect = $7))
               AND ($8::text IS NULL OR src.kind = $8)
               AND ($9::text IS NULL OR p.lang = $9)
               AND ($10::timestamptz IS NULL OR m.mentioned_at >= $10)
               AND ($11::timestamptz IS NULL OR m.mentioned_at < $11)
               AND ($12::text IS NULL OR to_tsvector('simple', COALESCE(p.title, '') || ' ' || p.body)
                                         @@ websearch_to_tsquery('simple', $12))
             ORDER BY m.mentioned_at DESC, m.id DESC
             LIMIT $13"
        ))
        .bind(model_id)
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id))
        .bind(filter.brand_id)
        .bind(filter.product_id)
        .bind(&filter.sentiment)
        .bind(&filter.aspect)
        .bind(&filter.source_kind)
        .bind(&filter.language)
        .bind(filter.from)
        .bind(filter.to)
        .bind(&filter.text)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                let products: sqlx::types::Json<Vec<MentionProduct>> = r.try_get("products")?;
                Ok(MentionRow {
                    id: r.try_get("id")?,
                    post_id: r.try_get("post_id")?,
                    brand: r.try_get("brand")?,
                    mentioned_at: r.try_get("mentioned_at")?,
                    source: r.try_get("source")?,
                    source_kind: r.try_get("source_kind")?,
                    url: r.try_get("url")?,
                    author: r.try_get("author")?,
                    title: r.try_get("title")?,
                    text: r.try_get("text")?,
                    language: r.try_get("lang")?,
                    sentiment: r.try_get("label")?,
                    sentiment_score: r.try_get("score")?,
                    engagement: r.try_get("engagement")?,
                    products: products.0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let c = MentionCursor { at: DateTime::from_timestamp_micros(1_750_000_000_123_456).unwrap(), id: 42 };
        assert_eq!(MentionCursor::decode(&c.encode()), Some(c));
        for junk in ["", "abc", "12", "12.x", "x.12", "1.2.3"] {
            assert_eq!(MentionCursor::decode(junk), None, "{junk}");
        }
    }
}
