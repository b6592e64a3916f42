//! Sources: synced from the config, never deleted; their fetch state.

use super::StoreError;
use super::brands::{SyncCounts, count};
use crate::config::SourceConfig;

/// Upserts the configured sources and disables the ones no longer configured.
pub(super) async fn sync_sources(
    tx: &mut sqlx::PgConnection,
    sources: &[SourceConfig],
) -> Result<SyncCounts, StoreError> {
    let mut counts = SyncCounts::default();
    for source in sources {
        let row = sqlx::query(
            "INSERT INTO sources (name, kind, url, query, params, schedule, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT ((lower(name))) DO UPDATE SET
                 name = EXCLUDED.name, kind = EXCLUDED.kind, url = EXCLUDED.url, query = EXCLUDED.query,
                 params = EXCLUDED.params, schedule = EXCLUDED.schedule, enabled = EXCLUDED.enabled,
                 -- Validators belong to what was fetched: a new target starts afresh.
                 etag = CASE WHEN (sources.kind, sources.url, sources.query, sources.params)
                                  IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.url, EXCLUDED.query, EXCLUDED.params)
                             THEN NULL ELSE sources.etag END,
                 last_modified = CASE WHEN (sources.kind, sources.url, sources.query, sources.params)
                                  IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.url, EXCLUDED.query, EXCLUDED.params)
                             THEN NULL ELSE sources.last_modified END,
                 updated_at = now()
             WHERE (sources.name, sources.kind, sources.url, sources.query, sources.params, sources.schedule, sources.enabled)
                   IS DISTINCT FROM
                   (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.url, EXCLUDED.query, EXCLUDED.params, EXCLUDED.schedule, EXCLUDED.enabled)
             RETURNING (xmax = 0) AS inserted",
        )
        .bind(&source.name)
        .bind(source.kind.as_str())
        .bind(source.url.as_str())
        .bind(&source.query)
        .bind(source.params.to_json())
        .bind(source.schedule.source())
        .bind(source.enabled)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query("syncing sources from the config"))?;
        count(&mut counts, row)?;
    }
    let names: Vec<String> = sources.iter().map(|s| s.name.to_lowercase()).collect();
    counts.disabled = sqlx::query(
        "UPDATE sources SET enabled = false, updated_at = now() WHERE enabled AND lower(name) <> ALL($1)",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::query("disabling sources removed from the config"))?
    .rows_affected();

    Ok(counts)
}
