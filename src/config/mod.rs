//! Configuration: one TOML file plus `BRANDPULSE_*` environment overrides,
//! validated once at start into a [`Config`] whose values are known good
//! (cron expressions parsed, URLs parsed, selectors compiled, secrets read).
//!
//! Loading never stops at the first mistake: every problem in the file is
//! collected, each with the key, the line and what is wrong, so one run of
//! `brandpulse check-config` shows everything that needs fixing.
//!
//! Secrets (API token, database and SMTP passwords, app passwords, webhook
//! URLs, the author-hash key) are never taken from the file itself: each comes
//! from an environment variable or from a file named by a `*_file` key, and is
//! held in a [`SecretString`] whose `Debug` prints `[REDACTED]`.

mod keypath;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use keypath::{KeyPath, Segment};

/// Where the config file is looked for when neither `--config` nor
/// `BRANDPULSE_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/brandpulse/brandpulse.toml";

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "BRANDPULSE_CONFIG";

/// Environment variables that override keys of the file (documented in the README).
pub mod env_keys {
    /// Overrides `database.url`; may carry the password.
    pub const DATABASE_URL: &str = "BRANDPULSE_DATABASE_URL";
    /// The database password when `database.password_env`/`_file` are not set.
    pub const DATABASE_PASSWORD: &str = "BRANDPULSE_DATABASE_PASSWORD";
    /// Overrides `api.bind`.
    pub const API_BIND: &str = "BRANDPULSE_API_BIND";
    /// The API token when `api.token_env`/`_file` are not set.
    pub const API_TOKEN: &str = "BRANDPULSE_API_TOKEN";
    /// Overrides `model.dir`.
    pub const MODEL_DIR: &str = "BRANDPULSE_MODEL_DIR";
    /// Overrides `model.threads`.
    pub const MODEL_THREADS: &str = "BRANDPULSE_MODEL_THREADS";
    /// The author-hash key when `privacy.hash_key_env`/`_file` are not set.
    pub const AUTHOR_HASH_KEY: &str = "BRANDPULSE_AUTHOR_HASH_KEY";
}

/// A snapshot of the environment the configuration is resolved against.
///
/// Loading takes this instead of reading the process environment so that
/// tests can give each config its own environment.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The current process environment (variables that are valid UTF-8).
    pub fn from_process() -> Self {
        Env(std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect())
    }

    /// An environment with exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Env(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of a variable; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Env {
    // Environment values are often secrets: show the names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[[brands]]`, in file order.
    pub brands: Vec<BrandConfig>,
    /// `[[sources]]`, in file order.
    pub sources: Vec<SourceConfig>,
    /// `[model]`
    pub model: ModelConfig,
    /// `[digest]`
    pub digest: DigestConfig,
    /// `[api]`
    pub api: ApiConfig,
    /// `[privacy]`
    pub privacy: PrivacyConfig,
    /// `[fetch]`
    pub fetch: FetchConfig,
    /// `[aspects]`: the aspect lexicon (built-in defaults unless the file gives one).
    pub aspects: crate::products::aspects::AspectLexicon,
    /// `[daemon]`: how `brandpulse run` schedules and shares work.
    pub daemon: DaemonConfig,
    /// `[log]`
    pub log: LogConfig,
}

/// `[database]`: where PostgreSQL is.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The connection URL without its password.
    pub url: Url,
    /// The password, from the environment or a file (or split off `BRANDPULSE_DATABASE_URL`).
    pub password: Option<SecretString>,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    pub connect_timeout: Duration,
}

impl DatabaseConfig {
    /// The URL for messages and logs: the password, if any, shown as `***`.
    pub fn display_url(&self) -> String {
        let mut shown = self.url.clone();
        if self.password.is_some() {
            // Setting a password on a URL with a host cannot fail; if it did,
            // showing the URL without it is still safe.
            let _ = shown.set_password(Some("***"));
        }
        shown.to_string()
    }
}

/// One watched brand (own or competitor).
#[derive(Debug, Clone, PartialEq)]
pub struct BrandConfig {
    /// Unique name, as shown in digests.
    pub name: String,
    /// Terms that mention the brand (at least one).
    pub aliases: Vec<String>,
    /// Phrases that veto a match ("apple pie" for Apple).
    pub exclusions: Vec<String>,
    /// Terms one of which must appear near an ambiguous alias.
    pub context_terms: Vec<String>,
    /// Aliases that only count with a context term nearby.
    pub ambiguous_aliases: Vec<String>,
    /// How near (in words) a context term must be.
    pub context_window: u32,
    /// A competitor: watched for share of voice.
    pub competitor: bool,
}

/// The kinds of source brandpulse reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    /// RSS, Atom or JSON Feed.
    Feed,
    /// The Algolia Hacker News search API.
    HackerNews,
    /// A Mastodon instance's API.
    Mastodon,
    /// Reddit's JSON listings.
    Reddit,
    /// A Lemmy instance's API.
    Lemmy,
    /// A Bluesky AppView's search.
    Bluesky,
    /// Any web page, read with CSS selectors.
    Html,
}

impl SourceKind {
    /// Every kind, in documentation order.
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Feed,
        SourceKind::HackerNews,
        SourceKind::Mastodon,
        SourceKind::Reddit,
        SourceKind::Lemmy,
        SourceKind::Bluesky,
        SourceKind::Html,
    ];

    /// The name used in the config file and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::HackerNews => "hackernews",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Reddit => "reddit",
            SourceKind::Lemmy => "lemmy",
            SourceKind::Bluesky => "bluesky",
            SourceKind::Html => "html",
        }
    }

    /// The kind with this config name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One configured source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name.
    pub name: String,
    /// What it is.
    pub kind: SourceKind,
    /// The URL fetched (feed, page) or the API base (instance, AppView host),
    /// with the kind's default filled in.
    pub url: Url,
    /// The search query, for kinds that search.
    pub query: Option<String>,
    /// When to fetch it.
    pub schedule: cron::Schedule,
    /// Whether it is fetched at all.
    pub enabled: bool,
    /// Kind-specific settings.
    pub params: SourceParams,
}

/// Kind-specific source settings; which are allowed depends on the kind.
#[derive(Debug, Clone, Default)]
pub struct SourceParams {
    /// hackernews: Algolia tags to search (`story`, `comment`, ...).
    pub tags: Vec<String>,
    /// mastodon: the hashtag timeline to read (without `#`).
    pub tag: Option<String>,
    /// reddit: the subreddit (without `r/`).
    pub subreddit: Option<String>,
    /// lemmy: the community name.
    pub community: Option<String>,
    /// mastodon, reddit, lemmy: how many pages to follow per fetch.
    pub max_pages: Option<u32>,
    /// bluesky: the handle to log in as (with `app_password`).
    pub identifier: Option<String>,
    /// bluesky: the app password, from the environment or a file.
    pub app_password: Option<SecretString>,
    /// html: CSS selectors.
    pub selectors: Option<HtmlSelectors>,
}

impl SourceParams {
    /// The settings as JSON for the `sources.params` column: never the secret.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        if !self.tags.is_empty() {
            map.insert("tags".into(), self.tags.clone().into());
        }
        let mut put = |key: &str, value: &Option<String>| {
            if let Some(v) = value {
                map.insert(key.into(), v.clone().into());
            }
        };
        put("tag", &self.tag);
        put("subreddit", &self.subreddit);
        put("community", &self.community);
        put("identifier", &self.identifier);
        if let Some(pages) = self.max_pages {
            map.insert("max_pages".into(), pages.into());
        }
        if let Some(s) = &self.selectors {
            let mut sel = serde_json::Map::new();
            sel.insert("item".into(), s.item.clone().into());
            for (key, value) in [
                ("title", &s.title),
                ("text", &s.text),
                ("link", &s.link),
                ("author", &s.author),
                ("time", &s.time),
            ] {
                if let Some(v) = value {
                    sel.insert(key.into(), v.clone().into());
                }
            }
            map.insert("selectors".into(), serde_json::Value::Object(sel));
        }
        serde_json::Value::Object(map)
    }
}

/// CSS selectors for an `html` source; each checked to parse at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlSelectors {
    /// One match per post.
    pub item: String,
    /// Within an item: the title.
    pub title: Option<String>,
    /// Within an item: the body text.
    pub text: Option<String>,
    /// Within an item: the link (its `href`).
    pub link: Option<String>,
    /// Within an item: the author.
    pub author: Option<String>,
    /// Within an item: the time (`datetime` attribute or text).
    pub time: Option<String>,
}

/// `[model]`: the local sentiment model.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The directory with the model files (relative paths are relative to the config file).
    pub dir: PathBuf,
    /// Posts per inference batch.
    pub batch_size: u32,
    /// Inference threads.
    pub threads: u32,
    /// Which weights: `int8` (default, faster) or `fp32` (batch-invariant).
    pub variant: crate::nlp::Variant,
}

/// An output format of the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestFormat {
    /// Markdown.
    Markdown,
    /// Email-ready HTML.
    Html,
    /// Versioned JSON.
    Json,
}

/// `[digest]`: when and how the daily digest goes out.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    /// Local time of day it is made.
    pub time: chrono::NaiveTime,
    /// The time zone that days and the time of day are in.
    pub time_zone: chrono_tz::Tz,
    /// Formats rendered.
    pub formats: Vec<DigestFormat>,
    /// Where it is delivered.
    pub deliver: Vec<DeliveryTarget>,
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on localhost.
    None,
}

/// One place the digest is delivered to.
#[derive(Debug, Clone)]
pub enum DeliveryTarget {
    /// Files written into a directory.
    Directory {
        /// The directory.
        path: PathBuf,
    },
    /// A Slack-compatible incoming webhook.
    Webhook {
        /// The webhook URL (a secret: it carries the token).
        url: SecretString,
    },
    /// Email over SMTP.
    Smtp {
        /// Server host name.
        host: String,
        /// Server port.
        port: u16,
        /// Transport security.
        tls: SmtpTls,
        /// Login user, if the server needs one.
        username: Option<String>,
        /// Login password.
        password: Option<SecretString>,
        /// Sender address.
        from: String,
        /// Recipient addresses.
        to: Vec<String>,
    },
}

/// `[api]`: the HTTP API and dashboard.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Whether it is served.
    pub enabled: bool,
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// Bearer token (required when enabled).
    pub token: Option<SecretString>,
}

/// `[privacy]`
#[derive(Debug, Clone)]
pub struct PrivacyConfig {
    /// Store author handles as a keyed hash.
    pub hash_author_handles: bool,
    /// The key of that hash (required when hashing).
    pub hash_key: Option<SecretString>,
    /// Delete raw post text after this many days (aggregates stay); `None` keeps it.
    pub retention_days: Option<u32>,
}

/// `[fetch]`: manners of the HTTP client.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Where site owners can reach the operator; part of the User-Agent.
    pub contact_url: Option<Url>,
    /// The User-Agent sent with every request.
    pub user_agent: String,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Largest response body read, in bytes.
    pub max_body_bytes: u64,
    /// Requests per minute to any one host.
    pub per_host_requests_per_minute: u32,
    /// Requests in flight to any one host.
    pub per_host_concurrency: u32,
}

/// `[daemon]`: the long-running process (`brandpulse run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// This instance's name in logs, leases and `brandpulse status` (`None`: hostname-pid).
    pub instance: Option<String>,
    /// How often the scheduler looks for due sources (and the watchdog's heartbeat).
    pub tick: Duration,
    /// Fetches in flight at once, over all sources (per-host limits still apply).
    pub max_concurrent_fetches: u32,
    /// How long a claimed source stays claimed if this instance dies mid-fetch.
    pub lease: Duration,
    /// Analysis workers (each holds one model batch at a time).
    pub analysis_workers: u32,
    /// How long shutdown waits for in-flight work before abandoning it.
    pub shutdown_timeout: Duration,
    /// How many missed digest days are made up after downtime.
    pub digest_catch_up_days: u32,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (journald-friendly).
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// An `EnvFilter` directive (`RUST_LOG` wins when set).
    pub level: String,
    /// Line format.
    pub format: LogFormat,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, e.g. `sources[2].schedule`; empty for the file as a whole.
    pub key: String,
    /// The 1-based line in the file, when it can be located.
    pub line: Option<usize>,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (Some(line), false) => write!(f, "line {line}: {}: {}", self.key, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.key, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}; pass --config PATH or set BRANDPULSE_CONFIG", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}: {} in the configuration:\n{}", path.display(), plural(problems.len()), list(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Everything that is wrong, in file order.
        problems: Vec<Problem>,
    },
}

fn plural(n: usize) -> String {
    if n == 1 { "1 problem".to_owned() } else { format!("{n} problems") }
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

impl Config {
    /// Loads and validates the config file at `path` against `env`.
    pub fn load(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let bytes =
            std::fs::read(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_bytes(path, &bytes, env)
    }

    /// Validates configuration text as if read from `path` (used for
    /// messages and for resolving relative paths).
    pub fn from_bytes(path: &Path, bytes: &[u8], env: &Env) -> Result<Config, ConfigError> {
        validate::validate(path, bytes, env)
            .map_err(|problems| ConfigError::Invalid { path: path.to_owned(), problems })
    }

    /// The brands that are not competitors.
    pub fn own_brands(&self) -> impl Iterator<Item = &BrandConfig> {
        self.brands.iter().filter(|b| !b.competitor)
    }
}

/// The config file to use: `--config`, else `BRANDPULSE_CONFIG`, else the default path.
pub fn resolve_path(flag: Option<&Path>, env: &Env) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| env.get(CONFIG_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}
