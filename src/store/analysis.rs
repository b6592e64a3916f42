//! Sentiment results: claiming posts the active model has not read, and
//! storing what it said.
//!
//! A claim is a transaction holding row locks (`FOR UPDATE SKIP LOCKED`) on
//! the posts it returns, so two workers never read the same post; the
//! results are written and the claim committed in the same transaction, so a
//! crash mid-batch leaves the posts unclaimed and unscored, never half done.

use sqlx::{Postgres, Row, Transaction};

use super::{Store, StoreError};
use crate::nlp::{Label, Sentiment};

/// A post waiting for the active model.
#[derive(Debug, Clone)]
pub struct PendingPost {
    /// `posts.id`.
    pub id: i64,
    /// The title, if the source has titles.
    pub title: Option<String>,
    /// The normalised text.
    pub body: String,
    /// ISO 639-3 language code, or `unknown`.
    pub lang: Option<String>,
    /// When it was published (else fetched): the time its mentions count at.
    pub mentioned_at: chrono::DateTime<chrono::Utc>,
    /// The model already has a result for this post (it was read by this
    /// model, then by another, and this one is active again): nothing to run.
    pub already_scored: bool,
}

/// What the analyser concluded about one post.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The model read it.
    Scored(Sentiment),
    /// Not in a language the model was trained on.
    SkippedLanguage,
    /// No text to read.
    SkippedEmpty,
}

impl Outcome {
    fn status(&self) -> &'static str {
        match self {
            Outcome::Scored(_) => "scored",
            Outcome::SkippedLanguage => "skipped_language",
            Outcome::SkippedEmpty => "skipped_empty",
        }
    }
}

/// A catalog product named in a post, with what was said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProductMention {
    /// `products.id`.
    pub product_id: i64,
    /// Byte range of the name in the analysed text.
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// The name as written.
    pub surface: String,
    /// How sure the link is, 0..=1.
    pub confidence: f32,
    /// The gazetteer rule that made the link.
    pub rule: String,
    /// The sentiment of the evidence (None when the post was not scored).
    pub sentiment: Option<Sentiment>,
    /// The sentence or clause the sentiment was read from.
    pub evidence: String,
    /// Aspects found in the evidence, each with the evidence's label.
    pub aspects: Vec<(String, Label)>,
}

/// A product-like name that links to no catalog product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnlinked {
    /// The brand it was seen with, if any.
    pub brand_id: Option<i64>,
    /// The key sightings are counted under.
    pub normalized: String,
    /// As written.
    pub surface: String,
}

/// Everything the analyser stores for one post.
#[derive(Debug, Clone, PartialEq)]
pub struct PostResult {
    /// `posts.id` (one of the claimed posts).
    pub post_id: i64,
    /// The post's sentiment, or why it has none.
    pub outcome: Outcome,
    /// Catalog products it names.
    pub products: Vec<NewProductMention>,
    /// Names the catalog lacks.
    pub unlinked: Vec<NewUnlinked>,
}

/// Which posts a claim may take (for `reanalyze --since/--brand`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// Only posts published (else fetched) at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only posts that mention this brand.
    pub brand_id: Option<i64>,
}

/// Posts claimed for analysis; dropping it without [`Claim::commit`] rolls
/// back and releases them.
#[derive(Debug)]
pub struct Claim {
    tx: Transaction<'static, Postgres>,
    model_id: String,
    /// The claimed posts, oldest first.
    pub posts: Vec<PendingPost>,
}

/// A stored sentiment (for reports and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentRow {
    /// The post.
    pub post_id: i64,
    /// The model that produced it.
    pub model_id: String,
    /// `scored`, `skipped_language` or `skipped_empty`.
    pub status: String,
    /// The label, when scored.
    pub label: Option<String>,
    /// The label's probability, when scored.
    pub score: Option<f32>,
    /// `[negative, neutral, positive]`, when scored.
    pub probabilities: Option<Vec<f32>>,
    /// Model inputs the text was split into.
    pub chunks: Option<i32>,
}

/// Posts model `$1` has not read, within filter `$2` (since) / `$3` (brand).
const PENDING: &str = "(p.analysed_model_id IS NULL OR p.analysed_model_id < $1 OR p.analysed_model_id > $1)
    AND p.text_purged_at IS NULL
    AND ($2::timestamptz IS NULL OR COALESCE(p.published_at, p.fetched_at) >= $2)
    AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM mentions m WHERE m.post_id = p.id AND m.brand_id = $3))";

impl Store {
    /// Claims up to `limit` posts that `model_id` has not read, oldest first,
    /// skipping posts another worker holds.
    pub async fn claim_unanalysed(
        &self,
        model_id: &str,
        filter: PostFilter,
        limit: i64,
    ) -> Result<Claim, StoreError> {
        let action = "claiming posts for analysis";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        let rows = sqlx::query(&format!(
            "SELECT p.id, p.title, p.body, p.lang, COALESCE(p.published_at, p.fetched_at) AS mentioned_at,
                    EXISTS (SELECT 1 FROM sentiments s WHERE s.post_id = p.id AND s.model_id = $1) AS already_scored
             FROM posts p
             WHERE {PENDING}
             ORDER BY p.id
             LIMIT $4
             FOR UPDATE OF p SKIP LOCKED"
        ))
        .bind(model_id)
        .bind(filter.since)
        .bind(filter.brand_id)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        let posts = rows
            .iter()
            .map(|row| {
                Ok(PendingPost {
                    id: row.try_get("id")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    lang: row.try_get("lang")?,
                    mentioned_at: row.try_get("mentioned_at")?,
                    already_scored: row.try_get("already_scored")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::query(action))?;
        Ok(Claim { tx, model_id: model_id.to_owned(), posts })
    }

    /// How many posts `model_id` has not read yet.
    pub async fn count_unanalysed(&self, model_id: &str, filter: PostFilter) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM posts p WHERE {PENDING}"))
            .bind(model_id)
            .bind(filter.since)
            .bind(filter.brand_id)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("counting posts to analyse"))?;
        Ok(n.max(0) as u64)
    }

    /// Deletes `model_id`'s results for the posts `filter` selects and marks
    /// them unread, so the worker reads them again (`reanalyze` with the same
    /// model id and a changed catalog). Results of other model ids stay.
    /// Returns the number of posts marked.
    pub async fn reset_analysis(&self, model_id: &str, filter: PostFilter) -> Result<u64, StoreError> {
        let action = "resetting analysis results";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        let selected = "SELECT p.id FROM posts p
             WHERE ($2::timestamptz IS NULL OR COALESCE(p.published_at, p.fetched_at) >= $2)
               AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM mentions m WHERE m.post_id = p.id AND m.brand_id = $3))";
        // Deleted labels leave the brand sentiment rollup in the same statement.
        let sentiments = format!(
            "WITH gone AS (
                 DELETE FROM sentiments WHERE model_id = $1 AND post_id IN ({selected})
                 RETURNING post_id, model_id, label),
             labelled AS (
                 SELECT m.brand_id, gone.model_id, m.mentioned_at, gone.label
                 FROM gone JOIN mentions m ON m.post_id = gone.post_id)
             {rollup}",
            rollup = super::rollups::sentiment_remove("labelled"),
        );
        let product_mentions =
            format!("DELETE FROM product_mentions WHERE model_id = $1 AND post_id IN ({selected})");
        for sql in [sentiments, product_mentions] {
            sqlx::query(&sql)
                .bind(model_id)
                .bind(filter.since)
                .bind(filter.brand_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(action))?;
        }
        let marked = sqlx::query(&format!(
            "UPDATE posts SET analysed_model_id = NULL
             WHERE id IN ({selected}) AND analysed_model_id = $1 AND text_purged_at IS NULL"
        ))
        .bind(model_id)
        .bind(filter.since)
        .bind(filter.brand_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .rows_affected();
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(marked)
    }

    /// The stored sentiments of `model_id`, by post id.
    pub async fn sentiments(&self, model_id: &str) -> Result<Vec<SentimentRow>, StoreError> {
        let action = "reading sentiments";
        let rows = sqlx::query(
            "SELECT post_id, model_id, status, label, score, probabilities, chunks
             FROM sentiments WHERE model_id = $1 ORDER BY post_id",
        )
        .bind(model_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|row| {
                Ok(SentimentRow {
                    post_id: row.try_get("post_id")?,
                    model_id: row.try_get("model_id")?,
                    status: row.try_get("status")?,
                    label: row.try_get("label")?,
                    score: row.try_get("score")?,
                    probabilities: row.try_get("probabilities")?,
                    chunks: row.try_get("chunks")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }
}

impl Claim {
    /// Stores the results (for claimed posts): sentiments, product mentions
    /// with their aspects, and unlinked names; marks every claimed post as
    /// read by the model; commits. Returns the number of sentiment rows written.
    pub async fn commit(mut self, results: &[PostResult]) -> Result<u64, StoreError> {
        let action = "storing analysis results";
        let mentioned_at: std::collections::HashMap<i64, chrono::DateTime<chrono::Utc>> =
            self.posts.iter().map(|p| (p.id, p.mentioned_at)).collect();
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                let scored = match &r.outcome {
                    Outcome::Scored(s) => Some(s),
                    _ => None,
                };
                serde_json::json!({
                    "post_id": r.post_id,
                    "status": r.outcome.status(),
                    "label": scored.map(|s| s.label.as_str()),
                    "score": scored.map(|s| s.score()),
                    "probabilities": scored.map(|s| s.probabilities),
                    "chunks": scored.map(|s| s.chunks),
                })
            })
            .collect();
        let written = if rows.is_empty() {
            0
        } else {
            // Each newly stored label counts once per brand the post mentions in
            // the brand sentiment rollup, in the same transaction.
            let n: i64 = sqlx::query_scalar(&format!(
                "WITH new AS (
                     INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks)
                     SELECT post_id, $1, status, label, score, probabilities, chunks
                     FROM jsonb_to_recordset($2::jsonb) AS input(
                         post_id bigint, status text, label text, score real, probabilities real[], chunks integer)
                     ON CONFLICT (post_id, model_id) DO NOTHING
                     RETURNING post_id, model_id, label),
                 labelled AS (
                     SELECT m.brand_id, new.model_id, m.mentioned_at, new.label
                     FROM new JOIN mentions m ON m.post_id = new.post_id),
                 rollup AS ({rollup})
                 SELECT count(*) FROM new",
                rollup = super::rollups::sentiment_add("labelled"),
            ))
            .bind(&self.model_id)
            .bind(serde_json::Value::Array(rows))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(StoreError::query(action))?;
            n.max(0) as u64
        };

        self.store_product_mentions(results, &mentioned_at).await?;
        self.store_unlinked(results, &mentioned_at).await?;

        let ids: Vec<i64> = self.posts.iter().map(|p| p.id).collect();
        sqlx::query("UPDATE posts SET analysed_model_id = $1 WHERE id = ANY($2)")
            .bind(&self.model_id)
            .bind(&ids)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query(action))?;
        self.tx.commit().await.map_err(StoreError::query(action))?;
        Ok(written)
    }

    async fn store_product_mentions(
        &mut self,
        results: &[PostResult],
        mentioned_at: &std::collections::HashMap<i64, chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), StoreError> {
        let action = "storing product mentions";
        let mut rows = Vec::new();
        // (post, product, span start) -> aspects, to attach them to the inserted rows' ids.
        type Key = (i64, i64, i64);
        let mut aspects: std::collections::HashMap<Key, &[(String, Label)]> =
            std::collections::HashMap::new();
        for r in results {
            let Some(at) = mentioned_at.get(&r.post_id) else { continue };
            for m in &r.products {
                aspects.insert((r.post_id, m.product_id, m.start as i64), &m.aspects);
                rows.push(serde_json::json!({
                    "post_id": r.post_id,
                    "product_id": m.product_id,
                    "mentioned_at": at,
                    "span_start": m.start,
                    "span_end": m.end,
                    "surface": m.surface,
                    "link_confidence": m.confidence.clamp(0.0, 1.0),
                    "link_rule": m.rule,
                    "sentiment": m.sentiment.as_ref().map(|s| s.label.as_str()),
                    "sentiment_score": m.sentiment.as_ref().map(|s| s.score()),
                    "evidence": m.evidence,
                }));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let inserted = sqlx::query(
            "INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end,
                                           surface, link_confidence, link_rule, sentiment, sentiment_score, evidence)
             SELECT post_id, product_id, $1, mentioned_at, span_start, span_end,
                    surface, link_confidence, link_rule, sentiment, sentiment_score, evidence
             FROM jsonb_to_recordset($2::jsonb) AS input(
                 post_id bigint, product_id bigint, mentioned_at timestamptz, span_start integer, span_end integer,
                 surface text, link_confidence real, link_rule text, sentiment text, sentiment_score real,
                 evidence text)
             ON CONFLICT (post_id, model_id, product_id, span_start) DO NOTHING
             RETURNING id, post_id, product_id, span_start",
        )
        .bind(&self.model_id)
        .bind(serde_json::Value::Array(rows))
        .fetch_all(&mut *self.tx)
        .await
        .map_err(StoreError::query(action))?;
        let mut aspect_rows = Vec::new();
        for row in &inserted {
            let key = (
                row.try_get::<i64, _>("post_id").map_err(StoreError::query(action))?,
                row.try_get::<i64, _>("product_id").map_err(StoreError::query(action))?,
                i64::from(row.try_get::<i32, _>("span_start").map_err(StoreError::query(action))?),
            );
            let id: i64 = row.try_get("id").map_err(StoreError::query(action))?;
            for (aspect, label) in aspects.get(&key).copied().unwrap_or_default() {
                aspect_rows
                    .push(serde_json::json!({"id": id, "aspect": aspect, "sentiment": label.as_str()}));
            }
        }
        if !aspect_rows.is_empty() {
            sqlx::query(
                "INSERT INTO product_mention_aspects (product_mention_id, aspect, sentiment)
                 SELECT id, aspect, sentiment
                 FROM jsonb_to_recordset($1::jsonb) AS input(id bigint, aspect text, sentiment text)
                 ON CONFLICT DO NOTHING",
            )
            .bind(serde_json::Value::Array(aspect_rows))
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query(action))?;
        }
        Ok(())
    }

    async fn store_unlinked(
        &mut self,
        results: &[PostResult],
        mentioned_at: &std::collections::HashMap<i64, chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), StoreError> {
        let action = "storing unlinked names";
        // One row per (brand, key) per batch: ON CONFLICT may touch a row once per statement.
        type At = chrono::DateTime<chrono::Utc>;
        let mut entities: std::collections::BTreeMap<(i64, String), (&NewUnlinked, At, At, i64)> =
            std::collections::BTreeMap::new();
        let mut sightings = Vec::new();
        for r in results {
            let Some(&at) = mentioned_at.get(&r.post_id) else { continue };
            for u in &r.unlinked {
                let entry = entities
                    .entry((u.brand_id.unwrap_or(0), u.normalized.clone()))
                    .or_insert((u, at, at, r.post_id));
                entry.1 = entry.1.min(at);
                if at >= entry.2 {
                    // The latest sighting's spelling is the one shown.
                    entry.0 = u;
                    entry.2 = at;
                }
                sightings.push(serde_json::json!({
                    "brand_id": u.brand_id.unwrap_or(0), "normalized": u.normalized,
                    "post_id": r.post_id, "seen_at": at,
                }));
            }
        }
        let entities: Vec<serde_json::Value> = entities
            .into_values()
            .map(|(u, first, last, example)| {
                serde_json::json!({
                    "brand_id": u.brand_id, "normalized": u.normalized, "surface": u.surface,
                    "first_seen": first, "last_seen": last, "example_post_id": example,
                })
            })
            .collect();
        if entities.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO unlinked_entities (brand_id, normalized, surface, first_seen, last_seen, example_post_id)
             SELECT brand_id, normalized, surface, first_seen, last_seen, example_post_id
             FROM jsonb_to_recordset($1::jsonb) AS input(
                 brand_id bigint, normalized text, surface text, first_seen timestamptz, last_seen timestamptz,
                 example_post_id bigint)
             ON CONFLICT ((COALESCE(brand_id, 0)), normalized) DO UPDATE SET
                 first_seen = LEAST(unlinked_entities.first_seen, EXCLUDED.first_seen),
                 last_seen = GREATEST(unlinked_entities.last_seen, EXCLUDED.last_seen),
                 surface = CASE WHEN EXCLUDED.last_seen >= unlinked_entities.last_seen
                                THEN EXCLUDED.surface ELSE unlinked_entities.surface END",
        )
        .bind(serde_json::Value::Array(entities))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::query(action))?;
        // A post counts once per name, whichever model read it: counts come from sightings.
        sqlx::query(
            "WITH input AS (
                 SELECT * FROM jsonb_to_recordset($1::jsonb)
                     AS i(brand_id bigint, normalized text, post_id bigint, seen_at timestamptz)),
             added AS (
                 INSERT INTO unlinked_entity_sightings (entity_id, post_id, seen_at)
                 SELECT e.id, i.post_id, i.seen_at
                 FROM input i JOIN unlinked_entities e
                   ON COALESCE(e.brand_id, 0) = i.brand_id AND e.normalized = i.normalized
                 ON CONFLICT DO NOTHING
                 RETURNING entity_id)
             UPDATE unlinked_entities e SET mention_count = e.mention_count + a.n
             FROM (SELECT entity_id, count(*) AS n FROM added GROUP BY entity_id) a
             WHERE e.id = a.entity_id",
        )
        .bind(serde_json::Value::Array(sightings))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::query(action))?;
        Ok(())
    }
}
