//! brandpulse: a self-hosted brand-sentiment monitor.
//!
//! The pipeline, in flow order (stages talk through owned data types and
//! meet only in the database):
//!
//! - [`config`]: the TOML file and `BRANDPULSE_*` overrides, validated once.
//! - [`catalog`]: the product catalog file (CSV/JSON), validated before import.
//! - [`store`]: PostgreSQL: migrations and every SQL statement.
//! - [`cli`]: the `brandpulse` commands.
//!
//! Crawling (`fetch`, `sources`, `normalize`, `matching`), the model (`nlp`),
//! digests, trends, the API and the daemon arrive in later parts; see
//! `DESIGN.md` for the map.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod store;
