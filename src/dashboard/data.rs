//! What the pages show, loaded through the calls the trends command, the
//! digest and the JSON API make: no SQL here, and the same numbers everywhere.

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::DashboardError;
use crate::api::AppState;
use crate::digest::Products;
use crate::digest::build::{day_start, product_sections};
use crate::digest::rules::{self, Alert, AlertKind, AlertRule};
use crate::store::{
    GapRow, MentionCursor, MentionFilter, MentionRow, ProductSummary, SourceHealthRow, TrendPoint,
};
use crate::trends::TrendsRequest;

/// Days shown when the query names no range.
pub const DEFAULT_DAYS: u64 = 14;
/// The longest range a page shows (a year of daily bars is still readable).
pub const MAX_DAYS: i64 = 366;
/// Latest mentions listed on the overview (older ones are a page further).
pub const MENTIONS_PAGE: i64 = 25;
/// Mentions in a CSV download.
pub const MENTIONS_CSV: i64 = 10_000;
/// Unlinked names listed.
pub const GAP_LIMIT: i64 = 20;
/// Example mentions on a product page.
pub const PRODUCT_EXAMPLES: i64 = 20;

/// A brand the selector offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandChoice {
    /// `brands.id`.
    pub id: i64,
    /// Name, as in the config.
    pub name: String,
    /// A competitor.
    pub competitor: bool,
}

/// A range of whole days in the digest time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First day.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
    /// The first instant of `from`.
    pub start: DateTime<Utc>,
    /// The first instant after `to`.
    pub end: DateTime<Utc>,
}

impl Range {
    /// The range the query asks for: `to` defaults to `today`, `from` to
    /// [`DEFAULT_DAYS`] days ending at `to`.
    pub fn resolve(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
        tz: chrono_tz::Tz,
    ) -> Result<Range, DashboardError> {
        let to = to.unwrap_or(today);
        let from = match from {
            Some(from) => from,
            None => to
                .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                .ok_or_else(|| DashboardError::bad("to", format!("{to} is out of range")))?,
        };
        if from > to {
            return Err(DashboardError::bad("from", format!("{from} is after to ({to})")));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(DashboardError::bad("from", format!("the range is longer than {MAX_DAYS} days")));
        }
        let after = to
            .checked_add_days(Days::new(1))
            .ok_or_else(|| DashboardError::bad("to", format!("{to} is out of range")))?;
        Ok(Range { from, to, start: day_start(from, tz), end: day_start(after, tz) })
    }

    /// Days in the range.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// One day of a volume chart.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    /// The day (digest time zone).
    pub day: NaiveDate,
    /// Mentions.
    pub mentions: i64,
    /// Scored positive.
    pub positive: i64,
    /// Scored neutral.
    pub neutral: i64,
    /// Scored negative.
    pub negative: i64,
    /// (positive - negative) / scored.
    pub net: Option<f64>,
    /// Today (or later): the day is not over.
    pub partial: bool,
    /// The digest's spike and dip alerts for that day.
    pub alerts: Vec<Alert>,
}

impl DayRow {
    /// Mentions the model has not scored (language, empty, not read yet).
    pub fn unscored(&self) -> i64 {
        (self.mentions - self.positive - self.neutral - self.negative).max(0)
    }
}

/// Sums of a run of days.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Mentions.
    pub mentions: i64,
    /// Positive.
    pub positive: i64,
    /// Neutral.
    pub neutral: i64,
    /// Negative.
    pub negative: i64,
}

impl Totals {
    /// The sums of `days`.
    pub fn of(days: &[DayRow]) -> Totals {
        days.iter().fold(Totals::default(), |t, d| Totals {
            mentions: t.mentions + d.mentions,
            positive: t.positive + d.positive,
            neutral: t.neutral + d.neutral,
            negative: t.negative + d.negative,
        })
    }

    /// Scored mentions.
    pub fn scored(&self) -> i64 {
        self.positive + self.neutral + self.negative
    }

    /// `part` / scored, None when nothing was scored.
    pub fn share(&self, part: i64) -> Option<f64> {
        (self.scored() > 0).then(|| part as f64 / self.scored() as f64)
    }

    /// (positive - negative) / scored.
    pub fn net(&self) -> Option<f64> {
        self.share(self.positive - self.negative)
    }
}

/// One brand's share of all watched brands' mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Brand.
    pub brand: String,
    /// A competitor.
    pub competitor: bool,
    /// Mentions in the range.
    pub mentions: i64,
    /// mentions / all brands' mentions (0 when there are none).
    pub share: f64,
}

/// Everything the overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Volume and sentiment per day, with alerts.
    pub days: Vec<DayRow>,
    /// Share of voice.
    pub share: Vec<Share>,
    /// Most mentioned, rising and problem products.
    pub products: Products,
    /// Names the catalog lacks.
    pub gaps: Vec<GapRow>,
    /// Latest mentions, filtered.
    pub mentions: Vec<MentionRow>,
    /// Where the next (older) page starts, when more mentions match.
    pub next_cursor: Option<MentionCursor>,
    /// Every source's health.
    pub sources: Vec<SourceHealthRow>,
    /// The brand's products (SKU, name), for the product filter.
    pub catalog: Vec<(String, String)>,
}

/// Everything a product page shows.
#[derive(Debug, Clone)]
pub struct ProductView {
    /// Volume, sentiment, aspects and latest mentions.
    pub summary: ProductSummary,
    /// Mentions and targeted sentiment per day.
    pub days: Vec<DayRow>,
}

/// Loads the whole overview; the queries run side by side.
pub async fn overview(
    state: &AppState,
    brand: &BrandChoice,
    range: &Range,
    filter: &MentionFilter,
    cursor: Option<MentionCursor>,
    now: DateTime<Utc>,
) -> Result<Overview, DashboardError> {
    let (days, share, products, gaps, (mentions, next_cursor), sources, catalog) = tokio::try_join!(
        volume_days(state, brand, range, now),
        share_of_voice(state, range),
        products(state, brand, range),
        gaps(state, brand, range),
        mentions(state, filter, cursor, MENTIONS_PAGE),
        sources(state),
        catalog(state, brand),
    )?;
    Ok(Overview { days, share, products, gaps, mentions, next_cursor, sources, catalog })
}

/// The brand's mentions and sentiment per day of `range`, each day checked
/// with the digest's alert rule against its own trailing baseline.
pub async fn volume_days(
    state: &AppState,
    brand: &BrandChoice,
    range: &Range,
    now: DateTime<Utc>,
) -> Result<Vec<DayRow>, DashboardError> {
    // The config has no alert settings: the digest's published defaults apply.
    let rule = AlertRule::default();
    let tz = state.config().digest.time_zone;
    // The first day's baseline reaches back `baseline_days` before the range.
    let history_from = range
        .from
        .checked_sub_days(Days::new(rule.baseline_days as u64))
        .ok_or_else(|| DashboardError::bad("from", format!("{} is out of range", range.from)))?;
    let request = TrendsRequest {
        brand: Some(brand.name.clone()),
        from: Some(history_from),
        to: Some(range.to),
        ..TrendsRequest::default()
    };
    let query = request.resolve(&state.store, &state.config(), &state.model_id, now).await?;
    let points = state.store.trend(&query).await?;
    let first_day = state.store.first_mention(brand.id).await?.map(|t| t.with_timezone(&tz).date_naive());
    Ok(with_alerts(&rule, &points, range.from, first_day, now.with_timezone(&tz).date_naive()))
}

/// The days from `from` on, each with the alerts `rule` raises against the
/// days before it (only days since the brand's first mention count, as in
/// the digest). A dip is not reported for today or later: a day that is not
/// over always looks low.
pub fn with_alerts(
    rule: &AlertRule,
    points: &[TrendPoint],
    from: NaiveDate,
    first_day: Option<NaiveDate>,
    today: NaiveDate,
) -> Vec<DayRow> {
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.bucket.date() >= from)
        .map(|(i, p)| {
            let known: Vec<&TrendPoint> =
                points[..i].iter().filter(|q| first_day.is_some_and(|f| q.bucket.date() >= f)).collect();
            let baseline = &known[known.len().saturating_sub(rule.baseline_days)..];
            let volumes: Vec<u64> = baseline.iter().map(|q| q.mentions as u64).collect();
            let negatives: Vec<(u64, u64)> = baseline
                .iter()
                .map(|q| (q.negative as u64, (q.positive + q.neutral + q.negative) as u64))
                .collect();
            let day = p.bucket.date();
            let partial = day >= today;
            let scored = (p.positive + p.neutral + p.negative) as u64;
            let alerts = rules::volume_alert(rule, p.mentions as u64, &volumes)
                .filter(|a| !(partial && a.kind == AlertKind::VolumeDip))
                .into_iter()
                .chain(rules::negative_alert(rule, (p.negative as u64, scored), &negatives))
                .collect();
            DayRow {
                day,
                mentions: p.mentions,
                positive: p.positive,
                neutral: p.neutral,
                negative: p.negative,
                net: p.net_sentiment,
                partial,
                alerts,
            }
        })
        .collect()
}

fn plain_days(points: &[TrendPoint], today: NaiveDate) -> Vec<DayRow> {
    points
        .iter()
        .map(|p| DayRow {
            day: p.bucket.date(),
            mentions: p.mentions,
            positive: p.positive,
            neutral: p.neutral,
            negative: p.negative,
            net: p.net_sentiment,
            partial: p.bucket.date() >= today,
            alerts: Vec::new(),
        })
        .collect()
}

/// Every enabled brand's share of the mentions in `range`.
pub async fn share_of_voice(state: &AppState, range: &Range) -> Result<Vec<Share>, DashboardError> {
    let volumes = state.store.brand_volumes(range.start, range.end).await?;
    let all: i64 = volumes.iter().map(|v| v.mentions).sum();
    Ok(volumes
        .into_iter()
        .map(|v| Share {
            share: if all == 0 { 0.0 } else { v.mentions as f64 / all as f64 },
            brand: v.brand,
            competitor: v.competitor,
            mentions: v.mentions,
        })
        .collect())
}

/// The digest's product sections over `range`, against the equally long range before.
pub async fn products(
    state: &AppState,
    brand: &BrandChoice,
    range: &Range,
) -> Result<Products, DashboardError> {
    let tz = state.config().digest.time_zone;
    let before = range
        .from
        .checked_sub_days(Days::new(range.days() as u64))
        .ok_or_else(|| DashboardError::bad("from", format!("{} is out of range", range.from)))?;
    Ok(product_sections(
        &state.store,
        brand.id,
        &state.model_id,
        day_start(before, tz),
        range.start,
        range.end,
        1,
    )
    .await?)
}

/// The brand's names the catalog lacks, seen since the range's first day.
pub async fn gaps(
    state: &AppState,
    brand: &BrandChoice,
    range: &Range,
) -> Result<Vec<GapRow>, DashboardError> {
    Ok(state.store.catalog_gaps(Some(range.start), Some(brand.id), GAP_LIMIT).await?)
}

/// Up to `limit` newest mentions matching `filter` after `cursor`, and
/// where the next page starts when more match.
pub async fn mentions(
    state: &AppState,
    filter: &MentionFilter,
    cursor: Option<MentionCursor>,
    limit: i64,
) -> Result<(Vec<MentionRow>, Option<MentionCursor>), DashboardError> {
    // One row more than shown tells whether there are more.
    let mut rows = state.store.mentions_page(filter, &state.model_id, cursor, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|m| MentionCursor { at: m.mentioned_at, id: m.id }) } else { None };
    Ok((rows, next))
}

/// Every source's health.
pub async fn sources(state: &AppState) -> Result<Vec<SourceHealthRow>, DashboardError> {
    Ok(state.store.source_health().await?)
}

/// The brand's catalog as (SKU, name).
pub async fn catalog(state: &AppState, brand: &BrandChoice) -> Result<Vec<(String, String)>, DashboardError> {
    Ok(state.store.products(Some(brand.id)).await?.into_iter().map(|p| (p.sku, p.name)).collect())
}

/// A product's page; `None` for an unknown SKU.
pub async fn product(
    state: &AppState,
    sku: &str,
    range: &Range,
    now: DateTime<Utc>,
) -> Result<Option<ProductView>, DashboardError> {
    let Some(summary) =
        state.store.product_summary(sku, &state.model_id, range.start, range.end, PRODUCT_EXAMPLES).await?
    else {
        return Ok(None);
    };
    let days = product_days(state, sku, range, now).await?;
    Ok(Some(ProductView { summary, days }))
}

/// A product's mentions and targeted sentiment per day of `range`.
pub async fn product_days(
    state: &AppState,
    sku: &str,
    range: &Range,
    now: DateTime<Utc>,
) -> Result<Vec<DayRow>, DashboardError> {
    let request = TrendsRequest {
        product: Some(sku.to_owned()),
        from: Some(range.from),
        to: Some(range.to),
        ..TrendsRequest::default()
    };
    let query = request.resolve(&state.store, &state.config(), &state.model_id, now).await?;
    let points = state.store.trend(&query).await?;
    let today = now.with_timezone(&state.config().digest.time_zone).date_naive();
    Ok(plain_days(&points, today))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, d).unwrap()
    }

    fn point(d: u32, mentions: i64) -> TrendPoint {
        TrendPoint {
            bucket: day(d).and_time(chrono::NaiveTime::MIN),
            mentions,
            positive: mentions,
            neutral: 0,
            negative: 0,
            net_sentiment: (mentions > 0).then_some(1.0),
        }
    }

    #[test]
    fn dashboard_days_carry_the_digest_alert_against_their_own_baseline() {
        // June 1..14: 2 a day; the 15th: 27; the 16th: back to 2.
        let mut points: Vec<TrendPoint> = (1..=14).map(|d| point(d, 2)).collect();
        points.push(point(15, 27));
        points.push(point(16, 2));
        let rows = with_alerts(&AlertRule::default(), &points, day(10), Some(day(1)), day(30));
        assert_eq!(rows.len(), 7, "June 10..16");
        let spikes: Vec<&DayRow> = rows.iter().filter(|r| !r.alerts.is_empty()).collect();
        assert_eq!(spikes.len(), 1);
        assert_eq!(spikes[0].day, day(15));
        let alert = &spikes[0].alerts[0];
        assert_eq!(alert.kind, AlertKind::VolumeSpike);
        // Mean 2, sd = max(0, sqrt 2, 1): z = 25 / 1.414 = 17.7.
        assert_eq!(alert.reason, "27 mentions against a 14-day mean of 2.0 (sd 1.4, floor): z = 17.7");
    }

    #[test]
    fn days_before_the_first_mention_are_no_baseline_and_today_cannot_dip() {
        // 60 a day for 14 days, then 0: a dip, unless the day is not over yet.
        let mut points: Vec<TrendPoint> = (1..=14).map(|d| point(d, 60)).collect();
        points.push(point(15, 0));
        let over = with_alerts(&AlertRule::default(), &points, day(15), Some(day(1)), day(16));
        assert_eq!(over[0].alerts[0].kind, AlertKind::VolumeDip);
        let today = with_alerts(&AlertRule::default(), &points, day(15), Some(day(1)), day(15));
        assert!(today[0].partial && today[0].alerts.is_empty(), "{:?}", today[0].alerts);
        // A brand first mentioned on the 12th has a 3-day baseline: no alert at all.
        let new = with_alerts(&AlertRule::default(), &points, day(15), Some(day(12)), day(16));
        assert!(new[0].alerts.is_empty());
    }

    #[test]
    fn ranges_default_to_fourteen_days_and_refuse_nonsense() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let r = Range::resolve(None, None, day(20), berlin).unwrap();
        assert_eq!((r.from, r.to, r.days()), (day(7), day(20), 14));
        assert_eq!(r.start.to_rfc3339(), "2026-06-06T22:00:00+00:00", "Berlin midnight");
        let e = Range::resolve(Some(day(21)), Some(day(20)), day(20), berlin).unwrap_err();
        assert!(e.to_string().starts_with("from:"), "{e}");
        let long =
            Range::resolve(Some(day(1) - chrono::Duration::days(400)), None, day(20), berlin).unwrap_err();
        assert!(long.to_string().contains("366"), "{long}");
    }
}
