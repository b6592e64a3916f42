//! `brandpulse trends`: mentions and sentiment over time, and rising products.

use std::io::Write;

use chrono::{Duration, NaiveDate, Utc};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{CliError, OutputFormat};
use crate::config::Config;
use crate::digest::build::day_start;
use crate::store::{Bucket, Store, Subject, TrendQuery};

/// Arguments of `trends`.
#[derive(Debug, Args)]
pub struct TrendsArgs {
    /// One brand's mentions (post sentiment).
    #[arg(long, value_name = "NAME", group = "subject")]
    pub brand: Option<String>,

    /// One product's mentions, by SKU (targeted sentiment).
    #[arg(long, value_name = "SKU", group = "subject")]
    pub product: Option<String>,

    /// The products of one catalog category (targeted sentiment).
    #[arg(long, value_name = "CATEGORY", group = "subject")]
    pub category: Option<String>,

    /// Product mentions that discuss one aspect (e.g. battery).
    #[arg(long, value_name = "ASPECT", group = "subject")]
    pub aspect: Option<String>,

    /// The period up to now, e.g. 30d, 12h, 8w (default 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with_all = ["from", "to"])]
    pub since: Option<Duration>,

    /// First day (YYYY-MM-DD, in the digest time zone), with --to.
    #[arg(long, value_name = "DAY", value_parser = super::parse_day, requires = "to")]
    pub from: Option<NaiveDate>,

    /// Last day, included (YYYY-MM-DD), with --from.
    #[arg(long, value_name = "DAY", value_parser = super::parse_day, requires = "from")]
    pub to: Option<NaiveDate>,

    /// Bucket width.
    #[arg(long, value_enum, default_value_t = BucketArg::Day)]
    pub bucket: BucketArg,

    /// Only posts from sources of this kind.
    #[arg(long, value_name = "KIND", value_parser = ["feed", "hackernews", "mastodon", "reddit", "lemmy", "bluesky", "html"])]
    pub source: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `--bucket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BucketArg {
    /// Hours.
    Hour,
    /// Days.
    Day,
    /// Weeks (Monday first).
    Week,
}

/// More buckets than this is a mistake (hours over years), not a question.
const MAX_BUCKETS: i64 = 20_000;
/// Products need this many mentions in the period to rank as rising.
const RISING_MIN_MENTIONS: i64 = 5;

/// `30d`, `12h`, `8w`, `90m` and anything humantime reads (`1h 30m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let std = if let Some(weeks) = trimmed.strip_suffix('w').and_then(|n| n.parse::<u64>().ok()) {
        std::time::Duration::from_secs(weeks * 7 * 86_400)
    } else {
        humantime::parse_duration(trimmed)
            .map_err(|e| format!("`{text}` is not a duration such as 30d or 12h ({e})"))?
    };
    let duration = Duration::from_std(std).map_err(|_| format!("`{text}` is too long"))?;
    if duration <= Duration::zero() {
        return Err(format!("`{text}` is not a positive duration"));
    }
    Ok(duration)
}

/// `brandpulse trends`.
pub async fn trends(
    args: &TrendsArgs,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let tz = config.digest.time_zone;
    let (from, to) = match (args.from, args.to) {
        (Some(from), Some(to)) => {
            if from > to {
                return Err(CliError::Usage(format!("--from {from} is after --to {to}")));
            }
            (day_start(from, tz), day_start(to + Duration::days(1), tz))
        }
        _ => {
            let now = Utc::now();
            (now - args.since.unwrap_or(Duration::days(30)), now)
        }
    };
    let bucket = match args.bucket {
        BucketArg::Hour => Bucket::Hour,
        BucketArg::Day => Bucket::Day,
        BucketArg::Week => Bucket::Week,
    };
    let width = match bucket {
        Bucket::Hour => Duration::hours(1),
        Bucket::Day => Duration::days(1),
        Bucket::Week => Duration::weeks(1),
    };
    if (to - from).num_seconds() / width.num_seconds() > MAX_BUCKETS {
        return Err(CliError::Usage(format!(
            "--bucket {}: more than {MAX_BUCKETS} buckets in that period; use a wider bucket",
            bucket_name(bucket)
        )));
    }
    let subject = if let Some(name) = &args.brand {
        Subject::Brand(super::brand_id(store, Some(name)).await?.unwrap_or_default())
    } else if let Some(sku) = &args.product {
        match store.product_id(sku).await? {
            Some(id) => Subject::Product(id),
            None => return Err(CliError::Usage(format!("--product: no product with SKU `{sku}`"))),
        }
    } else if let Some(category) = &args.category {
        if !store.category_exists(category).await? {
            return Err(CliError::Usage(format!("--category: no product has the category `{category}`")));
        }
        Subject::Category(category.clone())
    } else if let Some(aspect) = &args.aspect {
        if !config.aspects.aspects().any(|(name, _)| name == aspect) {
            let known: Vec<&str> = config.aspects.aspects().map(|(name, _)| name).collect();
            return Err(CliError::Usage(format!(
                "--aspect: no aspect `{aspect}` (known: {})",
                known.join(", ")
            )));
        }
        Subject::Aspect(aspect.clone())
    } else {
        Subject::All
    };
    let model_id = super::active_model_id(config)?;
    let query = TrendQuery {
        subject,
        from,
        to,
        bucket,
        time_zone: tz.name().to_owned(),
        source_kind: args.source.clone(),
        model_id: model_id.clone(),
    };
    let points = store.trend(&query).await?;
    let rising = store.rising_products(&query, RISING_MIN_MENTIONS, 10).await?;
    match args.format {
        OutputFormat::Json => {
            let value = json!({
                "from": from, "to": to, "bucket": bucket_name(bucket), "time_zone": tz.name(),
                "model_id": model_id, "points": points, "rising_products": rising,
                "rising_min_mentions": RISING_MIN_MENTIONS,
            });
            writeln!(out, "{value}")?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(["bucket", "mentions", "positive", "neutral", "negative", "net_sentiment"])
                .map_err(super::csv_error)?;
            for p in &points {
                w.write_record([
                    p.bucket.format("%Y-%m-%dT%H:%M").to_string(),
                    p.mentions.to_string(),
                    p.positive.to_string(),
                    p.neutral.to_string(),
                    p.negative.to_string(),
                    p.net_sentiment.map(|n| format!("{n:.4}")).unwrap_or_default(),
                ])
                .map_err(super::csv_error)?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            table.set_header(["Bucket", "Mentions", "Positive", "Neutral", "Negative", "Net"]);
            let format = if bucket == Bucket::Hour { "%Y-%m-%d %H:00" } else { "%Y-%m-%d" };
            for p in &points {
                table.add_row([
                    p.bucket.format(format).to_string(),
                    p.mentions.to_string(),
                    p.positive.to_string(),
                    p.neutral.to_string(),
                    p.negative.to_string(),
                    p.net_sentiment.map(|n| format!("{n:+.2}")).unwrap_or_else(|| "-".to_owned()),
                ]);
            }
            writeln!(out, "{table}")?;
            writeln!(out, "times in {}; sentiment of {model_id}", tz.name())?;
            if rising.is_empty() {
                writeln!(out, "no product reached {RISING_MIN_MENTIONS} mentions in the period")?;
            } else {
                writeln!(
                    out,
                    "rising products (this period against the one before, at least {RISING_MIN_MENTIONS} mentions):"
                )?;
                for r in &rising {
                    writeln!(
                        out,
                        "  {} {}: {} (before {}), {:+.0}%",
                        r.sku,
                        r.name,
                        r.mentions,
                        r.previous,
                        r.growth * 100.0
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn bucket_name(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Hour => "hour",
        Bucket::Day => "day",
        Bucket::Week => "week",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_days_hours_and_weeks() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_duration("8w").unwrap(), Duration::weeks(8));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
        assert!(parse_duration("0s").is_err());
    }
}
