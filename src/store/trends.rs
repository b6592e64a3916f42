//! Trend queries: mentions and sentiment per time bucket, and rising products.
//!
//! Buckets are cut in the configured time zone (`date_trunc` on the local
//! time, so a DST day is one 23- or 25-hour day bucket; in hour buckets the
//! hour a spring jump skips is left out and the autumn's repeated hour is one
//! two-hour bucket), every bucket of the range is present (`generate_series`,
//! empty ones as zeros), and only the active model id's results are read.
//! Brands read the 15-minute rollups (see [`trend_sql`]); products,
//! categories and aspects read one index range of `product_mentions
//! (product_id, mentioned_at)`.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};

/// What the trend is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Every watched brand's mentions (post sentiment).
    All,
    /// One brand's mentions (post sentiment).
    Brand(i64),
    /// One product's mentions (targeted sentiment).
    Product(i64),
    /// Mentions of the products of one category (targeted sentiment).
    Category(String),
    /// Product mentions that discuss one aspect (the aspect's sentiment).
    Aspect(String),
}

/// Bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Hours.
    Hour,
    /// Days.
    Day,
    /// Weeks starting on Monday.
    Week,
}

impl Bucket {
    fn unit(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }
}

/// A trend request.
#[derive(Debug, Clone)]
pub struct TrendQuery {
    /// What.
    pub subject: Subject,
    /// From (inclusive).
    pub from: DateTime<Utc>,
    /// To (exclusive).
    pub to: DateTime<Utc>,
    /// Bucket width.
    pub bucket: Bucket,
    /// IANA time zone buckets are cut in.
    pub time_zone: String,
    /// Only posts from sources of this kind (`feed`, `reddit`, ...).
    pub source_kind: Option<String>,
    /// The active model id.
    pub model_id: String,
}

/// One bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct TrendPoint {
    /// Bucket start, local time.
    pub bucket: NaiveDateTime,
    /// Mentions.
    pub mentions: i64,
    /// Positive.
    pub positive: i64,
    /// Neutral.
    pub neutral: i64,
    /// Negative.
    pub negative: i64,
    /// (positive - negative) / scored; None when nothing was scored.
    pub net_sentiment: Option<f64>,
}

/// A product's mentions in the period against the period before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RisingProduct {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Mentions in the period.
    pub mentions: i64,
    /// Mentions in the equally long period before.
    pub previous: i64,
    /// mentions / max(previous, 1) - 1.
    pub growth: f64,
}

/// The mention rows of a subject in `from..to` (SQL expressions) as
/// (`at`, label); `$1` model id, `$4` subject, `$5` source kind.
fn rows_sql(subject: &Subject, from: &str, to: &str) -> String {
    let sql = match subject {
        // Separate texts for one brand and for all: a generic plan can use the
        // (brand_id, mentioned_at) index only when the brand is a plain condition.
        Subject::Brand(_) => {
            "SELECT m.mentioned_at AS at, s.label
             FROM mentions m
             LEFT JOIN sentiments s ON s.post_id = m.post_id AND s.model_id = $1 AND s.status = 'scored'
             WHERE m.brand_id = $4 AND m.mentioned_at >= $2 AND m.mentioned_at < $3
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM posts p JOIN sources src ON src.id = p.source_id
                                                WHERE p.id = m.post_id AND src.kind = $5))"
        }
        Subject::All => {
            "SELECT m.mentioned_at AS at, s.label
             FROM mentions m
             LEFT JOIN sentiments s ON s.post_id = m.post_id AND s.model_id = $1 AND s.status = 'scored'
             WHERE m.mentioned_at >= $2 AND m.mentioned_at < $3 AND $4::bigint IS NULL
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM posts p JOIN sources src ON src.id = p.source_id
                                                WHERE p.id = m.post_id AND src.kind = $5))"
        }
        Subject::Product(_) => {
            "SELECT pm.mentioned_at AS at, pm.sentiment AS label
             FROM product_mentions pm
             WHERE pm.product_id = $4 AND pm.model_id = $1 AND pm.mentioned_at >= $2 AND pm.mentioned_at < $3
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM posts p JOIN sources src ON src.id = p.source_id
                                                WHERE p.id = pm.post_id AND src.kind = $5))"
        }
        Subject::Category(_) => {
            "SELECT pm.mentioned_at AS at, pm.sentiment AS label
             FROM product_mentions pm JOIN products pr ON pr.id = pm.product_id
             WHERE lower(pr.category) = lower($4) AND pm.model_id = $1
               AND pm.mentioned_at >= $2 AND pm.mentioned_at < $3
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM posts p JOIN sources src ON src.id = p.source_id
                                                WHERE p.id = pm.post_id AND src.kind = $5))"
        }
        Subject::Aspect(_) => {
            "SELECT pm.mentioned_at AS at, a.sentiment AS label
             FROM product_mention_aspects a JOIN product_mentions pm ON pm.id = a.product_mention_id
             WHERE a.aspect = $4 AND pm.model_id = $1 AND pm.mentioned_at >= $2 AND pm.mentioned_at < $3
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM posts p JOIN sources src ON src.id = p.source_id
                                                WHERE p.id = pm.post_id AND src.kind = $5))"
        }
    };
    sql.replace("$2", from).replace("$3", to)
}

/// The SQL `Store::rising_products` runs: `$1` model id, `$2` from, `$3` to,
/// `$4` minimum mentions, `$5` brand, `$6` product, `$7` category, `$8` limit.
/// The products in scope come first, so each is counted on its
/// `(product_id, mentioned_at)` index range.
pub const RISING_SQL: &str = "WITH scope AS (
                 SELECT p.id FROM products p
                 WHERE ($5::bigint IS NULL OR p.brand_id = $5)
                   AND ($6::bigint IS NULL OR p.id = $6)
                   AND ($7::text IS NULL OR lower(p.category) = lower($7))),
             counts AS (
                 SELECT pm.product_id,
                        count(*) FILTER (WHERE pm.mentioned_at >= $2) AS mentions,
                        count(*) FILTER (WHERE pm.mentioned_at < $2) AS previous
                 FROM scope JOIN product_mentions pm ON pm.product_id = scope.id
                 WHERE pm.model_id = $1 AND pm.mentioned_at >= $2 - ($3 - $2) AND pm.mentioned_at < $3
                 GROUP BY pm.product_id)
             SELECT p.sku, p.name, c.mentions, c.previous
             FROM counts c JOIN products p ON p.id = c.product_id
             WHERE c.mentions >= $4
             ORDER BY c.mentions::float8 / GREATEST(c.previous, 1) DESC, c.mentions DESC, p.sku
             LIMIT $8";

/// The SQL `Store::trend` runs (public so the benchmark can `EXPLAIN` the very
/// same text): `$1` model id, `$2` from, `$3` to, `$4` subject, `$5` source
/// kind, `$6` time zone.
///
/// A brand (or all brands) without a source filter is counted from the
/// 15-minute rollups for the whole slots of the range and from the mention
/// rows only for the partial slots at its two ends, so a year costs the same
/// as a few thousand rows. Everything else reads the rows of its index range.
pub fn trend_sql(subject: &Subject, bucket: Bucket, source_filter: bool) -> String {
    let unit = bucket.unit();
    let counted = match subject {
        Subject::Brand(_) | Subject::All if !source_filter => {
            let brand =
                if matches!(subject, Subject::Brand(_)) { "brand_id = $4" } else { "$4::bigint IS NULL" };
            let lo = format!(
                "({} + interval '15 minutes')",
                super::rollups::slot_of("$2 - interval '1 microsecond'")
            );
            let hi = super::rollups::slot_of("$3");
            let head = rows_sql(subject, "$2", &format!("LEAST({lo}, $3)"));
            let tail = rows_sql(subject, &format!("GREATEST({hi}, {lo})"), "$3");
            format!(
                "SELECT date_trunc('{unit}', at AT TIME ZONE $6) AS bucket, sum(mentions)::bigint AS mentions,
                        sum(positive)::bigint AS positive, sum(neutral)::bigint AS neutral,
                        sum(negative)::bigint AS negative
                 FROM (SELECT slot AS at, mentions, 0::bigint AS positive, 0::bigint AS neutral, 0::bigint AS negative
                       FROM brand_volume_slots WHERE {brand} AND slot >= {lo} AND slot < {hi}
                       UNION ALL
                       SELECT slot, 0, positive, neutral, negative
                       FROM brand_sentiment_slots WHERE {brand} AND model_id = $1 AND slot >= {lo} AND slot < {hi}
                       UNION ALL
                       SELECT at, 1, (label = 'positive')::int, (label = 'neutral')::int, (label = 'negative')::int
                       FROM ({head} UNION ALL {tail}) AS edges) AS parts
                 GROUP BY 1"
            )
        }
        _ => format!(
            "SELECT date_trunc('{unit}', at AT TIME ZONE $6) AS bucket,
                    count(*) AS mentions,
                    count(*) FILTER (WHERE label = 'positive') AS positive,
                    count(*) FILTER (WHERE label = 'neutral') AS neutral,
                    count(*) FILTER (WHERE label = 'negative') AS negative
             FROM ({rows}) AS rows GROUP BY 1",
            rows = rows_sql(subject, "$2", "$3"),
        ),
    };
    format!(
        "WITH series AS (
             SELECT generate_series(date_trunc('{unit}', $2 AT TIME ZONE $6),
                                    date_trunc('{unit}', ($3 - interval '1 microsecond') AT TIME ZONE $6),
                                    interval '1 {unit}') AS bucket),
         buckets AS (SELECT bucket FROM series {skip_missing}),
         counted AS ({counted})
         SELECT b.bucket, COALESCE(c.mentions, 0) AS mentions, COALESCE(c.positive, 0) AS positive,
                COALESCE(c.neutral, 0) AS neutral, COALESCE(c.negative, 0) AS negative
         FROM buckets b LEFT JOIN counted c USING (bucket)
         ORDER BY b.bucket",
        // A local hour that does not exist (skipped by a DST jump) is not a bucket:
        // it does not survive the round trip local -> instant -> local.
        skip_missing = if bucket == Bucket::Hour {
            "WHERE (bucket AT TIME ZONE $6) AT TIME ZONE $6 = bucket"
        } else {
            ""
        },
    )
}

impl Store {
    /// Mentions and sentiment per bucket, every bucket of the range included.
    pub async fn trend(&self, q: &TrendQuery) -> Result<Vec<TrendPoint>, StoreError> {
        let action = "computing a trend";
        let sql = trend_sql(&q.subject, q.bucket, q.source_kind.is_some());
        let query = sqlx::query(&sql).bind(&q.model_id).bind(q.from).bind(q.to);
        let query = match &q.subject {
            Subject::All => query.bind(Option::<i64>::None),
            Subject::Brand(id) | Subject::Product(id) => query.bind(Some(*id)),
            Subject::Category(name) | Subject::Aspect(name) => query.bind(name.clone()),
        };
        let rows = query
            .bind(q.source_kind.as_deref())
            .bind(&q.time_zone)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                let (positive, neutral, negative): (i64, i64, i64) =
                    (r.try_get("positive")?, r.try_get("neutral")?, r.try_get("negative")?);
                let scored = positive + neutral + negative;
                Ok(TrendPoint {
                    bucket: r.try_get("bucket")?,
                    mentions: r.try_get("mentions")?,
                    positive,
                    neutral,
                    negative,
                    net_sentiment: (scored > 0).then(|| (positive - negative) as f64 / scored as f64),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// Products (of `brand_id` or `category` when given) ranked by growth of
    /// mentions in `from..to` against the equally long period before; only
    /// products with at least `min_mentions` in the period.
    pub async fn rising_products(
        &self,
        q: &TrendQuery,
        min_mentions: i64,
        limit: i64,
    ) -> Result<Vec<RisingProduct>, StoreError> {
        let action = "ranking rising products";
        let (brand, product, category) = match &q.subject {
            Subject::Brand(id) => (Some(*id), None, None),
            Subject::Product(id) => (None, Some(*id), None),
            Subject::Category(c) => (None, None, Some(c.clone())),
            Subject::All | Subject::Aspect(_) => (None, None, None),
        };
        let rows = sqlx::query(RISING_SQL)
            .bind(&q.model_id)
            .bind(q.from)
            .bind(q.to)
            .bind(min_mentions)
            .bind(brand)
            .bind(product)
            .bind(category)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                let (mentions, previous): (i64, i64) = (r.try_get("mentions")?, r.try_get("previous")?);
                Ok(RisingProduct {
                    sku: r.try_get("sku")?,
                    name: r.try_get("name")?,
                    mentions,
                    previous,
                    growth: mentions as f64 / previous.max(1) as f64 - 1.0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// The id of the product with this SKU.
    pub async fn product_id(&self, sku: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM products WHERE sku = $1")
            .bind(sku)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("looking up a product"))
    }

    /// Whether any product has this category (ignoring case).
    pub async fn category_exists(&self, category: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM products WHERE lower(category) = lower($1))")
            .bind(category)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("looking up a category"))
    }
}
