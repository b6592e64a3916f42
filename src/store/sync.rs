//! Making the database match the config at start.

use super::brands::{SyncCounts, sync_brands};
use super::sources::sync_sources;
use super::{Store, StoreError};
use crate::config::Config;

/// What [`Store::sync_config`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Brands.
    pub brands: SyncCounts,
    /// Sources.
    pub sources: SyncCounts,
}

impl SyncReport {
    /// One log event with every count.
    pub fn log(&self) {
        tracing::info!(
            brands.inserted = self.brands.inserted,
            brands.updated = self.brands.updated,
            brands.disabled = self.brands.disabled,
            sources.inserted = self.sources.inserted,
            sources.updated = self.sources.updated,
            sources.disabled = self.sources.disabled,
            "synced brands and sources from the config"
        );
    }
}

impl Store {
    /// Makes the brands and sources tables match the config: upsert by name
    /// (ignoring case); anything no longer configured is disabled, never
    /// deleted, so its history stays. One transaction.
    pub async fn sync_config(&self, config: &Config) -> Result<SyncReport, StoreError> {
        let action = "syncing brands and sources from the config";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        // Two daemons starting together must not interleave their syncs.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('brandpulse.sync_config'))")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        let brands = sync_brands(&mut tx, &config.brands).await?;
        let sources = sync_sources(&mut tx, &config.sources).await?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(SyncReport { brands, sources })
    }
}
