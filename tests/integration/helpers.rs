//! The one test harness: a fresh PostgreSQL database per test on the real
//! server, and a way to run the real `brandpulse` binary against it.
//!
//! The server is the one `.ci/run` starts (127.0.0.1:5432). Tests connect as
//! the role in `BRANDPULSE_TEST_ADMIN_URL` (default: the `brandpulse` role
//! that `.ci/run` creates, which may create databases).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://brandpulse:brandpulse@127.0.0.1:5432/brandpulse";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The URL tests use to create and drop their databases.
pub fn admin_url() -> String {
    std::env::var("BRANDPULSE_TEST_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    /// Database name.
    pub name: String,
    /// URL of the database, with credentials (what BRANDPULSE_DATABASE_URL gets).
    pub url: String,
    /// A pool on it, for the test's own checks.
    pub pool: PgPool,
}

impl TestDb {
    /// Creates an empty database (no migrations applied).
    pub async fn new() -> TestDb {
        let admin = admin_url();
        let name = format!("bp_test_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot reach the test PostgreSQL at {admin} ({e}); run `bash .ci/run` once, or set BRANDPULSE_TEST_ADMIN_URL")
        });
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .expect("drop leftover test database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let url = replace_database(&admin, &name);
        let pool =
            PgPoolOptions::new().max_connections(4).connect(&url).await.expect("connect to test database");
        TestDb { name, url, pool }
    }

    /// Creates a database with every migration applied.
    pub async fn migrated() -> TestDb {
        let db = TestDb::new().await;
        brandpulse::store::Store::from_pool(db.pool.clone()).migrate().await.expect("migrations apply");
        db
    }

    /// A `Store` on this database.
    pub fn store(&self) -> brandpulse::store::Store {
        brandpulse::store::Store::from_pool(self.pool.clone())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async; a short-lived thread with its own runtime
        // removes the database even when the test failed.
        let name = self.name.clone();
        let admin = admin_url();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("admin URL parses");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// The repository root (for the shipped example files).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped example config.
pub fn example_config() -> PathBuf {
    repo().join("config/brandpulse.example.toml")
}

/// The model directory the tests run (`BRANDPULSE_TEST_MODEL_DIR`, else the
/// one `models/setup.sh` builds in the repository).
pub fn model_dir() -> PathBuf {
    match std::env::var_os("BRANDPULSE_TEST_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo().join("models/brandpulse-sentiment-minilm-v1"),
    }
}

/// The TweetEval sentiment data (`../shared/eval/tweeteval-sentiment`).
pub fn tweeteval(file: &str) -> PathBuf {
    repo().join("../shared/eval/tweeteval-sentiment").join(file)
}

/// The shipped example catalog.
pub fn example_catalog() -> PathBuf {
    repo().join("config/catalog.example.csv")
}

/// What a run of the binary produced.
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `brandpulse` with exactly these environment variables (plus PATH),
/// so the developer's own BRANDPULSE_* settings never leak into a test.
pub fn brandpulse(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brandpulse"));
    command.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run the brandpulse binary").into()
}

/// Writes `text` to a file in a new temporary directory.
pub fn write_temp(name: &str, text: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write temp file");
    (dir, path)
}
