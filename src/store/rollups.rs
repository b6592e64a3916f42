//! Per-brand rollups in 15-minute slots (`brand_volume_slots`,
//! `brand_sentiment_slots`; see their migration for why 15 minutes).
//!
//! They are kept in step inside the transactions that change what they count:
//! [`Store::insert_posts`] adds new mentions to the volume, `Claim::commit`
//! adds newly stored sentiments, [`Store::reset_analysis`] takes deleted ones
//! away. Brand trends over whole slots read them instead of the mention rows.

use super::{Store, StoreError};

/// The slot a time falls in, as SQL over the expression `at`.
pub(super) fn slot_of(at: &str) -> String {
    format!("date_bin('15 minutes', {at}, timestamptz '2000-01-01 00:00:00+00')")
}

/// The `(brand_id, model_id, mentioned_at, label)` rows of the CTE `rows` as
/// counts per slot (labels other than positive, neutral, negative ignored),
/// in key order so concurrent writers lock slots in the same order and cannot
/// deadlock each other.
fn sentiment_counts(rows: &str) -> String {
    let slot = slot_of("mentioned_at");
    format!(
        "SELECT brand_id, model_id, {slot} AS slot,
                count(*) FILTER (WHERE label = 'positive') AS positive,
                count(*) FILTER (WHERE label = 'neutral') AS neutral,
                count(*) FILTER (WHERE label = 'negative') AS negative
         FROM {rows} WHERE label IN ('positive', 'neutral', 'negative')
         GROUP BY brand_id, model_id, slot
         ORDER BY brand_id, model_id, slot"
    )
}

/// A statement that adds the `(brand_id, model_id, mentioned_at, label)` rows
/// of the CTE `rows` to the sentiment slots.
pub(super) fn sentiment_add(rows: &str) -> String {
    format!(
        "INSERT INTO brand_sentiment_slots AS t (brand_id, model_id, slot, positive, neutral, negative)
         {counts}
         ON CONFLICT (brand_id, model_id, slot) DO UPDATE SET
             positive = t.positive + excluded.positive,
             neutral = t.neutral + excluded.neutral,
             negative = t.negative + excluded.negative",
        counts = sentiment_counts(rows),
    )
}

/// A statement that takes the `(brand_id, model_id, mentioned_at, label)` rows
/// of the CTE `rows` away from the sentiment slots. A count never goes below
/// zero: a rollup out of step with the raw rows (repaired by
/// [`Store::rebuild_rollups`]) must not make re-analysis fail.
pub(super) fn sentiment_remove(rows: &str) -> String {
    format!(
        "UPDATE brand_sentiment_slots AS t SET
             positive = GREATEST(t.positive - d.positive, 0),
             neutral = GREATEST(t.neutral - d.neutral, 0),
             negative = GREATEST(t.negative - d.negative, 0)
         FROM ({counts}) AS d
         WHERE t.brand_id = d.brand_id AND t.model_id = d.model_id AND t.slot = d.slot",
        counts = sentiment_counts(rows),
    )
}

/// A statement fragment that adds the `(brand_id, mentioned_at)` rows of the
/// CTE `rows` to the volume slots.
pub(super) fn volume_delta(rows: &str) -> String {
    let slot = slot_of("mentioned_at");
    format!(
        "INSERT INTO brand_volume_slots AS t (brand_id, slot, mentions)
         SELECT brand_id, {slot} AS slot, count(*) FROM {rows}
         GROUP BY brand_id, slot
         ORDER BY brand_id, slot
         ON CONFLICT (brand_id, slot) DO UPDATE SET mentions = t.mentions + excluded.mentions"
    )
}

/// One slot of a rollup, for checks and repairs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SlotRow {
    /// Brand.
    pub brand_id: i64,
    /// Model id; empty for volume slots.
    pub model_id: String,
    /// Slot start.
    pub slot: chrono::DateTime<chrono::Utc>,
    /// Mentions (volume slots) or 0.
    pub mentions: i64,
    /// Positive mentions (sentiment slots) or 0.
    pub positive: i64,
    /// Neutral mentions (sentiment slots) or 0.
    pub neutral: i64,
    /// Negative mentions (sentiment slots) or 0.
    pub negative: i64,
}

const STORED_SLOTS: &str = "SELECT brand_id, '' AS model_id, slot, mentions, 0::bigint AS positive,
                                   0::bigint AS neutral, 0::bigint AS negative
                            FROM brand_volume_slots WHERE mentions > 0
                            UNION ALL
                            SELECT brand_id, model_id, slot, 0, positive, neutral, negative
                            FROM brand_sentiment_slots WHERE positive + neutral + negative > 0
                            ORDER BY brand_id, model_id, slot";

fn computed_slots() -> String {
    let slot = slot_of("m.mentioned_at");
    format!(
        "SELECT m.brand_id, '' AS model_id, {slot} AS slot, count(*) AS mentions, 0::bigint AS positive,
                0::bigint AS neutral, 0::bigint AS negative
         FROM mentions m GROUP BY 1, 3
         UNION ALL
         SELECT m.brand_id, s.model_id, {slot} AS slot, 0,
                count(*) FILTER (WHERE s.label = 'positive'),
                count(*) FILTER (WHERE s.label = 'neutral'),
                count(*) FILTER (WHERE s.label = 'negative')
         FROM mentions m JOIN sentiments s ON s.post_id = m.post_id AND s.status = 'scored'
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3"
    )
}

impl Store {
    /// The rollups as stored (slots with a count), ordered by brand, model id
    /// (empty for volume) and slot.
    pub async fn rollup_slots(&self) -> Result<Vec<SlotRow>, StoreError> {
        sqlx::query_as(STORED_SLOTS)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("reading the brand rollups"))
    }

    /// The rollups as the raw mentions and sentiments say they should be, in
    /// [`Store::rollup_slots`]'s shape and order.
    pub async fn rollup_slots_from_raw(&self) -> Result<Vec<SlotRow>, StoreError> {
        sqlx::query_as(&computed_slots())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("recomputing the brand rollups"))
    }

    /// Recomputes both rollups from the raw tables in one transaction (a
    /// repair; writers wait for it). Returns the number of slots written.
    pub async fn rebuild_rollups(&self) -> Result<u64, StoreError> {
        let action = "rebuilding the brand rollups";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        sqlx::query("LOCK TABLE brand_volume_slots, brand_sentiment_slots IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        sqlx::query("DELETE FROM brand_volume_slots")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        sqlx::query("DELETE FROM brand_sentiment_slots")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        let mut written = 0;
        let volume =
            format!("WITH rows AS (SELECT brand_id, mentioned_at FROM mentions) {}", volume_delta("rows"));
        written +=
            sqlx::query(&volume).execute(&mut *tx).await.map_err(StoreError::query(action))?.rows_affected();
        let sentiment = format!(
            "WITH rows AS (SELECT m.brand_id, m.mentioned_at, s.model_id, s.label
                           FROM mentions m JOIN sentiments s ON s.post_id = m.post_id AND s.status = 'scored')
             {}",
            sentiment_add("rows")
        );
        written += sqlx::query(&sentiment)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(written)
    }
}
