//! The configuration file as written: every key optional, so that one pass
//! can report every problem at once. `validate` turns this into [`super::Config`].
//!
//! Unknown keys are not rejected by serde here: they are collected with
//! `serde_ignored` and reported together with every other problem.

use std::path::PathBuf;

use serde::Deserialize;

/// A key whose presence is an error (a secret written inline). Any TOML value.
pub(crate) type Inline = Option<toml::Value>;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDatabase {
    pub url: Option<String>,
    pub password: Inline,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub max_connections: Option<u32>,
    pub connect_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawBrand {
    pub name: Option<String>,
    pub aliases: Vec<String>,
    pub exclusions: Vec<String>,
    pub context_terms: Vec<String>,
    pub ambiguous_aliases: Vec<String>,
    pub context_window: Option<u32>,
    pub competitor: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSource {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub url: Option<String>,
    pub query: Option<String>,
    pub schedule: Option<String>,
    pub enabled: Option<bool>,
    pub params: RawSourceParams,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSourceParams {
    pub tags: Option<Vec<String>>,
    pub tag: Option<String>,
    pub subreddit: Option<String>,
    pub community: Option<String>,
    pub max_pages: Option<u32>,
    pub identifier: Option<String>,
    pub app_password: Inline,
    pub app_password_env: Option<String>,
    pub app_password_file: Option<PathBuf>,
    pub selectors: Option<RawSelectors>,
}

impl RawSourceParams {
    /// The names of the keys that are set, for "not used by this kind" checks.
    pub fn present_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut add = |set: bool, key: &'static str| {
            if set {
                keys.push(key);
            }
        };
        add(self.tags.is_some(), "tags");
        add(self.tag.is_some(), "tag");
        add(self.subreddit.is_some(), "subreddit");
        add(self.community.is_some(), "community");
        add(self.max_pages.is_some(), "max_pages");
        add(self.identifier.is_some(), "identifier");
        add(self.app_password.is_some(), "app_password");
        add(self.app_password_env.is_some(), "app_password_env");
        add(self.app_password_file.is_some(), "app_password_file");
        add(self.selectors.is_some(), "selectors");
        keys
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSelectors {
    pub item: Option<String>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub link: Option<String>,
    pub author: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawModel {
    pub dir: Option<PathBuf>,
    pub batch_size: Option<u32>,
    pub threads: Option<u32>,
    pub variant: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDigest {
    pub time: Option<String>,
    pub time_zone: Option<String>,
    pub formats: Option<Vec<String>>,
    pub deliver: Vec<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDelivery {
    pub kind: Option<String>,
    pub path: Option<PathBuf>,
    pub url: Inline,
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Inline,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
    pub to: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawApi {
    pub enabled: Option<bool>,
    pub bind: Option<String>,
    pub token: Inline,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawPrivacy {
    pub hash_author_handles: Option<bool>,
    pub hash_key: Inline,
    pub hash_key_env: Option<String>,
    pub hash_key_file: Option<PathBuf>,
    pub retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawFetch {
    pub contact_url: Option<String>,
    pub connect_timeout: Option<String>,
    pub timeout: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub per_host_requests_per_minute: Option<u32>,
    pub per_host_concurrency: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDaemon {
    pub instance: Option<String>,
    pub tick: Option<String>,
    pub max_concurrent_fetches: Option<u32>,
    pub lease: Option<String>,
    pub analysis_workers: Option<u32>,
    pub shutdown_timeout: Option<String>,
    pub digest_catch_up_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}
