//! The digest's queries: one brand-day's figures, and storing digests.
//!
//! Every query reads a time range of one brand (`mentions (brand_id,
//! mentioned_at)`) or of that brand's products (`product_mentions
//! (product_id, mentioned_at)`), and only the active model id's results.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, StoreError};

/// Sentiment counts of a brand's mentions in a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelCounts {
    /// Mentions.
    pub mentions: i64,
    /// Scored positive.
    pub positive: i64,
    /// Scored neutral.
    pub neutral: i64,
    /// Scored negative.
    pub negative: i64,
}

/// A brand's mentions in a range, for share of voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandVolume {
    /// Brand name.
    pub brand: String,
    /// A competitor.
    pub competitor: bool,
    /// Mentions.
    pub mentions: i64,
}

/// A product's figures for a day and the days before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDay {
    /// `products.id`.
    pub product_id: i64,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Mentions that day.
    pub mentions: i64,
    /// Mentions in the comparison days before.
    pub previous: i64,
    /// Targeted sentiment that day.
    pub positive: i64,
    /// Neutral.
    pub neutral: i64,
    /// Negative.
    pub negative: i64,
}

/// (product id, aspect, sentiment, count) for a day.
pub type AspectDay = (i64, String, String, i64);

/// A name the catalog lacks, with its sightings that day and before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameDay {
    /// As written.
    pub surface: String,
    /// Posts that day.
    pub today: i64,
    /// Posts in the comparison days before.
    pub previous: i64,
    /// First seen.
    pub first_seen: DateTime<Utc>,
}

/// A candidate example post.
#[derive(Debug, Clone, PartialEq)]
pub struct ExamplePost {
    /// Source name.
    pub source: String,
    /// Author (already hashed at crawl time when privacy says so).
    pub author: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Text.
    pub body: String,
    /// Link.
    pub url: Option<String>,
    /// Likes + reposts + replies (+ score), as the source reported.
    pub engagement: i64,
}

/// A source's fetch runs in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDay {
    /// Source name.
    pub source: String,
    /// Runs.
    pub runs: i64,
    /// Runs that failed.
    pub failed: i64,
    /// Items seen over all runs.
    pub items_seen: i64,
    /// The latest error.
    pub last_error: Option<String>,
}

impl Store {
    /// Sentiment counts of `brand_id`'s mentions in `from..to` for `model_id`.
    pub async fn brand_counts(
        &self,
        brand_id: i64,
        model_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<LabelCounts, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS mentions,
                    count(*) FILTER (WHERE s.label = 'positive') AS positive,
                    count(*) FILTER (WHERE s.label = 'neutral') AS neutral,
                    count(*) FILTER (WHERE s.label = 'negative') AS negative
             FROM mentions m
             LEFT JOIN sentiments s ON s.post_id = m.post_id AND s.model_id = $2 AND s.status = 'scored'
             WHERE m.brand_id = $1 AND m.mentioned_at >= $3 AND m.mentioned_at < $4",
        )
        .bind(brand_id)
        .bind(model_id)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("counting a brand's mentions"))?;
        let get =
            |k: &str| row.try_get::<i64, _>(k).map_err(StoreError::query("counting a brand's mentions"));
        Ok(LabelCounts {
            mentions: get("mentions")?,
            positive: get("positive")?,
            neutral: get("neutral")?,
            negative: get("negative")?,
        })
    }

    /// When the brand was first mentioned (None: never).
    pub async fn first_mention(&self, brand_id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        sqlx::query_scalar("SELECT min(mentioned_at) FROM mentions WHERE brand_id = $1")
            .bind(brand_id)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("finding a brand's first mention"))
    }

    /// Every enabled brand's mentions in `from..to`.
    pub async fn brand_volumes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BrandVolume>, StoreError> {
        let action = "computing share of voice";
        let rows = sqlx::query(
            "SELECT b.name, b.competitor,
                    (SELECT count(*) FROM mentions m
                     WHERE m.brand_id = b.id AND m.mentioned_at >= $1 AND m.mentioned_at < $2) AS mentions
             FROM brands b WHERE b.enabled ORDER BY b.competitor, lower(b.name)",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(BrandVolume {
                    brand: r.try_get("name")?,
                    competitor: r.try_get("competitor")?,
                    mentions: r.try_get("mentions")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// The brand's products mentioned in `previous_from..to`: counts in
    /// `from..to` and in `previous_from..from`, targeted sentiment in `from..to`.
    pub async fn product_days(
        &self,
        brand_id: i64,
        model_id: &str,
        previous_from: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProductDay>, StoreError> {
        let action = "computing product figures";
        let rows = sqlx::query(
            "SELECT p.id, p.sku, p.name,
                    count(*) FILTER (WHERE pm.mentioned_at >= $3) AS mentions,
                    count(*) FILTER (WHERE pm.mentioned_at < $3) AS previous,
                    count(*) FILTER (WHERE pm.mentioned_at >= $3 AND pm.sentiment = 'positive') AS positive,
                    count(*) FILTER (WHERE pm.mentioned_at >= $3 AND pm.sentiment = 'neutral') AS neutral,
                    count(*) FILTER (WHERE pm.mentioned_at >= $3 AND pm.sentiment = 'negative') AS negative
             FROM products p
             JOIN product_mentions pm ON pm.product_id = p.id AND pm.model_id = $2
                                     AND pm.mentioned_at >= $5 AND pm.mentioned_at < $4
             WHERE p.brand_id = $1
             GROUP BY p.id ORDER BY p.sku",
        )
        .bind(brand_id)
        .bind(model_id)
        .bind(from)
        .bind(to)
        .bind(previous_from)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(ProductDay {
                    product_id: r.try_get("id")?,
                    sku: r.try_get("sku")?,
                    name: r.try_get("name")?,
                    mentions: r.try_get("mentions")?,
                    previous: r.try_get("previous")?,
                    positive: r.try_get("positive")?,
                    neutral: r.try_get("neutral")?,
                    negative: r.try_get("negative")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// Aspect counts per product and sentiment of the brand's products in `from..to`.
    pub async fn aspect_days(
        &self,
        brand_id: i64,
        model_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AspectDay>, StoreError> {
        let action = "counting aspects";
        let rows = sqlx::query(
            "SELECT pm.product_id, a.aspect, a.sentiment, count(*) AS n
             FROM products p
             JOIN product_mentions pm ON pm.product_id = p.id AND pm.model_id = $2
                                     AND pm.mentioned_at >= $3 AND pm.mentioned_at < $4
             JOIN product_mention_aspects a ON a.product_mention_id = pm.id
             WHERE p.brand_id = $1
             GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2",
        )
        .bind(brand_id)
        .bind(model_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok((r.try_get("product_id")?, r.try_get("aspect")?, r.try_get("sentiment")?, r.try_get("n")?))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// The brand's unlinked names seen in `from..to`, with sightings in `previous_from..from`.
    pub async fn name_days(
        &self,
        brand_id: i64,
        previous_from: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<NameDay>, StoreError> {
        let action = "listing new names";
        let rows = sqlx::query(
            "SELECT e.surface, e.first_seen,
                    count(*) FILTER (WHERE s.seen_at >= $3) AS today,
                    count(*) FILTER (WHERE s.seen_at < $3) AS previous
             FROM unlinked_entities e
             JOIN unlinked_entity_sightings s ON s.entity_id = e.id AND s.seen_at >= $2 AND s.seen_at < $4
             WHERE e.brand_id = $1
             GROUP BY e.id
             HAVING count(*) FILTER (WHERE s.seen_at >= $3) > 0
             ORDER BY today DESC, previous, e.surface
             LIMIT $5",
        )
        .bind(brand_id)
        .bind(previous_from)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(NameDay {
                    surface: r.try_get("surface")?,
                    today: r.try_get("today")?,
                    previous: r.try_get("previous")?,
                    first_seen: r.try_get("first_seen")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// The most engaged posts of the brand in `from..to` that `model_id` labelled `label`.
    pub async fn example_posts(
        &self,
        brand_id: i64,
        model_id: &str,
        label: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ExamplePost>, StoreError> {
        let action = "picking example posts";
        let rows = sqlx::query(
            "SELECT src.name AS source, p.author, p.title, p.body, p.url,
                    (COALESCE((p.engagement->>'likes')::bigint, 0) + COALESCE((p.engagement->>'reposts')::bigint, 0)
                     + COALESCE((p.engagement->>'replies')::bigint, 0)
                     + COALESCE((p.engagement->>'score')::bigint, 0)) AS engagement
             FROM mentions m
             JOIN sentiments s ON s.post_id = m.post_id AND s.model_id = $2 AND s.label = $3
             JOIN posts p ON p.id = m.post_id
             JOIN sources src ON src.id = p.source_id
             WHERE m.brand_id = $1 AND m.mentioned_at >= $4 AND m.mentioned_at < $5 AND p.text_purged_at IS NULL
             ORDER BY engagement DESC, s.score DESC, p.id
             LIMIT $6",
        )
        .bind(brand_id)
        .bind(model_id)
        .bind(label)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(ExamplePost {
                    source: r.try_get("source")?,
                    author: r.try_get("author")?,
                    title: r.try_get("title")?,
                    body: r.try_get("body")?,
                    url: r.try_get("url")?,
                    engagement: r.try_get("engagement")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// Every enabled source's fetch runs started in `from..to` (sources with no run included).
    pub async fn source_days(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SourceDay>, StoreError> {
        let action = "reading source health";
        let rows = sqlx::query(
            "SELECT s.name,
                    count(r.id) AS runs,
                    count(r.id) FILTER (WHERE r.status = 'failed') AS failed,
                    COALESCE(sum(r.items_seen), 0)::bigint AS items_seen,
                    (array_agg(r.error ORDER BY r.started_at DESC) FILTER (WHERE r.error IS NOT NULL))[1] AS last_error
             FROM sources s
             LEFT JOIN fetch_runs r ON r.source_id = s.id AND r.started_at >= $1 AND r.started_at < $2
             WHERE s.enabled
             GROUP BY s.id ORDER BY lower(s.name)",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(SourceDay {
                    source: r.try_get("name")?,
                    runs: r.try_get("runs")?,
                    failed: r.try_get("failed")?,
                    items_seen: r.try_get("items_seen")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// Stores (or replaces) the digest of a brand-day; returns its id.
    pub async fn save_digest(
        &self,
        brand_id: i64,
        day: NaiveDate,
        model_id: &str,
        stats: &serde_json::Value,
        markdown: &str,
        html: &str,
    ) -> Result<i64, StoreError> {
        let row = DigestRow { brand_id, day, model_id, stats, markdown, html };
        let id = insert_digest(
            &self.pool,
            &row,
            "DO UPDATE SET model_id = EXCLUDED.model_id, stats = EXCLUDED.stats, markdown = EXCLUDED.markdown,
                 html = EXCLUDED.html, generated_at = now()",
        )
        .await?;
        // An upsert always returns its row.
        id.ok_or_else(|| StoreError::NotFound { what: format!("the digest of brand {brand_id} on {day}") })
    }

    /// Records one delivery attempt series of a digest.
    pub async fn record_delivery(
        &self,
        digest_id: i64,
        target: &str,
        delivered: bool,
        attempts: i32,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO digest_deliveries (digest_id, target, status, attempts, error) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest_id)
        .bind(target)
        .bind(if delivered { "delivered" } else { "failed" })
        .bind(attempts.max(1))
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("recording a digest delivery"))?;
        Ok(())
    }
}

/// A stored digest.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDigest {
    /// The digest's JSON form (the documented, versioned shape).
    pub stats: serde_json::Value,
    /// Markdown.
    pub markdown: String,
    /// Email-ready HTML.
    pub html: String,
    /// The model id it was made with.
    pub model_id: String,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
}

impl Store {
    /// The stored digest of a brand-day, if one was made.
    pub async fn stored_digest(
        &self,
        brand_id: i64,
        day: NaiveDate,
    ) -> Result<Option<StoredDigest>, StoreError> {
        let action = "reading a digest";
        let row = sqlx::query(
            "SELECT stats, markdown, html, model_id, generated_at FROM digests WHERE brand_id = $1 AND day = $2",
        )
        .bind(brand_id)
        .bind(day)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        row.map(|r| {
            Ok(StoredDigest {
                stats: r.try_get("stats")?,
                markdown: r.try_get("markdown")?,
                html: r.try_get("html")?,
                model_id: r.try_get("model_id")?,
                generated_at: r.try_get("generated_at")?,
            })
        })
        .transpose()
        .map_err(StoreError::query(action))
    }
}

impl Store {
    /// Stores the digest of a brand-day unless one is stored already; returns
    /// its id when this call stored it. Several daemons may make the same
    /// digest at once: the unique (brand, day) key lets exactly one of them
    /// store it, and only that one delivers it.
    pub async fn claim_digest(
        &self,
        brand_id: i64,
        day: NaiveDate,
        model_id: &str,
        stats: &serde_json::Value,
        markdown: &str,
        html: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = DigestRow { brand_id, day, model_id, stats, markdown, html };
        insert_digest(&self.pool, &row, "DO NOTHING").await
    }

    /// The latest day with a stored digest, per brand id (brands without one are absent).
    pub async fn latest_digest_days(&self) -> Result<Vec<(i64, NaiveDate)>, StoreError> {
        let action = "reading the latest digest days";
        let rows =
            sqlx::query("SELECT brand_id, max(day) AS day FROM digests GROUP BY brand_id ORDER BY brand_id")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| Ok((r.try_get("brand_id")?, r.try_get("day")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }
}

/// One digest to store.
struct DigestRow<'a> {
    brand_id: i64,
    day: NaiveDate,
    model_id: &'a str,
    stats: &'a serde_json::Value,
    markdown: &'a str,
    html: &'a str,
}

/// Inserts a digest; `on_conflict` says what an existing one for the
/// brand-day gets (replaced, or kept). Returns the id of the row written.
async fn insert_digest(
    pool: &sqlx::PgPool,
    row: &DigestRow<'_>,
    on_conflict: &'static str,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(&format!(
        "INSERT INTO digests (brand_id, day, model_id, stats, markdown, html)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (brand_id, day) {on_conflict}
         RETURNING id"
    ))
    .bind(row.brand_id)
    .bind(row.day)
    .bind(row.model_id)
    .bind(row.stats)
    .bind(row.markdown)
    .bind(row.html)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::query("storing a digest"))
}
