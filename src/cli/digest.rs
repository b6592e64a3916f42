//! `brandpulse digest`: (re)generate, store, print and deliver daily digests.

use std::io::Write;

use chrono::{Duration, NaiveDate, Utc};
use clap::{Args, ValueEnum};

use super::CliError;
use crate::config::Config;
use crate::digest::build::{BrandRef, build};
use crate::digest::deliver::{Rendered, deliver_and_record};
use crate::digest::rules::AlertRule;
use crate::fetch::Fetcher;
use crate::store::Store;

/// Arguments of `digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The day (YYYY-MM-DD, in the digest time zone; default: yesterday there).
    #[arg(long, value_name = "DAY", value_parser = super::parse_day)]
    pub date: Option<NaiveDate>,

    /// Only this brand (default: every brand that is not a competitor).
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,

    /// What to print.
    #[arg(long, value_enum, default_value_t = DigestFormatArg::Md)]
    pub format: DigestFormatArg,

    /// Also deliver to the configured targets (each outcome is recorded).
    #[arg(long)]
    pub deliver: bool,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestFormatArg {
    /// Markdown.
    Md,
    /// Email-ready HTML.
    Html,
    /// Versioned JSON.
    Json,
}

/// `brandpulse digest`.
pub async fn digest(
    args: &DigestArgs,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let tz = config.digest.time_zone;
    let day = args.date.unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive() - Duration::days(1));
    let rows = store.brands().await?;
    let wanted = match &args.brand {
        Some(name) => {
            let id = super::brand_id(store, Some(name)).await?;
            rows.iter().filter(|r| Some(r.id) == id).collect::<Vec<_>>()
        }
        None => rows.iter().filter(|r| r.enabled && !r.competitor).collect(),
    };
    let model_id = super::active_model_id(config)?;
    let fetcher = if args.deliver {
        Some(Fetcher::new(&config.fetch).map_err(crate::crawl::CrawlError::from)?)
    } else {
        None
    };
    let mut failures = 0;
    for row in wanted {
        let aliases = config
            .brands
            .iter()
            .find(|b| b.name.to_lowercase() == row.name.to_lowercase())
            .map(|b| b.aliases.clone())
            .unwrap_or_else(|| vec![row.name.clone()]);
        let brand = BrandRef { id: row.id, name: row.name.clone(), aliases };
        let digest = build(store, &brand, day, tz, &model_id, &AlertRule::default()).await?;
        let rendered = Rendered::of(&digest);
        let stats = serde_json::to_value(&digest).map_err(|e| CliError::Output(e.into()))?;
        let digest_id =
            store.save_digest(brand.id, day, &model_id, &stats, &rendered.markdown, &rendered.html).await?;
        let text = match args.format {
            DigestFormatArg::Md => &rendered.markdown,
            DigestFormatArg::Html => &rendered.html,
            DigestFormatArg::Json => &rendered.json,
        };
        writeln!(out, "{text}")?;
        if let Some(fetcher) = &fetcher {
            let outcomes =
                deliver_and_record(store, &config.digest.deliver, digest_id, &digest, &rendered, fetcher)
                    .await?;
            for delivery in outcomes {
                match &delivery.error {
                    None => eprintln!(
                        "delivered {} {day} to {} ({} attempts)",
                        brand.name, delivery.target, delivery.attempts
                    ),
                    Some(e) => {
                        failures += 1;
                        eprintln!(
                            "delivering {} {day} to {} failed after {} attempts: {e}",
                            brand.name, delivery.target, delivery.attempts
                        );
                    }
                }
            }
        }
    }
    if failures > 0 {
        return Err(CliError::DeliveriesFailed { failed: failures });
    }
    Ok(())
}
