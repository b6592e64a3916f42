//! `brandpulse trends`: mentions and sentiment over time, and rising products.

use std::io::Write;

use chrono::{Duration, NaiveDate, Utc};
use clap::{Args, ValueEnum};

use super::{CliError, OutputFormat};
use crate::config::Config;
use crate::store::{Bucket, Store};
use crate::trends::{RISING_MIN_MENTIONS, TrendsError, TrendsReport, TrendsRequest, parse_duration};

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
    #[arg(long, value_name = "KIND", value_parser = crate::trends::SOURCE_KINDS)]
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

impl TrendsArgs {
    /// The request these flags make (the API builds the same from query parameters).
    pub fn request(&self) -> TrendsRequest {
        TrendsRequest {
            brand: self.brand.clone(),
            product: self.product.clone(),
            category: self.category.clone(),
            aspect: self.aspect.clone(),
            since: self.since,
            from: self.from,
            to: self.to,
            bucket: Some(match self.bucket {
                BucketArg::Hour => Bucket::Hour,
                BucketArg::Day => Bucket::Day,
                BucketArg::Week => Bucket::Week,
            }),
            source: self.source.clone(),
        }
    }
}

/// `brandpulse trends`.
pub async fn trends(
    args: &TrendsArgs,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let model_id = super::active_model_id(config)?;
    let report = match args.request().report(store, config, &model_id, Utc::now()).await {
        Ok(report) => report,
        Err(TrendsError::BadArgument { argument, message }) => {
            return Err(CliError::Usage(format!("--{argument}: {message}")));
        }
        Err(TrendsError::Store(e)) => return Err(e.into()),
    };
    let TrendsReport { points, rising_products: rising, .. } = &report;
    let bucket = args.request().bucket.unwrap_or(Bucket::Day);
    let tz = config.digest.time_zone;
    match args.format {
        OutputFormat::Json => {
            let value =
                serde_json::to_string(&report).map_err(|e| CliError::Output(std::io::Error::other(e)))?;
            writeln!(out, "{value}")?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(["bucket", "mentions", "positive", "neutral", "negative", "net_sentiment"])
                .map_err(super::csv_error)?;
            for p in points {
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
            for p in points {
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
                for r in rising {
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
