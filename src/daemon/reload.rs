//! Config reload without a restart (SIGHUP): sources, brands, schedules
//! and catalog aliases take effect at once; what changed is logged; settings
//! that only a restart applies are named. A file that does not validate is
//! logged with every problem and the running config is kept.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use super::Live;
use crate::config::{Config, Env};
use crate::crawl::{Crawler, next_scheduled};
use crate::fetch::Fetcher;
use crate::store::{Store, StoreError};

/// Re-reads the config file and swaps in what it changes.
pub(super) struct Reloader {
    pub store: Store,
    pub config_path: PathBuf,
    pub env: Env,
    pub fetcher: Fetcher,
}

impl Reloader {
    /// Applies the file as it is now; `false` when it was refused or failed
    /// (logged; the running config stays).
    pub async fn reload(&self, live: &Live) -> bool {
        tracing::info!(config = %self.config_path.display(), "reloading the configuration");
        let new = match Config::load(&self.config_path, &self.env) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(error = %e, "the new configuration is invalid; keeping the running one");
                return false;
            }
        };
        let old = live.config.borrow().clone();
        let changes = describe_changes(&old, &new);
        for change in &changes.applied {
            tracing::info!(change = %change, "configuration change applied");
        }
        for section in &changes.need_restart {
            tracing::warn!(section = %section, "configuration change takes effect at the next restart");
        }
        match self.apply(&new, live).await {
            Ok(()) => {
                if changes.applied.is_empty() && changes.need_restart.is_empty() {
                    tracing::info!("configuration reloaded: nothing changed");
                } else {
                    tracing::info!(
                        applied = changes.applied.len(),
                        need_restart = changes.need_restart.len(),
                        "configuration reloaded"
                    );
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %crate::text::error_chain(&e), "cannot apply the new configuration; keeping the running one");
                false
            }
        }
    }

    async fn apply(&self, new: &Config, live: &Live) -> Result<(), super::DaemonError> {
        let old = live.config.borrow().clone();
        // Settings a restart applies keep their running values, so the tasks
        // reading the config (digest, retention) see one consistent config.
        let mut next = new.clone();
        next.database = old.database.clone();
        next.api = old.api.clone();
        next.model = old.model.clone();
        next.fetch = old.fetch.clone();
        next.daemon = old.daemon.clone();
        next.log = old.log.clone();
        self.store.sync_config(&next).await?;
        pull_schedules_forward(&self.store, &next).await?;
        let crawler = Crawler::new(&next, self.store.clone(), self.fetcher.clone()).await?;
        // The reader picks up brand changes and aliases added with `catalog alias`.
        let reader = crate::analysis::load_reader(&self.store, &next).await?;
        live.crawler.send_replace(Arc::new(crawler));
        live.reader.send_replace(Arc::new(reader));
        live.config.send_replace(Arc::new(next));
        Ok(())
    }
}

/// Brings each enabled source's `next_due` forward to its schedule's next
/// firing where the stored time is later (a schedule made more frequent, in
/// the file or by a reload, applies now); a restart fetches nothing early.
pub(super) async fn pull_schedules_forward(store: &Store, config: &Config) -> Result<u64, StoreError> {
    let now = Utc::now();
    let states = store.source_states().await?;
    let due: Vec<_> = states
        .iter()
        .filter_map(|state| {
            let source =
                config.sources.iter().find(|s| s.name.to_lowercase() == state.name.to_lowercase())?;
            Some((state.id, next_scheduled(&source.schedule, now)))
        })
        .collect();
    store.pull_forward(&due).await
}

/// What a reload changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Changes applied now, one line each ("source hn-kestrel: schedule ...").
    pub applied: Vec<String>,
    /// Sections whose changes wait for a restart.
    pub need_restart: Vec<String>,
}

/// Compares two configs (secrets compare as redacted, so a changed secret is
/// not seen; secrets are read at start).
pub fn describe_changes(old: &Config, new: &Config) -> Changes {
    let mut changes = Changes::default();
    let key = |name: &str| name.to_lowercase();
    for source in &new.sources {
        match old.sources.iter().find(|s| key(&s.name) == key(&source.name)) {
            None => changes.applied.push(format!("source {} added ({})", source.name, source.kind)),
            Some(before) => {
                if before.schedule.source() != source.schedule.source() {
                    changes.applied.push(format!(
                        "source {}: schedule \"{}\" -> \"{}\"",
                        source.name,
                        before.schedule.source(),
                        source.schedule.source()
                    ));
                }
                if before.enabled != source.enabled {
                    let state = if source.enabled { "enabled" } else { "disabled" };
                    changes.applied.push(format!("source {} {state}", source.name));
                }
                if (before.kind, &before.url, &before.query, before.params.to_json())
                    != (source.kind, &source.url, &source.query, source.params.to_json())
                {
                    changes.applied.push(format!("source {}: target changed ({})", source.name, source.url));
                }
            }
        }
    }
    for source in &old.sources {
        if !new.sources.iter().any(|s| key(&s.name) == key(&source.name)) {
            changes.applied.push(format!("source {} removed (disabled, history kept)", source.name));
        }
    }
    for brand in &new.brands {
        match old.brands.iter().find(|b| key(&b.name) == key(&brand.name)) {
            None => changes.applied.push(format!("brand {} added", brand.name)),
            Some(before) if before != brand => changes.applied.push(format!("brand {} changed", brand.name)),
            Some(_) => {}
        }
    }
    for brand in &old.brands {
        if !new.brands.iter().any(|b| key(&b.name) == key(&brand.name)) {
            changes.applied.push(format!("brand {} removed (disabled, history kept)", brand.name));
        }
    }
    if format!("{:?}", old.aspects) != format!("{:?}", new.aspects) {
        changes.applied.push("aspects changed".to_owned());
    }
    if format!("{:?}", old.digest) != format!("{:?}", new.digest) {
        changes.applied.push("digest settings changed".to_owned());
    }
    if format!("{:?}", old.privacy) != format!("{:?}", new.privacy) {
        changes.applied.push("privacy settings changed".to_owned());
    }
    let restart = [
        ("database", format!("{:?}", old.database) != format!("{:?}", new.database)),
        ("api", format!("{:?}", old.api) != format!("{:?}", new.api)),
        ("model", format!("{:?}", old.model) != format!("{:?}", new.model)),
        ("fetch", format!("{:?}", old.fetch) != format!("{:?}", new.fetch)),
        ("daemon", old.daemon != new.daemon),
        ("log", old.log != new.log),
    ];
    changes.need_restart =
        restart.iter().filter(|(_, changed)| *changed).map(|(s, _)| (*s).to_owned()).collect();
    changes
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(extra_source: &str, schedule: &str, batch: u32) -> Config {
        let text = format!(
            "[database]\nurl = \"postgres://bp@127.0.0.1/bp\"\n\
             [[brands]]\nname = \"Kestrel\"\naliases = [\"Kestrel\"]\n\
             [[sources]]\nname = \"news\"\nkind = \"feed\"\nurl = \"https://news.example/feed.xml\"\nschedule = \"{schedule}\"\n\
             {extra_source}\n\
             [model]\ndir = \"/models/m\"\nbatch_size = {batch}\n\
             [fetch]\ncontact_url = \"https://example.com/bot\"\n"
        );
        Config::from_bytes(Path::new("/etc/brandpulse/t.toml"), text.as_bytes(), &Env::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_reload_names_what_changed_and_what_needs_a_restart() {
        let old = config("", "0 */15 * * * *", 32);
        let new = config(
            "[[sources]]\nname = \"hn\"\nkind = \"hackernews\"\nquery = \"Kestrel\"\nschedule = \"0 0 * * * *\"\n",
            "0 */5 * * * *",
            64,
        );
        let changes = describe_changes(&old, &new);
        assert_eq!(
            changes.applied,
            vec![
                "source news: schedule \"0 */15 * * * *\" -> \"0 */5 * * * *\"".to_owned(),
                "source hn added (hackernews)".to_owned(),
            ]
        );
        assert_eq!(changes.need_restart, vec!["model".to_owned()]);
        assert_eq!(describe_changes(&old, &old), Changes::default());
        let back = describe_changes(&new, &old);
        assert!(back.applied.contains(&"source hn removed (disabled, history kept)".to_owned()));
    }
}
