//! Integration tests: the real binary and the real PostgreSQL, one fresh
//! database per test. One test binary, so it is linked once.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

mod analysis;
mod api;
mod browser;
mod catalog;
mod config_check;
mod crawl;
mod daemon;
mod daemon_harness;
mod dashboard;
mod demo;
mod digest;
mod faults;
mod fixture_server;
mod helpers;
mod leases;
mod model;
mod pg_cluster;
mod products;
mod retention;
mod schema;
mod shutdown;
mod sync;
mod systemd;
mod trends;
