//! Sentiment results: claiming posts the active model has not read, and
//! storing what it said.
//!
//! A claim is a transaction holding row locks (`FOR UPDATE SKIP LOCKED`) on
//! the posts it returns, so two workers never read the same post; the
//! results are written and the claim committed in the same transaction, so a
//! crash mid-batch leaves the posts unclaimed and unscored, never half done.

use sqlx::{Postgres, Row, Transaction};

use super::{Store, StoreError};
use crate::nlp::Sentiment;

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

const PENDING: &str = "(p.analysed_model_id IS NULL OR p.analysed_model_id < $1 OR p.analysed_model_id > $1)
                       AND p.text_purged_at IS NULL";

impl Store {
    /// Claims up to `limit` posts that `model_id` has not read, oldest first,
    /// skipping posts another worker holds.
    pub async fn claim_unanalysed(&self, model_id: &str, limit: i64) -> Result<Claim, StoreError> {
        let action = "claiming posts for analysis";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        let rows = sqlx::query(&format!(
            "SELECT p.id, p.title, p.body, p.lang,
                    EXISTS (SELECT 1 FROM sentiments s WHERE s.post_id = p.id AND s.model_id = $1) AS already_scored
             FROM posts p
             WHERE {PENDING}
             ORDER BY p.id
             LIMIT $2
             FOR UPDATE OF p SKIP LOCKED"
        ))
        .bind(model_id)
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
                    already_scored: row.try_get("already_scored")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::query(action))?;
        Ok(Claim { tx, model_id: model_id.to_owned(), posts })
    }

    /// How many posts `model_id` has not read yet.
    pub async fn count_unanalysed(&self, model_id: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM posts p WHERE {PENDING}"))
            .bind(model_id)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("counting posts to analyse"))?;
        Ok(n.max(0) as u64)
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
    /// Stores the outcomes (`(post id, outcome)`, for claimed posts), marks
    /// every claimed post as read by the model, and commits. Returns the
    /// number of sentiment rows written.
    pub async fn commit(mut self, outcomes: &[(i64, Outcome)]) -> Result<u64, StoreError> {
        let action = "storing sentiments";
        let rows: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|(post_id, outcome)| {
                let scored = match outcome {
                    Outcome::Scored(s) => Some(s),
                    _ => None,
                };
                serde_json::json!({
                    "post_id": post_id,
                    "status": outcome.status(),
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
            sqlx::query(
                "INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks)
                 SELECT post_id, $1, status, label, score, probabilities, chunks
                 FROM jsonb_to_recordset($2::jsonb) AS input(
                     post_id bigint, status text, label text, score real, probabilities real[], chunks integer)
                 ON CONFLICT (post_id, model_id) DO NOTHING",
            )
            .bind(&self.model_id)
            .bind(serde_json::Value::Array(rows))
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected()
        };
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
}
