//! All SQL lives here, one file per aggregate. The rest of the program calls
//! typed methods on [`Store`] and never sees a query.
//!
//! Migrations are embedded in the binary and applied by [`Store::migrate`];
//! a database whose schema is newer than this binary knows is refused rather
//! than written to.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

mod analysis;
mod brands;
mod digest;
mod fetch_runs;
mod instances;
mod mentions;
mod posts;
mod products;
mod rollups;
mod sources;
mod sync;
mod trends;

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::DatabaseConfig;

pub use analysis::{
    Claim, NewProductMention, NewUnlinked, Outcome, PendingPost, PostFilter, PostResult, SentimentRow,
};
pub use brands::{BrandRow, SyncCounts};
pub use digest::{
    AspectDay, BrandVolume, ExamplePost, LabelCounts, NameDay, ProductDay, SourceDay, StoredDigest,
};
pub use fetch_runs::{RunResult, RunStatus};
pub use instances::InstanceRow;
pub use mentions::{MentionCursor, MentionFilter, MentionProduct, MentionRow};
pub use posts::{InsertReport, NewMention, NewPost};
pub use products::{
    AspectSummary, CatalogImportReport, CatalogProduct, GapRow, NewProduct, ProductMentionRow, ProductRow,
    ProductSummary,
};
pub use rollups::SlotRow;
pub use sources::{SourceHealthRow, SourceState};
pub use sync::SyncReport;
pub use trends::{Bucket, RISING_SQL, RisingProduct, Subject, TrendPoint, TrendQuery, trend_sql};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached or refused the login.
    #[error(
        "cannot connect to PostgreSQL at {url}: check that the server is running and reachable there, \
         that the role and database exist, and the password (database.password_file or \
         BRANDPULSE_DATABASE_PASSWORD)"
    )]
    Connect {
        /// The URL tried, password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database was migrated by a newer brandpulse.
    #[error(
        "the database schema is at version {database}, newer than this brandpulse knows (up to {known}); \
         upgrade brandpulse, or point it at another database"
    )]
    SchemaTooNew {
        /// Latest migration applied to the database.
        database: i64,
        /// Latest migration embedded in this binary.
        known: i64,
    },
    /// The database's schema is older than this binary and was not migrated.
    #[error(
        "the database schema is at version {database} but this brandpulse needs {known}; run `brandpulse migrate`"
    )]
    SchemaTooOld {
        /// Latest migration applied to the database.
        database: i64,
        /// Latest migration embedded in this binary.
        known: i64,
    },
    /// Applying migrations failed.
    #[error("applying database migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Any other database error, with what was being done.
    #[error("database error while {action}")]
    Query {
        /// What was being done, e.g. "importing the catalog".
        action: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A row that must exist does not.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
}

impl StoreError {
    fn query(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { action, source }
    }
}

/// The result of [`Store::migrate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Migrations applied by this call, as (version, description).
    pub applied: Vec<(i64, String)>,
    /// The schema version now.
    pub version: i64,
}

/// A handle on the PostgreSQL database (a connection pool); cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Whether the database answers (a round trip on a pooled connection).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::query("checking the database"))
    }

    /// Connects (without migrating).
    pub async fn connect(config: &DatabaseConfig) -> Result<Store, StoreError> {
        let connect_error = |source| StoreError::Connect { url: config.display_url(), source };
        let mut options = PgConnectOptions::from_str(config.url.as_str()).map_err(connect_error)?;
        if let Some(password) = &config.password {
            options = options.password(password.expose_secret());
        }
        let options = options.application_name("brandpulse");
        // One direct connection first: a pool would report only "timed out",
        // hiding the real cause (connection refused, bad password, no such database).
        let first = tokio::time::timeout(config.connect_timeout, sqlx::PgConnection::connect_with(&options))
            .await
            .map_err(|_| connect_error(sqlx::Error::PoolTimedOut))?
            .map_err(connect_error)?;
        first.close().await.map_err(connect_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.connect_timeout)
            .connect_lazy_with(options);
        Ok(Store { pool })
    }

    /// Connects and brings the schema up to date: what every command that
    /// uses the database does first.
    pub async fn open(config: &DatabaseConfig) -> Result<Store, StoreError> {
        let store = Store::connect(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps an existing pool (tests, and callers that manage their own).
    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    /// The latest migration version embedded in this binary.
    pub fn known_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The latest migration version applied to the database (0 if none).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("reading the schema version"))?;
        if !exists {
            return Ok(0);
        }
        let version: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query("reading the schema version"))?;
        Ok(version.unwrap_or(0))
    }

    /// Applies the migrations this binary has and the database lacks;
    /// refuses a database migrated by a newer brandpulse.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let known = Self::known_version();
        let before = self.schema_version().await?;
        if before > known {
            return Err(StoreError::SchemaTooNew { database: before, known });
        }
        // sqlx takes an advisory lock, so daemons starting together migrate once.
        MIGRATOR.run(&self.pool).await.map_err(StoreError::Migrate)?;
        let applied = MIGRATOR
            .iter()
            .filter(|m| m.version > before)
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        Ok(MigrationReport { applied, version: self.schema_version().await? })
    }

    /// Fails unless the schema is exactly the one this binary knows.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let known = Self::known_version();
        let database = self.schema_version().await?;
        match database.cmp(&known) {
            std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew { database, known }),
            std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld { database, known }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
