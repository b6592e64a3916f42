//! Posts and their brand mentions: stored once, whatever the number of fetches.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;

use super::{Store, StoreError};
use crate::matching::TermMatch;
use crate::normalize::Post;

/// A post with the brands it mentions, ready to store.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// The normalised post.
    pub post: Post,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
    /// One entry per brand mentioned (never empty: unmatched posts are not stored).
    pub mentions: Vec<NewMention>,
}

/// A brand mention of a [`NewPost`].
#[derive(Debug, Clone)]
pub struct NewMention {
    /// The brand's database id.
    pub brand_id: i64,
    /// Distinct aliases that matched.
    pub terms: Vec<String>,
    /// Every occurrence, with byte offsets into the post's match text.
    pub matches: Vec<TermMatch>,
}

/// What [`Store::insert_posts`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertReport {
    /// Posts that were new (not seen from this source, and no identical text stored).
    pub new_posts: u64,
    /// Mentions of those posts.
    pub new_mentions: u64,
}

impl Store {
    /// Stores posts and their mentions in one transaction. A post already
    /// stored, by (source, external id) or by content hash from any source,
    /// is skipped with its mentions: re-fetching never creates a second row.
    pub async fn insert_posts(&self, source_id: i64, posts: &[NewPost]) -> Result<InsertReport, StoreError> {
        if posts.is_empty() {
            return Ok(InsertReport::default());
        }
        let action = "storing posts";
        let rows: Vec<serde_json::Value> = posts
            .iter()
            .map(|p| {
                let post = &p.post;
                json!({
                    "external_id": post.external_id,
                    "url": post.url,
                    "author": post.author,
                    "title": post.title,
                    "body": post.body,
                    "lang": post.lang,
                    "lang_confidence": post.lang_confidence,
                    "published_at": post.published_at,
                    "fetched_at": p.fetched_at,
                    "engagement": post.engagement,
                    "content_hash": hex(&post.content_hash),
                })
            })
            .collect();
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        // ON CONFLICT DO NOTHING covers both unique keys (source + external id,
        // content hash), including duplicates inside this batch.
        let inserted = sqlx::query(
            "INSERT INTO posts (source_id, external_id, url, author, title, body, lang, lang_confidence,
                                published_at, fetched_at, engagement, content_hash)
             SELECT $1, external_id, url, author, title, body, lang, lang_confidence,
                    published_at, fetched_at, COALESCE(engagement, '{}'), decode(content_hash, 'hex')
             FROM jsonb_to_recordset($2::jsonb) AS input(
                 external_id text, url text, author text, title text, body text, lang text,
                 lang_confidence real, published_at timestamptz, fetched_at timestamptz,
                 engagement jsonb, content_hash text)
             ON CONFLICT DO NOTHING
             RETURNING id, encode(content_hash, 'hex') AS content_hash",
        )
        .bind(source_id)
        .bind(serde_json::Value::Array(rows))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;

        let mut by_hash = std::collections::HashMap::with_capacity(inserted.len());
        for row in &inserted {
            let id: i64 = row.try_get("id").map_err(StoreError::query(action))?;
            let hash: String = row.try_get("content_hash").map_err(StoreError::query(action))?;
            by_hash.insert(hash, id);
        }
        let mut mentions = Vec::new();
        for p in posts {
            // Only the row that was actually inserted gets mentions; a duplicate
            // in the same batch finds its hash already taken.
            let Some(post_id) = by_hash.remove(&hex(&p.post.content_hash)) else { continue };
            let mentioned_at = p.post.published_at.unwrap_or(p.fetched_at);
            for m in &p.mentions {
                mentions.push(json!({
                    "post_id": post_id,
                    "brand_id": m.brand_id,
                    "mentioned_at": mentioned_at,
                    "matched_terms": m.terms,
                    "matches": m.matches,
                }));
            }
        }
        let new_mentions = if mentions.is_empty() {
            0
        } else {
            // The brand volume rollup counts the mentions actually inserted, in
            // the same transaction (a data-modifying CTE runs whether or not the
            // outer query reads it).
            let n: i64 = sqlx::query_scalar(&format!(
                "WITH new AS (
                     INSERT INTO mentions (post_id, brand_id, mentioned_at, matched_terms, matches)
                     SELECT post_id, brand_id, mentioned_at, matched_terms, matches
                     FROM jsonb_to_recordset($1::jsonb) AS input(
                         post_id bigint, brand_id bigint, mentioned_at timestamptz, matched_terms text[], matches jsonb)
                     ON CONFLICT (post_id, brand_id) DO NOTHING
                     RETURNING brand_id, mentioned_at),
                 volume AS ({volume})
                 SELECT count(*) FROM new",
                volume = super::rollups::volume_delta("new"),
            ))
            .bind(serde_json::Value::Array(mentions))
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
            n.max(0) as u64
        };
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(InsertReport { new_posts: inserted.len() as u64, new_mentions })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl Store {
    /// Retention: blanks the title, body and product evidence of up to
    /// `limit` posts published (or, without a date, fetched) before `cutoff`
    /// that the model has already read, and marks them purged. Posts,
    /// mentions, sentiments, product mentions, aspects and rollups stay, so
    /// trends and digests do not change. Several daemons may run it at once
    /// (rows another holds are skipped). Returns how many posts were blanked.
    pub async fn purge_post_text(&self, cutoff: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let action = "blanking expired post text";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM posts
             WHERE text_purged_at IS NULL AND COALESCE(published_at, fetched_at) < $1
               -- Never blank a post before the model has read it.
               AND analysed_model_id IS NOT NULL
             ORDER BY COALESCE(published_at, fetched_at)
             LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        if ids.is_empty() {
            return Ok(0);
        }
        sqlx::query("UPDATE product_mentions SET evidence = '' WHERE post_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        let purged = sqlx::query(
            "UPDATE posts SET title = NULL, body = '', text_purged_at = now() WHERE id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .rows_affected();
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(purged)
    }
}
