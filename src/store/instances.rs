//! The daemons running against this database: a heartbeat row each.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};

/// One daemon, as `brandpulse status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    /// `[daemon] instance` (default hostname-pid).
    pub instance: String,
    /// The machine it runs on.
    pub hostname: String,
    /// Its process id there.
    pub pid: i32,
    /// The brandpulse version.
    pub version: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its latest heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// When it shut down cleanly (`None`: running, or it crashed: see `heartbeat_at`).
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Records that `instance` is alive (inserting it on the first beat of a run).
    pub async fn heartbeat(
        &self,
        instance: &str,
        hostname: &str,
        pid: u32,
        started_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO daemon_instances (instance, hostname, pid, version, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, now())
             ON CONFLICT (instance) DO UPDATE SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
                 version = EXCLUDED.version, started_at = EXCLUDED.started_at,
                 heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL",
        )
        .bind(instance)
        .bind(hostname)
        .bind(i32::try_from(pid).unwrap_or(i32::MAX))
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(started_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("recording the daemon's heartbeat"))?;
        Ok(())
    }

    /// Records a clean shutdown of `instance`.
    pub async fn instance_stopped(&self, instance: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE daemon_instances SET stopped_at = now() WHERE instance = $1")
            .bind(instance)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("recording the daemon's shutdown"))?;
        Ok(())
    }

    /// Every daemon seen in the last `days` days, latest heartbeat first.
    pub async fn instances(&self, days: i32) -> Result<Vec<InstanceRow>, StoreError> {
        let action = "reading the daemons' heartbeats";
        let rows = sqlx::query(
            "SELECT instance, hostname, pid, version, started_at, heartbeat_at, stopped_at
             FROM daemon_instances WHERE heartbeat_at >= now() - make_interval(days => $1)
             ORDER BY heartbeat_at DESC, instance",
        )
        .bind(days)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(InstanceRow {
                    instance: r.try_get("instance")?,
                    hostname: r.try_get("hostname")?,
                    pid: r.try_get("pid")?,
                    version: r.try_get("version")?,
                    started_at: r.try_get("started_at")?,
                    heartbeat_at: r.try_get("heartbeat_at")?,
                    stopped_at: r.try_get("stopped_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }
}
