//! The product catalog: import (upsert by SKU, discontinue the missing) and listing.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};

/// A catalog row to import, already validated.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewProduct {
    /// Stock-keeping unit: the key.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// The brand's database id.
    pub brand_id: i64,
    /// Category, if any.
    pub category: Option<String>,
    /// What people call it besides its name.
    pub aliases: Vec<String>,
    /// Product page.
    pub url: Option<String>,
    /// Any other columns: a JSON object.
    pub attributes: serde_json::Value,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogImportReport {
    /// New products.
    pub inserted: u64,
    /// Products whose fields changed (or that came back from discontinued).
    pub updated: u64,
    /// Products already exactly as in the file (not rewritten).
    pub unchanged: u64,
    /// Products not in the file, now marked discontinued.
    pub discontinued: u64,
}

/// A product as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProductRow {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Brand name.
    pub brand: String,
    /// Category.
    pub category: Option<String>,
    /// Aliases from the catalog file.
    pub aliases: Vec<String>,
    /// Aliases added with `catalog alias`.
    pub manual_aliases: Vec<String>,
    /// Product page.
    pub url: Option<String>,
    /// Extra columns.
    pub attributes: serde_json::Value,
    /// When an import stopped listing it.
    pub discontinued_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Imports a whole catalog in one transaction: upsert by SKU, rewriting
    /// only rows that differ; with `discontinue_missing`, products the file no
    /// longer lists are marked discontinued (never deleted).
    pub async fn import_catalog(
        &self,
        products: &[NewProduct],
        discontinue_missing: bool,
    ) -> Result<CatalogImportReport, StoreError> {
        let action = "importing the catalog";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        // Two imports at once would each discontinue the other's new rows.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('brandpulse.catalog_import'))")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        let input = serde_json::to_value(products)
            .map_err(|e| StoreError::Query { action, source: sqlx::Error::Encode(Box::new(e)) })?;
        let rows = sqlx::query(
            "INSERT INTO products (sku, name, brand_id, category, aliases, url, attributes)
             SELECT sku, name, brand_id, category, COALESCE(aliases, '{}'), url, COALESCE(attributes, '{}')
             FROM jsonb_to_recordset($1::jsonb)
                  AS input(sku text, name text, brand_id bigint, category text, aliases text[], url text, attributes jsonb)
             ON CONFLICT (sku) DO UPDATE SET
                 name = EXCLUDED.name, brand_id = EXCLUDED.brand_id, category = EXCLUDED.category,
                 aliases = EXCLUDED.aliases, url = EXCLUDED.url, attributes = EXCLUDED.attributes,
                 discontinued_at = NULL, updated_at = now()
             WHERE (products.name, products.brand_id, products.category, products.aliases, products.url,
                    products.attributes, products.discontinued_at IS NULL)
                   IS DISTINCT FROM
                   (EXCLUDED.name, EXCLUDED.brand_id, EXCLUDED.category, EXCLUDED.aliases, EXCLUDED.url,
                    EXCLUDED.attributes, true)
             RETURNING (xmax = 0) AS inserted",
        )
        .bind(&input)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        let mut report = CatalogImportReport::default();
        for row in rows {
            if row.try_get::<bool, _>("inserted").map_err(StoreError::query(action))? {
                report.inserted += 1;
            } else {
                report.updated += 1;
            }
        }
        report.unchanged = products.len() as u64 - report.inserted - report.updated;
        if discontinue_missing {
            let skus: Vec<&str> = products.iter().map(|p| p.sku.as_str()).collect();
            report.discontinued = sqlx::query(
                "UPDATE products SET discontinued_at = now(), updated_at = now()
                 WHERE discontinued_at IS NULL AND sku <> ALL($1)",
            )
            .bind(&skus)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
        }
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(report)
    }

    /// The catalog, by brand then SKU; only one brand's products when `brand_id` is given.
    pub async fn products(&self, brand_id: Option<i64>) -> Result<Vec<ProductRow>, StoreError> {
        let action = "listing the catalog";
        let rows = sqlx::query(
            "SELECT p.sku, p.name, b.name AS brand, p.category, p.aliases, p.manual_aliases, p.url,
                    p.attributes, p.discontinued_at
             FROM products p JOIN brands b ON b.id = p.brand_id
             WHERE $1::bigint IS NULL OR p.brand_id = $1
             ORDER BY lower(b.name), p.sku",
        )
        .bind(brand_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(ProductRow {
                    sku: r.try_get("sku")?,
                    name: r.try_get("name")?,
                    brand: r.try_get("brand")?,
                    category: r.try_get("category")?,
                    aliases: r.try_get("aliases")?,
                    manual_aliases: r.try_get("manual_aliases")?,
                    url: r.try_get("url")?,
                    attributes: r.try_get("attributes")?,
                    discontinued_at: r.try_get("discontinued_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// Every product with its database ids and all its names (catalog and
    /// manual aliases), for compiling the gazetteer. Discontinued products are
    /// included: people keep talking about them.
    pub async fn catalog_entries(&self) -> Result<Vec<CatalogProduct>, StoreError> {
        let action = "reading the catalog";
        let rows = sqlx::query(
            "SELECT id, sku, name, brand_id, aliases || manual_aliases AS aliases
             FROM products ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(CatalogProduct {
                    product_id: r.try_get("id")?,
                    sku: r.try_get("sku")?,
                    name: r.try_get("name")?,
                    brand_id: r.try_get("brand_id")?,
                    aliases: r.try_get("aliases")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }

    /// Adds `alias` to the product's manual aliases (kept across imports).
    /// Returns false when the product already has that alias (ignoring case).
    pub async fn add_manual_alias(&self, sku: &str, alias: &str) -> Result<bool, StoreError> {
        let action = "adding an alias";
        let exists: Option<bool> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM unnest(aliases || manual_aliases || ARRAY[name]) a
                            WHERE lower(a) = lower($2))
             FROM products WHERE sku = $1",
        )
        .bind(sku)
        .bind(alias)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        match exists {
            None => Err(StoreError::NotFound { what: format!("product with SKU `{sku}`") }),
            Some(true) => Ok(false),
            Some(false) => {
                sqlx::query(
                    "UPDATE products SET manual_aliases = array_append(manual_aliases, $2), updated_at = now()
                     WHERE sku = $1",
                )
                .bind(sku)
                .bind(alias)
                .execute(&self.pool)
                .await
                .map_err(StoreError::query(action))?;
                Ok(true)
            }
        }
    }

    /// Names the catalog lacks, by sightings since `since` (then all-time),
    /// with growth: sightings in the latest 7 days against the 7 before.
    pub async fn catalog_gaps(
        &self,
        since: Option<DateTime<Utc>>,
        brand_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<GapRow>, StoreError> {
        let action = "listing catalog gaps";
        let rows = sqlx::query(
            "SELECT e.surface, e.normalized, b.name AS brand, e.mention_count, e.first_seen, e.last_seen,
                    p.url AS example_url, left(p.body, 200) AS example_text,
                    count(s.post_id) FILTER (WHERE $1::timestamptz IS NULL OR s.seen_at >= $1) AS in_window,
                    count(s.post_id) FILTER (WHERE s.seen_at >= now() - interval '7 days') AS last_7d,
                    count(s.post_id) FILTER (WHERE s.seen_at >= now() - interval '14 days'
                                               AND s.seen_at < now() - interval '7 days') AS prev_7d
             FROM unlinked_entities e
             LEFT JOIN brands b ON b.id = e.brand_id
             LEFT JOIN posts p ON p.id = e.example_post_id
             LEFT JOIN unlinked_entity_sightings s ON s.entity_id = e.id
             WHERE $2::bigint IS NULL OR e.brand_id = $2
             GROUP BY e.id, b.name, p.url, p.body
             HAVING count(s.post_id) FILTER (WHERE $1::timestamptz IS NULL OR s.seen_at >= $1) > 0
             ORDER BY in_window DESC, last_7d DESC, e.last_seen DESC
             LIMIT $3",
        )
        .bind(since)
        .bind(brand_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(GapRow {
                    surface: r.try_get("surface")?,
                    normalized: r.try_get("normalized")?,
                    brand: r.try_get("brand")?,
                    mentions: r.try_get("in_window")?,
                    all_time: r.try_get("mention_count")?,
                    last_7d: r.try_get("last_7d")?,
                    prev_7d: r.try_get("prev_7d")?,
                    first_seen: r.try_get("first_seen")?,
                    last_seen: r.try_get("last_seen")?,
                    example_url: r.try_get("example_url")?,
                    example_text: r.try_get("example_text")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }
}

/// A product as the gazetteer is compiled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProduct {
    /// `products.id`.
    pub product_id: i64,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// `brands.id`.
    pub brand_id: i64,
    /// Catalog and manual aliases.
    pub aliases: Vec<String>,
}

/// A name the catalog lacks, for `catalog gaps`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct GapRow {
    /// As written most recently.
    pub surface: String,
    /// The key sightings are counted under.
    pub normalized: String,
    /// The brand it was seen with.
    pub brand: Option<String>,
    /// Posts in the window (`--since`, else all time).
    pub mentions: i64,
    /// Posts, all time.
    pub all_time: i64,
    /// Posts in the last 7 days.
    pub last_7d: i64,
    /// Posts in the 7 days before.
    pub prev_7d: i64,
    /// First sighting.
    pub first_seen: DateTime<Utc>,
    /// Latest sighting.
    pub last_seen: DateTime<Utc>,
    /// A post that used it.
    pub example_url: Option<String>,
    /// The start of that post's text.
    pub example_text: Option<String>,
}

/// A product's mentions in a period: volume, targeted sentiment, aspects.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ProductSummary {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Category.
    pub category: Option<String>,
    /// Mentions in the period.
    pub mentions: i64,
    /// Mentions with a positive targeted sentiment.
    pub positive: i64,
    /// Neutral.
    pub neutral: i64,
    /// Negative.
    pub negative: i64,
    /// (positive - negative) / scored; None when nothing was scored.
    pub net_sentiment: Option<f64>,
    /// Aspects discussed, most discussed first.
    pub aspects: Vec<AspectSummary>,
    /// The latest mentions, newest first.
    pub recent: Vec<ProductMentionRow>,
}

/// How one aspect of a product was talked about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AspectSummary {
    /// Aspect name (battery, camera, ...).
    pub aspect: String,
    /// Mentions praising it.
    pub positive: i64,
    /// Neutral.
    pub neutral: i64,
    /// Mentions complaining about it.
    pub negative: i64,
}

/// One product mention with its evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ProductMentionRow {
    /// Post id.
    pub post_id: i64,
    /// The post's time.
    pub mentioned_at: DateTime<Utc>,
    /// The name as written.
    pub surface: String,
    /// Targeted sentiment.
    pub sentiment: Option<String>,
    /// The sentence(s) the sentiment was read from.
    pub evidence: String,
    /// Source name.
    pub source: String,
    /// Link to the post.
    pub url: Option<String>,
}

impl Store {
    /// The product with this SKU's mentions in `from..to` (the model's
    /// results), with up to `recent` latest mentions; `None` for an unknown SKU.
    pub async fn product_summary(
        &self,
        sku: &str,
        model_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        recent: i64,
    ) -> Result<Option<ProductSummary>, StoreError> {
        let action = "summarising a product";
        let Some(head) = sqlx::query(
            "SELECT p.id, p.sku, p.name, b.name AS brand, p.category,
                    count(pm.id) AS mentions,
                    count(pm.id) FILTER (WHERE pm.sentiment = 'positive') AS positive,
                    count(pm.id) FILTER (WHERE pm.sentiment = 'neutral') AS neutral,
                    count(pm.id) FILTER (WHERE pm.sentiment = 'negative') AS negative
             FROM products p JOIN brands b ON b.id = p.brand_id
             LEFT JOIN product_mentions pm ON pm.product_id = p.id AND pm.model_id = $2
                                          AND pm.mentioned_at >= $3 AND pm.mentioned_at < $4
             WHERE p.sku = $1
             GROUP BY p.id, b.name",
        )
        .bind(sku)
        .bind(model_id)
        .bind(from)
        .bind(to)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(action))?
        else {
            return Ok(None);
        };
        let product_id: i64 = head.try_get("id").map_err(StoreError::query(action))?;
        let aspects = sqlx::query(
            "SELECT a.aspect,
                    count(*) FILTER (WHERE a.sentiment = 'positive') AS positive,
                    count(*) FILTER (WHERE a.sentiment = 'neutral') AS neutral,
                    count(*) FILTER (WHERE a.sentiment = 'negative') AS negative
             FROM product_mentions pm JOIN product_mention_aspects a ON a.product_mention_id = pm.id
             WHERE pm.product_id = $1 AND pm.model_id = $2 AND pm.mentioned_at >= $3 AND pm.mentioned_at < $4
             GROUP BY a.aspect ORDER BY count(*) DESC, a.aspect",
        )
        .bind(product_id)
        .bind(model_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        let latest = sqlx::query(
            "SELECT pm.post_id, pm.mentioned_at, pm.surface, pm.sentiment, pm.evidence, s.name AS source, p.url
             FROM product_mentions pm JOIN posts p ON p.id = pm.post_id JOIN sources s ON s.id = p.source_id
             WHERE pm.product_id = $1 AND pm.model_id = $2 AND pm.mentioned_at >= $3 AND pm.mentioned_at < $4
             ORDER BY pm.mentioned_at DESC, pm.id DESC LIMIT $5",
        )
        .bind(product_id)
        .bind(model_id)
        .bind(from)
        .bind(to)
        .bind(recent)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        let summary = (|| -> Result<ProductSummary, sqlx::Error> {
            let (positive, neutral, negative): (i64, i64, i64) =
                (head.try_get("positive")?, head.try_get("neutral")?, head.try_get("negative")?);
            let scored = positive + neutral + negative;
            Ok(ProductSummary {
                sku: head.try_get("sku")?,
                name: head.try_get("name")?,
                brand: head.try_get("brand")?,
                category: head.try_get("category")?,
                mentions: head.try_get("mentions")?,
                positive,
                neutral,
                negative,
                net_sentiment: (scored > 0).then(|| (positive - negative) as f64 / scored as f64),
                aspects: aspects
                    .iter()
                    .map(|r| {
                        Ok(AspectSummary {
                            aspect: r.try_get("aspect")?,
                            positive: r.try_get("positive")?,
                            neutral: r.try_get("neutral")?,
                            negative: r.try_get("negative")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
                recent: latest
                    .iter()
                    .map(|r| {
                        Ok(ProductMentionRow {
                            post_id: r.try_get("post_id")?,
                            mentioned_at: r.try_get("mentioned_at")?,
                            surface: r.try_get("surface")?,
                            sentiment: r.try_get("sentiment")?,
                            evidence: r.try_get("evidence")?,
                            source: r.try_get("source")?,
                            url: r.try_get("url")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            })
        })()
        .map_err(StoreError::query(action))?;
        Ok(Some(summary))
    }
}
