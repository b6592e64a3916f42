//! `brandpulse status`: what the daemons are doing, read from the database
//! alone (it works from any machine that reaches PostgreSQL, daemon running or not).

use std::io::Write;

use chrono::{DateTime, Utc};

use super::CliError;
use crate::config::Config;
use crate::store::{PostFilter, Store};

/// A daemon whose heartbeat is older than this is shown as silent.
const SILENT_AFTER: chrono::Duration = chrono::Duration::seconds(90);

fn table() -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table
}

/// "3m ago" / "in 12s": short relative times for an operator's screen.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let (n, past) = (secs.unsigned_abs(), secs < 0);
    let text = match n {
        0..=89 => format!("{n}s"),
        90..=5399 => format!("{}m", n / 60),
        5400..=172_799 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if past { format!("{text} ago") } else { format!("in {text}") }
}

/// `brandpulse status`.
pub async fn status(config: &Config, store: &Store, out: &mut dyn Write) -> Result<(), CliError> {
    store.check_schema().await?;
    let now = Utc::now();

    let instances = store.instances(7).await?;
    writeln!(out, "Daemons (seen in the last 7 days):")?;
    if instances.is_empty() {
        writeln!(out, "  none: no `brandpulse run` has reached this database lately")?;
    } else {
        let mut t = table();
        t.set_header(["instance", "host", "pid", "version", "state", "started", "heartbeat"]);
        for i in &instances {
            let state = match i.stopped_at {
                Some(at) => format!("stopped {}", relative(at, now)),
                None if now - i.heartbeat_at > SILENT_AFTER => "silent (crashed?)".to_owned(),
                None => "running".to_owned(),
            };
            t.add_row([
                i.instance.clone(),
                i.hostname.clone(),
                i.pid.to_string(),
                i.version.clone(),
                state,
                relative(i.started_at, now),
                relative(i.heartbeat_at, now),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    writeln!(out, "\nSources:")?;
    let mut t = table();
    t.set_header([
        "source",
        "kind",
        "enabled",
        "last run",
        "status",
        "new posts",
        "failures",
        "next due",
        "lease",
    ]);
    for s in store.source_health().await? {
        let lease = match (&s.lease_owner, s.lease_until) {
            (Some(owner), Some(until)) if until > now => format!("{owner} (until {})", relative(until, now)),
            (Some(owner), Some(_)) => format!("{owner} (expired)"),
            _ => String::new(),
        };
        t.add_row([
            s.name.clone(),
            s.kind.clone(),
            if s.enabled { "yes" } else { "no" }.to_owned(),
            s.last_run_at.map(|t| relative(t, now)).unwrap_or_else(|| "never".to_owned()),
            s.last_status.clone(),
            s.last_new_posts.to_string(),
            if s.consecutive_failures > 0 {
                format!("{} ({})", s.consecutive_failures, s.last_error.as_deref().unwrap_or(""))
            } else {
                "0".to_owned()
            },
            if s.enabled { relative(s.next_due, now) } else { String::new() },
            lease,
        ]);
    }
    writeln!(out, "{t}")?;

    writeln!(out, "\nQueues:")?;
    match super::active_model_id(config) {
        Ok(model_id) => {
            let pending = store.count_unanalysed(&model_id, PostFilter::default()).await?;
            writeln!(out, "  posts awaiting analysis by {model_id}: {pending}")?;
        }
        Err(e) => writeln!(out, "  posts awaiting analysis: unknown ({e})")?,
    }

    writeln!(out, "\nLatest digests:")?;
    let latest = store.latest_digest_days().await?;
    for brand in store.brands().await?.iter().filter(|b| b.enabled && !b.competitor) {
        let day = latest.iter().find(|(id, _)| *id == brand.id).map(|(_, d)| d.to_string());
        writeln!(out, "  {}: {}", brand.name, day.unwrap_or_else(|| "none yet".to_owned()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().expect("time");
        let at = |s: i64| now + chrono::Duration::seconds(s);
        assert_eq!(relative(at(-5), now), "5s ago");
        assert_eq!(relative(at(30), now), "in 30s");
        assert_eq!(relative(at(-600), now), "10m ago");
        assert_eq!(relative(at(3 * 3600), now), "in 3h");
        assert_eq!(relative(at(-3 * 86_400), now), "3d ago");
    }
}
