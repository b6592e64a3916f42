//! Brands: synced from the config, never deleted.

use sqlx::Row;

use super::{Store, StoreError};
use crate::config::BrandConfig;

/// A brand as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandRow {
    /// Database id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// A competitor (watched for share of voice).
    pub competitor: bool,
    /// Still in the config.
    pub enabled: bool,
}

/// What a sync did to one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// New rows.
    pub inserted: u64,
    /// Rows whose settings changed (or that were enabled again).
    pub updated: u64,
    /// Rows left exactly as they were.
    pub unchanged: u64,
    /// Rows no longer in the config, now disabled (never deleted).
    pub disabled: u64,
}

impl Store {
    /// Every brand, enabled or not, by name.
    pub async fn brands(&self) -> Result<Vec<BrandRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, competitor, enabled FROM brands ORDER BY lower(name)")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("listing brands"))?;
        rows.iter()
            .map(|r| {
                Ok(BrandRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    competitor: r.try_get("competitor")?,
                    enabled: r.try_get("enabled")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query("listing brands"))
    }
}

/// Upserts the configured brands and disables the ones no longer configured.
pub(super) async fn sync_brands(
    tx: &mut sqlx::PgConnection,
    brands: &[BrandConfig],
) -> Result<SyncCounts, StoreError> {
    let mut counts = SyncCounts::default();
    for brand in brands {
        let row = sqlx::query(
            "INSERT INTO brands (name, aliases, exclusions, context_terms, ambiguous_aliases, context_window, competitor, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7, true)
             ON CONFLICT ((lower(name))) DO UPDATE SET
                 name = EXCLUDED.name, aliases = EXCLUDED.aliases, exclusions = EXCLUDED.exclusions,
                 context_terms = EXCLUDED.context_terms, ambiguous_aliases = EXCLUDED.ambiguous_aliases,
                 context_window = EXCLUDED.context_window, competitor = EXCLUDED.competitor,
                 enabled = true, updated_at = now()
             WHERE (brands.name, brands.aliases, brands.exclusions, brands.context_terms,
                    brands.ambiguous_aliases, brands.context_window, brands.competitor, brands.enabled)
                   IS DISTINCT FROM
                   (EXCLUDED.name, EXCLUDED.aliases, EXCLUDED.exclusions, EXCLUDED.context_terms,
                    EXCLUDED.ambiguous_aliases, EXCLUDED.context_window, EXCLUDED.competitor, true)
             RETURNING (xmax = 0) AS inserted",
        )
        .bind(&brand.name)
        .bind(&brand.aliases)
        .bind(&brand.exclusions)
        .bind(&brand.context_terms)
        .bind(&brand.ambiguous_aliases)
        .bind(i32::try_from(brand.context_window).unwrap_or(i32::MAX))
        .bind(brand.competitor)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query("syncing brands from the config"))?;
        count(&mut counts, row)?;
    }
    let names: Vec<String> = brands.iter().map(|b| b.name.to_lowercase()).collect();
    counts.disabled = sqlx::query(
        "UPDATE brands SET enabled = false, updated_at = now() WHERE enabled AND lower(name) <> ALL($1)",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::query("disabling brands removed from the config"))?
    .rows_affected();

    Ok(counts)
}

/// Tallies one upsert: a returned row was inserted or updated; no row means
/// the `WHERE ... IS DISTINCT FROM` found nothing to change.
pub(super) fn count(counts: &mut SyncCounts, row: Option<sqlx::postgres::PgRow>) -> Result<(), StoreError> {
    match row {
        None => counts.unchanged += 1,
        Some(row) => {
            let inserted: bool = row.try_get("inserted").map_err(StoreError::query("syncing the config"))?;
            if inserted {
                counts.inserted += 1;
            } else {
                counts.updated += 1;
            }
        }
    }
    Ok(())
}
