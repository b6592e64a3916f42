//! brandpulse: a self-hosted brand-sentiment monitor.
//!
//! The pipeline, in flow order (stages talk through owned data types and
//! meet only in the database):
//!
//! - [`config`]: the TOML file and `BRANDPULSE_*` overrides, validated once.
//! - [`fetch`]: the only HTTP client: timeouts, body cap, conditional GET,
//!   robots.txt, per-host rate limits, one retry policy.
//! - [`sources`]: one module per source kind: response body → [`sources::RawItem`]s.
//! - [`normalize`]: HTML → text, NFKC, language, canonical URL, content hash → [`normalize::Post`].
//! - [`matching`]: brand queries compiled once → which brands a post mentions.
//! - [`crawl`]: the refresh function that runs those stages for one source and stores the result.
//! - [`nlp`]: the local transformer (ONNX Runtime, in-process): sentiment per text.
//! - [`products`]: catalog links, evidence, aspects and names the catalog lacks, per text.
//! - [`analysis`]: the worker that gives every stored post the active model's sentiment.
//! - [`digest`]: the daily digest: figures, alert rule, renderers, delivery.
//! - [`catalog`]: the product catalog file (CSV/JSON), validated before import.
//! - [`store`]: PostgreSQL: migrations and every SQL statement.
//! - [`cli`]: the `brandpulse` commands.
//!
//! - [`trends`]: trend requests shared by the `trends` command and the API.
//! - [`api`]: the HTTP API (axum) and the server the dashboard runs in.
//! - [`dashboard`]: server-rendered pages with inline SVG charts.
//! - [`demo`]: `brandpulse demo`: the whole pipeline offline, on bundled sample posts.
//!
//! - [`scheduler`]: due sources from the database, leased so several daemons share them.
//! - [`daemon`]: `brandpulse run`: start, readiness, workers, reload, watchdog, graceful shutdown.
//! - [`logging`]: log lines as text (journald-friendly) or JSON.

// The demo server renders whole Mastodon statuses with one `json!` literal.
#![recursion_limit = "256"]

pub mod analysis;
pub mod api;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod crawl;
pub mod daemon;
pub mod dashboard;
pub mod demo;
pub mod digest;
pub mod fetch;
pub mod logging;
pub mod matching;
pub mod nlp;
pub mod normalize;
pub mod products;
pub mod scheduler;
pub mod sources;
pub mod store;
pub mod text;
pub mod trends;
