//! A throwaway PostgreSQL cluster of its own, for fault tests (database down
//! at start, restarted under a running daemon) that must not disturb the
//! shared server on 127.0.0.1:5432 that every other test uses.
//!
//! The API is synchronous: each call runs `initdb`, `pg_ctl` or `psql` to
//! completion, and every wait is bounded (`pg_ctl -w -t 30`). Called from a
//! `#[tokio::test]` it blocks the test's runtime for the call (about a second
//! for start/stop). Where something on that runtime must keep running
//! meanwhile (a fixture server a daemon is crawling, say), call it through
//! `tokio::task::spawn_blocking` on a multi-thread runtime, or from the test
//! body while the other work runs in a separate process.
//!
//! Tests run as root, and `initdb` refuses root: as root, the server programs
//! run as the `postgres` OS user (`runuser -u postgres --`) in a directory
//! chowned to it; as anyone else they run directly.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Seconds `pg_ctl` may wait for a start or stop (its `-t`).
const PG_CTL_WAIT_S: &str = "30";

/// One PostgreSQL cluster in a temporary directory: created down, started on
/// demand, stopped and removed on drop.
pub struct PgCluster {
    /// The TCP port it listens on (127.0.0.1 only) once started.
    pub port: u16,
    /// The temporary directory: `data/` (the cluster), `server.log`, and the
    /// Unix socket (kept out of the system's /var/run/postgresql).
    dir: tempfile::TempDir,
    /// `/usr/lib/postgresql/<highest version>/bin`.
    bin: PathBuf,
    /// Whether the server programs run as the `postgres` OS user (we are root).
    as_postgres: bool,
}

impl PgCluster {
    /// Runs `initdb` in a fresh temporary directory and configures the cluster
    /// for a free port on 127.0.0.1. The server is NOT started: call
    /// [`PgCluster::start`].
    ///
    /// Panics (naming what to install) when the PostgreSQL server binaries are
    /// missing, and with initdb's output when it fails.
    ///
    /// The port is free when chosen, and could in principle be taken by
    /// someone else before `start`; on this machine that is not a concern.
    pub fn create() -> PgCluster {
        let bin = server_bin_dir();
        // Under /tmp when root: the `postgres` user must be able to reach the
        // directory, which a root-only TMPDIR would not allow.
        let as_root = {
            let probe = tempfile::tempdir().expect("create a temporary directory");
            std::fs::metadata(probe.path()).expect("stat the temporary directory").uid() == 0
        };
        let dir = if as_root {
            tempfile::Builder::new().prefix("pg-cluster-").tempdir_in("/tmp")
        } else {
            tempfile::Builder::new().prefix("pg-cluster-").tempdir()
        }
        .expect("create the cluster's temporary directory");
        if as_root {
            let (uid, gid) = postgres_user();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown the cluster directory to postgres");
        }
        let port = free_port();
        let cluster = PgCluster { port, dir, bin, as_postgres: as_root };

        let data = cluster.data_dir();
        let mut initdb = cluster.server_command("initdb");
        initdb.args([
            "-D".as_ref(),
            data.as_os_str(),
            "-A".as_ref(),
            "trust".as_ref(),
            "-U".as_ref(),
            "postgres".as_ref(),
            "--no-sync".as_ref(),
            // Independent of whatever locale the environment names (or lacks).
            "--locale=C".as_ref(),
            "-E".as_ref(),
            "UTF8".as_ref(),
        ]);
        let output = run(initdb, "initdb");
        if !output.status.success() {
            panic!("initdb failed in {}:\n{}", data.display(), text(&output));
        }

        // Appended: later settings in postgresql.conf win.
        let socket_dir = cluster.dir.path().display().to_string();
        let settings = format!(
            "\n# PgCluster (integration tests)\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket_dir}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = 16MB\n\
             max_connections = 50\n"
        );
        let conf = data.join("postgresql.conf");
        let mut text_conf = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text_conf.push_str(&settings);
        // Written as root keeps the file's owner (it exists), so postgres can read it.
        std::fs::write(&conf, text_conf).expect("write postgresql.conf");
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB` (trust authentication, no password).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Starts the server and waits until it accepts connections (`pg_ctl -w`,
    /// at most 30 s). Panics with the server log when it does not start.
    pub fn start(&self) {
        let output = self.pg_ctl(&["start", "-l", &self.log_path().display().to_string()]);
        if !output.status.success() {
            panic!("pg_ctl start failed:\n{}\n--- server log ---\n{}", text(&output), self.log());
        }
    }

    /// Stops the server with `pg_ctl -m fast` (clients are disconnected, the
    /// server shuts down cleanly) and waits until it is down (at most 30 s).
    pub fn stop(&self) {
        let output = self.pg_ctl(&["stop", "-m", "fast"]);
        if !output.status.success() {
            panic!("pg_ctl stop failed:\n{}\n--- server log ---\n{}", text(&output), self.log());
        }
    }

    /// Stops (`-m fast`) and starts the server again on the same port, waiting
    /// for each. Fast rather than immediate: every client connection is
    /// terminated either way (what a fault test needs), but a fast stop needs
    /// no crash recovery, so the restart takes the same short time every run
    /// and the test measures the client's reconnecting, not WAL replay.
    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    /// Creates a database (via `psql` on the TCP port). The server must be up.
    pub fn create_database(&self, name: &str) {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let mut command = Command::new(self.bin.join("psql"));
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres"])
            .args(["-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-c", &format!("CREATE DATABASE {quoted}")])
            .env("PGCONNECT_TIMEOUT", "10");
        let output = run(command, "psql");
        if !output.status.success() {
            panic!("creating database {name} on port {} failed:\n{}", self.port, text(&output));
        }
    }

    /// The server log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A server program (`initdb`, `pg_ctl`), as the `postgres` user when root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // Started from the cluster directory: the postgres user may not be
        // allowed into the test's working directory.
        command.current_dir(self.dir.path());
        command
    }

    /// `pg_ctl -D data -w -t 30 ARGS`.
    fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut command = self.server_command("pg_ctl");
        command.arg("-D").arg(self.data_dir()).args(["-w", "-t", PG_CTL_WAIT_S]).args(args);
        run(command, "pg_ctl")
    }
}

impl Drop for PgCluster {
    /// Stops the server if it runs (`-m immediate`: nothing to keep, and it
    /// does not wait for clients) and removes the directory (TempDir's drop).
    /// Never hangs: pg_ctl waits at most 10 s; if it fails while the server
    /// still runs, the postmaster (ours: pid from postmaster.pid) gets SIGKILL.
    fn drop(&mut self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        if !pid_file.exists() {
            return;
        }
        let mut command = self.server_command("pg_ctl");
        command.arg("-D").arg(self.data_dir()).args(["-w", "-t", "10", "stop", "-m", "immediate"]);
        let stopped = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped
            && let Ok(pid_text) = std::fs::read_to_string(&pid_file)
            && let Some(pid) = pid_text.lines().next().and_then(|l| l.trim().parse::<u32>().ok())
        {
            // This cluster's own postmaster only (one pid, never a group).
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The highest-versioned `/usr/lib/postgresql/*/bin` that has the server
/// programs.
fn server_bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u64>> = name.split('.').map(|p| p.parse().ok()).collect();
            let bin = entry.path().join("bin");
            let complete = ["initdb", "pg_ctl", "postgres", "psql"].iter().all(|p| bin.join(p).is_file());
            Some((version?, bin)).filter(|_| complete)
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) under \
             /usr/lib/postgresql/*/bin: install the server, e.g. `apt-get install postgresql`"
        ),
    }
}

/// The `postgres` OS user's uid and gid (needed when running as root).
fn postgres_user() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id").args([flag, "postgres"]).output().expect("run `id`");
        String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or_else(|_| {
            panic!(
                "running as root needs the `postgres` OS user for initdb (install `postgresql`): {}",
                text(&output)
            )
        })
    };
    (id("-u"), id("-g"))
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Runs a command with no stdin and captured output. `pg_ctl start -l` sends
/// the server's own output to the log, so the pipes close when pg_ctl exits.
fn run(mut command: Command, what: &str) -> Output {
    command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test]
async fn a_throwaway_cluster_starts_stops_and_restarts() {
    use sqlx::{Connection, PgConnection};

    let cluster = PgCluster::create();
    let url = cluster.url("postgres");
    assert_eq!(url, format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port));

    // Created down: nothing listens on the port.
    let refused = PgConnection::connect(&url).await.expect_err("no server before start");
    match &refused {
        sqlx::Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}"),
        other => panic!("expected connection refused, got {other:?}"),
    }

    cluster.start();
    let mut conn = PgConnection::connect(&url).await.expect("connect after start");
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.expect("SELECT 1");
    assert_eq!(one, 1);

    cluster.create_database("pg cluster \"test\"");
    let other = PgConnection::connect(&cluster.url("pg%20cluster%20%22test%22"))
        .await
        .expect("connect to the created database");
    other.close().await.ok();

    cluster.restart();
    // The connection from before the restart was terminated by the fast stop.
    let stale: Result<i32, _> = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await;
    assert!(stale.is_err(), "a connection survived the restart");
    let mut conn = PgConnection::connect(&url).await.expect("connect after restart");
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.expect("SELECT 1 after restart");
    assert_eq!(one, 1);
    conn.close().await.ok();

    cluster.stop();
    PgConnection::connect(&url).await.expect_err("no server after stop");
    cluster.start();

    // Drop stops the running server and removes the directory.
    let dir = cluster.dir.path().to_owned();
    drop(cluster);
    assert!(!dir.exists(), "cluster directory left behind: {}", dir.display());
    PgConnection::connect(&url).await.expect_err("no server after drop");
}
