//! The config loader: `Config::from_bytes` over any bytes, as if read from
//! /etc/brandpulse/fuzz.toml, against an empty environment and against one
//! that holds the default secrets (so more inputs get past them).
//!
//! Property: it returns `Ok` or `Err`, never panics; an `Err` lists at least
//! one problem.
//!
//! Secrets may come from files named by `*_file` keys, which the loader
//! reads. An input naming an absolute path or one with `..` (`/dev/zero`,
//! `/dev/stdin`) would make the fuzzer read devices or real files, so such
//! inputs are skipped.
#![no_main]

use std::path::{Component, Path};

use brandpulse::config::{Config, ConfigError, Env, env_keys};
use libfuzzer_sys::fuzz_target;

/// Whether every `*_file` key of the document names a harmless relative path.
fn file_keys_are_safe(value: &toml::Value) -> bool {
    match value {
        toml::Value::Table(table) => table.iter().all(|(key, value)| {
            let named_file = key.ends_with("_file")
                && value.as_str().is_some_and(|p| {
                    Path::new(p).components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
                });
            !named_file && file_keys_are_safe(value)
        }),
        toml::Value::Array(items) => items.iter().all(file_keys_are_safe),
        _ => true,
    }
}

fn check(data: &[u8], env: &Env) {
    match Config::from_bytes(Path::new("/etc/brandpulse/fuzz.toml"), data, env) {
        Ok(_) => {}
        Err(ConfigError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty(), "Invalid without problems")
        }
        Err(ConfigError::Read { .. }) => panic!("from_bytes reads no config file"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(table) = toml::from_str::<toml::Table>(text)
        && !file_keys_are_safe(&toml::Value::Table(table))
    {
        return;
    }
    check(data, &Env::default());
    check(
        data,
        &Env::from_pairs([
            (env_keys::DATABASE_PASSWORD, "fuzz-db-password"),
            (env_keys::API_TOKEN, "fuzz-api-token-0123456789abcdef"),
            (env_keys::AUTHOR_HASH_KEY, "fuzz-author-hash-key-0123456789"),
        ]),
    );
});
