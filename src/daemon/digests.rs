//! The digest job: every own brand's digest of the previous day, made at
//! `[digest] time` in `[digest] time_zone`, stored once and delivered by
//! the instance that stored it.
//!
//! The job looks every [`CHECK_EVERY`] (and at start) for the days that are
//! due and not stored: after downtime the missed days are made up, each once
//! (up to `[daemon] digest_catch_up_days` back; a brand that never had a
//! digest gets only the latest day, not its whole history). Several daemons
//! may run the job: the unique (brand, day) key lets one store each digest,
//! and only that one delivers it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Stats;
use crate::config::Config;
use crate::digest::build::{BrandRef, build};
use crate::digest::deliver::{Rendered, deliver_and_record};
use crate::digest::rules::AlertRule;
use crate::fetch::Fetcher;
use crate::store::{PostFilter, Store, StoreError};

/// How often the job looks for due digests.
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// How long a digest may wait for the analysis backlog to drain after its
/// time; after that it is made with what is analysed (unscored posts are
/// counted as such in it).
const WAIT_FOR_ANALYSIS: chrono::Duration = chrono::Duration::minutes(30);

/// The latest day whose digest is due at `now`: yesterday once today's
/// digest time has passed, else the day before.
pub fn latest_due_day(now: DateTime<Utc>, time: NaiveTime, tz: chrono_tz::Tz) -> NaiveDate {
    let local = now.with_timezone(&tz);
    let today = local.date_naive();
    if local.time() >= time { today - chrono::Duration::days(1) } else { today - chrono::Duration::days(2) }
}

/// The days to make for one brand: those after its latest stored digest up
/// to `due`, at most `catch_up` of them (the latest ones); only `due` when
/// it never had one.
pub fn days_to_make(latest_stored: Option<NaiveDate>, due: NaiveDate, catch_up: u32) -> Vec<NaiveDate> {
    let Some(latest) = latest_stored else { return vec![due] };
    if latest >= due {
        return Vec::new();
    }
    let earliest = due - chrono::Duration::days(i64::from(catch_up.max(1)) - 1);
    let first = (latest + chrono::Duration::days(1)).max(earliest);
    first.iter_days().take_while(|d| *d <= due).collect()
}

/// Runs until `stop`: makes due digests (see the module docs).
pub async fn digest_loop(
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    model_id: String,
    fetcher: Fetcher,
    stats: Arc<Stats>,
    stop: CancellationToken,
    abandon: CancellationToken,
) {
    loop {
        let current = config.borrow().clone();
        let round = make_due_digests(&store, &current, &model_id, &fetcher, &stats, Utc::now());
        tokio::select! {
            result = round => if let Err(e) = result {
                tracing::error!(error = %crate::text::error_chain(&e), "digest job failed; retrying");
            },
            // A digest half made is not stored (one insert), so dropping it is safe.
            () = abandon.cancelled() => return,
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

/// One round of the job at `now`; returns how many digests this call stored.
pub async fn make_due_digests(
    store: &Store,
    config: &Config,
    model_id: &str,
    fetcher: &Fetcher,
    stats: &Stats,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let tz = config.digest.time_zone;
    let due = latest_due_day(now, config.digest.time, tz);
    let due_since = crate::digest::build::day_start(due + chrono::Duration::days(1), tz)
        + (config.digest.time - NaiveTime::MIN);
    if now < due_since + WAIT_FOR_ANALYSIS
        && store.count_unanalysed(model_id, PostFilter::default()).await? > 0
    {
        tracing::debug!("digests wait for the analysis backlog");
        return Ok(0);
    }
    let latest: HashMap<i64, NaiveDate> = store.latest_digest_days().await?.into_iter().collect();
    let mut made = 0;
    for row in store.brands().await? {
        let Some(own) =
            config.own_brands().find(|b| b.name.to_lowercase() == row.name.to_lowercase() && row.enabled)
        else {
            continue;
        };
        let brand = BrandRef { id: row.id, name: row.name.clone(), aliases: own.aliases.clone() };
        for day in days_to_make(latest.get(&row.id).copied(), due, config.daemon.digest_catch_up_days) {
            let digest = build(store, &brand, day, tz, model_id, &AlertRule::default()).await?;
            let rendered = Rendered::of(&digest);
            let stats_json = match serde_json::to_value(&digest) {
                Ok(value) => value,
                Err(e) => {
                    tracing::error!(brand = %brand.name, %day, error = %e, "cannot serialise the digest");
                    continue;
                }
            };
            let Some(digest_id) = store
                .claim_digest(brand.id, day, model_id, &stats_json, &rendered.markdown, &rendered.html)
                .await?
            else {
                tracing::debug!(brand = %brand.name, %day, "digest already made by another instance");
                continue;
            };
            made += 1;
            stats.add(&stats.digests_made, 1);
            tracing::info!(
                brand = %brand.name,
                %day,
                mentions = digest.volume.mentions,
                alerts = digest.alerts.len(),
                "digest made"
            );
            deliver_and_record(store, &config.digest.deliver, digest_id, &digest, &rendered, fetcher).await?;
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("day")
    }

    #[test]
    fn the_due_day_turns_at_the_digest_time_in_the_time_zone() {
        let berlin = chrono_tz::Europe::Berlin;
        let eight = NaiveTime::from_hms_opt(8, 0, 0).expect("time");
        // 06:59 UTC = 07:59 in Berlin (winter): yesterday's digest is not due yet.
        let before: DateTime<Utc> = "2026-11-23T06:59:00Z".parse().expect("time");
        assert_eq!(latest_due_day(before, eight, berlin), day("2026-11-21"));
        let after: DateTime<Utc> = "2026-11-23T07:00:00Z".parse().expect("time");
        assert_eq!(latest_due_day(after, eight, berlin), day("2026-11-22"));
    }

    #[test]
    fn missed_days_are_made_up_once_within_the_catch_up_window() {
        let due = day("2026-11-22");
        assert_eq!(days_to_make(Some(due), due, 7), Vec::<NaiveDate>::new());
        assert_eq!(days_to_make(Some(day("2026-11-21")), due, 7), vec![due]);
        assert_eq!(
            days_to_make(Some(day("2026-11-19")), due, 7),
            vec![day("2026-11-20"), day("2026-11-21"), due]
        );
        // Down for a month: only the last 7 days.
        let month = days_to_make(Some(day("2026-10-20")), due, 7);
        assert_eq!(month.first(), Some(&day("2026-11-16")));
        assert_eq!(month.len(), 7);
        // catch_up 0 still makes the latest day.
        assert_eq!(days_to_make(Some(day("2026-11-10")), due, 0), vec![due]);
        // Never made one: only the latest day, not the brand's history.
        assert_eq!(days_to_make(None, due, 7), vec![due]);
    }
}
