//! Every chart's and table's data as CSV (RFC 4180, a header row, UTF-8).
//!
//! Text from posts is untrusted and a spreadsheet runs a cell that starts
//! with `=`, `+`, `-` or `@` as a formula, so such text cells get a leading
//! apostrophe (OWASP's advice); numbers are written as they are.

use chrono::{DateTime, Utc};

use super::DashboardError;
use super::data::{DayRow, Share};
use crate::digest::{AspectCount, ProductStat};
use crate::store::{AspectSummary, GapRow, MentionRow, SourceHealthRow};

/// The charts that can be downloaded, as named in `/csv/{chart}`.
pub const CHARTS: [&str; 9] = [
    "volume",
    "share-of-voice",
    "products",
    "problem-products",
    "gaps",
    "mentions",
    "sources",
    "product-trend",
    "product-aspects",
];

/// Text that a spreadsheet will not run as a formula.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn float(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => String::new(),
    }
}

fn write(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>, DashboardError> {
    let fail = |e: csv::Error| DashboardError::internal(format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(fail)?;
    for row in rows {
        w.write_record(&row).map_err(fail)?;
    }
    w.into_inner().map_err(|e| DashboardError::internal(format!("writing CSV: {e}")))
}

/// Mentions and sentiment per day (with the alerts, for a brand).
pub fn days(days: &[DayRow]) -> Result<Vec<u8>, DashboardError> {
    write(
        &[
            "day",
            "mentions",
            "positive",
            "neutral",
            "negative",
            "not_scored",
            "net_sentiment",
            "complete",
            "alerts",
        ],
        days.iter().map(|d| {
            let alerts: Vec<String> =
                d.alerts.iter().map(|a| format!("{}: {}", a.kind.label(), a.reason)).collect();
            vec![
                d.day.to_string(),
                d.mentions.to_string(),
                d.positive.to_string(),
                d.neutral.to_string(),
                d.negative.to_string(),
                d.unscored().to_string(),
                float(d.net),
                (!d.partial).to_string(),
                text(&alerts.join("; ")),
            ]
        }),
    )
}

/// Share of voice.
pub fn share(shares: &[Share]) -> Result<Vec<u8>, DashboardError> {
    write(
        &["brand", "competitor", "mentions", "share"],
        shares.iter().map(|s| {
            vec![text(&s.brand), s.competitor.to_string(), s.mentions.to_string(), float(Some(s.share))]
        }),
    )
}

fn aspects_text(aspects: &[AspectCount]) -> String {
    aspects.iter().map(|a| format!("{} ({})", a.aspect, a.count)).collect::<Vec<_>>().join(", ")
}

/// A product section (most mentioned, problem products).
pub fn products(products: &[ProductStat]) -> Result<Vec<u8>, DashboardError> {
    write(
        &[
            "sku",
            "name",
            "mentions",
            "previous_period_mentions",
            "positive",
            "neutral",
            "negative",
            "negative_share",
            "net_sentiment",
            "praised",
            "complaints",
        ],
        products.iter().map(|p| {
            let scored = p.positive + p.neutral + p.negative;
            vec![
                text(&p.sku),
                text(&p.name),
                p.mentions.to_string(),
                // The dashboard compares with one period as long as the range.
                format!("{}", p.previous_mean.round()),
                p.positive.to_string(),
                p.neutral.to_string(),
                p.negative.to_string(),
                float((scored > 0).then_some(p.negative_share)),
                float((scored > 0).then_some(p.net_sentiment)),
                text(&aspects_text(&p.praised)),
                text(&aspects_text(&p.complaints)),
            ]
        }),
    )
}

/// Names the catalog lacks.
pub fn gaps(gaps: &[GapRow]) -> Result<Vec<u8>, DashboardError> {
    write(
        &[
            "name",
            "brand",
            "posts_in_range",
            "last_7_days",
            "previous_7_days",
            "all_time",
            "first_seen",
            "last_seen",
            "example_url",
            "example_text",
        ],
        gaps.iter().map(|g| {
            vec![
                text(&g.surface),
                text(g.brand.as_deref().unwrap_or_default()),
                g.mentions.to_string(),
                g.last_7d.to_string(),
                g.prev_7d.to_string(),
                g.all_time.to_string(),
                time(Some(g.first_seen)),
                time(Some(g.last_seen)),
                text(g.example_url.as_deref().unwrap_or_default()),
                text(g.example_text.as_deref().unwrap_or_default()),
            ]
        }),
    )
}

/// Mentions, newest first.
pub fn mentions(rows: &[MentionRow]) -> Result<Vec<u8>, DashboardError> {
    write(
        &[
            "mentioned_at",
            "brand",
            "source",
            "source_kind",
            "sentiment",
            "sentiment_score",
            "products",
            "author",
            "title",
            "text",
            "url",
            "engagement",
        ],
        rows.iter().map(|m| {
            let products: Vec<String> = m
                .products
                .iter()
                .map(|p| format!("{} ({})", p.sku, p.sentiment.as_deref().unwrap_or("not scored")))
                .collect();
            vec![
                time(Some(m.mentioned_at)),
                text(&m.brand),
                text(&m.source),
                m.source_kind.clone(),
                m.sentiment.clone().unwrap_or_default(),
                m.sentiment_score.map(|s| format!("{s:.4}")).unwrap_or_default(),
                text(&products.join("; ")),
                text(m.author.as_deref().unwrap_or_default()),
                text(m.title.as_deref().unwrap_or_default()),
                text(&m.text),
                text(m.url.as_deref().unwrap_or_default()),
                m.engagement.to_string(),
            ]
        }),
    )
}

/// Source health.
pub fn sources(sources: &[SourceHealthRow]) -> Result<Vec<u8>, DashboardError> {
    write(
        &[
            "name",
            "kind",
            "enabled",
            "last_status",
            "last_run_at",
            "last_items_seen",
            "last_new_posts",
            "last_success_at",
            "consecutive_failures",
            "runs_24h",
            "failures_24h",
            "last_error",
            "next_due",
        ],
        sources.iter().map(|s| {
            vec![
                text(&s.name),
                s.kind.clone(),
                s.enabled.to_string(),
                s.last_status.clone(),
                time(s.last_run_at),
                s.last_items_seen.to_string(),
                s.last_new_posts.to_string(),
                time(s.last_success_at),
                s.consecutive_failures.to_string(),
                s.runs_24h.to_string(),
                s.failures_24h.to_string(),
                text(s.last_error.as_deref().unwrap_or_default()),
                time(Some(s.next_due)),
            ]
        }),
    )
}

/// A product's aspects.
pub fn aspects(aspects: &[AspectSummary]) -> Result<Vec<u8>, DashboardError> {
    write(
        &["aspect", "positive", "neutral", "negative"],
        aspects.iter().map(|a| {
            vec![text(&a.aspect), a.positive.to_string(), a.neutral.to_string(), a.negative.to_string()]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_csv_defuses_formulas_and_quotes() {
        let shares =
            vec![Share { brand: "=HYPERLINK(\"x\")".into(), competitor: false, mentions: 3, share: 0.5 }];
        let out = String::from_utf8(share(&shares).unwrap()).unwrap();
        assert_eq!(out, "brand,competitor,mentions,share\n\"'=HYPERLINK(\"\"x\"\")\",false,3,0.5000\n");
    }
}
