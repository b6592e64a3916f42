//! Computing one brand-day's [`Digest`] from stored data.
//!
//! The day is the calendar day in the configured time zone (23 or 25 hours on
//! DST days). Figures read only the active model id's results. Thresholds:
//! a product is "rising" with at least [`RISING_MIN`] mentions that day,
//! ranked by the day against its mean day over the 7 days before; a
//! "problem product" needs at least [`PROBLEM_MIN`] scored mentions, ranked
//! by negative share.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::rules::{self, AlertRule};
use super::{
    AspectCount, DayPoint, Digest, Example, NewName, ProductStat, Products, SCHEMA_VERSION, ShareOfVoice,
    SourceHealth, Volume,
};
use crate::store::{Bucket, Store, StoreError, Subject, TrendQuery};

/// Minimum mentions that day for a product to rank as rising.
pub const RISING_MIN: u64 = 3;
/// Minimum scored mentions that day for a product to rank as a problem.
pub const PROBLEM_MIN: u64 = 3;
/// Rows per product section.
const TOP: usize = 5;
/// Characters of an example's excerpt.
const EXCERPT_CHARS: usize = 280;

/// The brand a digest is for.
#[derive(Debug, Clone)]
pub struct BrandRef {
    /// `brands.id`.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Terms to highlight in example excerpts (the brand's aliases).
    pub aliases: Vec<String>,
}

/// The first instant of `day` in `tz`, as UTC.
pub fn day_start(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let naive = day.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // Midnight skipped by a DST jump: the day starts at the first hour that exists.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map_or(naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Builds the digest of `brand` for `day`.
pub async fn build(
    store: &Store,
    brand: &BrandRef,
    day: NaiveDate,
    tz: chrono_tz::Tz,
    model_id: &str,
    rule: &AlertRule,
) -> Result<Digest, StoreError> {
    let start = day_start(day, tz);
    let end = day_start(day + Duration::days(1), tz);
    let week_before = day_start(day - Duration::days(7), tz);

    // Daily points for the 14 days before and the day itself: baseline, trailing mean, sparkline.
    let history_days = rule.baseline_days.max(14) as i64;
    let history = store
        .trend(&TrendQuery {
            subject: Subject::Brand(brand.id),
            from: day_start(day - Duration::days(history_days), tz),
            to: end,
            bucket: Bucket::Day,
            time_zone: tz.name().to_owned(),
            source_kind: None,
            model_id: model_id.to_owned(),
        })
        .await?;
    let first = store.first_mention(brand.id).await?;
    // Days before the brand was first mentioned are not history (a new brand has none).
    let first_day = first.map(|t| t.with_timezone(&tz).date_naive());
    let (today, before) = history.split_last().map_or((None, &history[..]), |(t, b)| (Some(t), b));
    let known: Vec<&crate::store::TrendPoint> =
        before.iter().filter(|p| first_day.is_some_and(|f| p.bucket.date() >= f)).collect();

    let counts = store.brand_counts(brand.id, model_id, start, end).await?;
    let scored = (counts.positive + counts.neutral + counts.negative) as u64;
    let last7: Vec<&&crate::store::TrendPoint> = known.iter().rev().take(7).collect();
    let trailing_7d_mean = if last7.is_empty() {
        0.0
    } else {
        last7.iter().map(|p| p.mentions as f64).sum::<f64>() / 7.0_f64.min(last7.len() as f64)
    };
    let volume = Volume {
        mentions: counts.mentions as u64,
        positive: counts.positive as u64,
        neutral: counts.neutral as u64,
        negative: counts.negative as u64,
        unscored: (counts.mentions as u64).saturating_sub(scored),
        positive_share: share(counts.positive as u64, scored),
        neutral_share: share(counts.neutral as u64, scored),
        negative_share: share(counts.negative as u64, scored),
        net_sentiment: if scored == 0 {
            0.0
        } else {
            (counts.positive - counts.negative) as f64 / scored as f64
        },
        trailing_7d_mean,
        change_vs_7d: (trailing_7d_mean > 0.0).then(|| counts.mentions as f64 / trailing_7d_mean - 1.0),
    };

    let baseline: Vec<&&crate::store::TrendPoint> =
        known.iter().rev().take(rule.baseline_days).rev().collect();
    let mut alerts = Vec::new();
    let volumes: Vec<u64> = baseline.iter().map(|p| p.mentions as u64).collect();
    if let Some(a) = rules::volume_alert(rule, counts.mentions as u64, &volumes) {
        alerts.push(a);
    }
    let negatives: Vec<(u64, u64)> =
        baseline.iter().map(|p| (p.negative as u64, (p.positive + p.neutral + p.negative) as u64)).collect();
    if let Some(a) = rules::negative_alert(rule, (counts.negative as u64, scored), &negatives) {
        alerts.push(a);
    }

    let volumes = store.brand_volumes(start, end).await?;
    let all: i64 = volumes.iter().map(|v| v.mentions).sum();
    let share_of_voice = volumes
        .into_iter()
        .map(|v| ShareOfVoice {
            share: share(v.mentions as u64, all as u64),
            brand: v.brand,
            competitor: v.competitor,
            mentions: v.mentions as u64,
        })
        .collect();

    let products = product_sections(store, brand.id, model_id, week_before, start, end, 7).await?;

    let new_names = store
        .name_days(brand.id, week_before, start, end, 10)
        .await?
        .into_iter()
        .map(|n| NewName {
            surface: n.surface,
            mentions: n.today as u64,
            previous: n.previous as u64,
            first_seen: n.first_seen,
        })
        .collect();

    let mut examples = Vec::new();
    for label in ["positive", "negative"] {
        for post in store.example_posts(brand.id, model_id, label, start, end, 1).await? {
            let text = match post.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                Some(t) if !post.body.starts_with(t) => format!("{t}: {}", post.body),
                _ => post.body.clone(),
            };
            let (excerpt, highlights) = excerpt(&text, &brand.aliases);
            examples.push(Example {
                sentiment: label.to_owned(),
                source: post.source,
                author: post.author,
                excerpt,
                highlights,
                url: post.url,
                engagement: post.engagement,
            });
        }
    }

    let source_health = store
        .source_days(start, end)
        .await?
        .into_iter()
        .filter_map(|s| {
            let status = if s.runs > 0 && s.failed == s.runs {
                "failed"
            } else if s.runs > 0 && s.items_seen == 0 && s.failed == 0 {
                "empty"
            } else {
                return None;
            };
            Some(SourceHealth {
                source: s.source,
                status: status.to_owned(),
                runs: s.runs as u64,
                error: s.last_error,
            })
        })
        .collect();

    let sparkline = history
        .iter()
        .rev()
        .take(14)
        .rev()
        .map(|p| DayPoint {
            day: p.bucket.date(),
            mentions: p.mentions as u64,
            net_sentiment: p.net_sentiment,
        })
        .collect();
    debug_assert!(today.is_none_or(|t| t.mentions == counts.mentions));

    Ok(Digest {
        schema_version: SCHEMA_VERSION,
        brand: brand.name.clone(),
        day,
        time_zone: tz.name().to_owned(),
        model_id: model_id.to_owned(),
        generated_at: Utc::now(),
        volume,
        alerts,
        share_of_voice,
        products,
        new_names,
        examples,
        source_health,
        sparkline,
    })
}

/// The brand's product sections for `start..end`: most mentioned, rising and
/// problem products, each with its most praised and complained-about aspects.
///
/// The comparison period is `comparison_from..start`, which spans
/// `comparison_periods` periods as long as `start..end` (the digest: one day
/// against the 7 days before, so 7; the dashboard: a range against the equally
/// long range before, so 1). `previous_mean` is the comparison period's mean
/// per such period, and rising ranks by the period against that mean.
pub async fn product_sections(
    store: &Store,
    brand_id: i64,
    model_id: &str,
    comparison_from: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    comparison_periods: u32,
) -> Result<Products, StoreError> {
    let periods = f64::from(comparison_periods.max(1));
    let days = store.product_days(brand_id, model_id, comparison_from, start, end).await?;
    let aspects = store.aspect_days(brand_id, model_id, start, end).await?;
    let stat = |d: &crate::store::ProductDay| {
        let scored = (d.positive + d.neutral + d.negative) as u64;
        let top = |sentiment: &str| -> Vec<AspectCount> {
            aspects
                .iter()
                .filter(|(p, _, s, _)| *p == d.product_id && s == sentiment)
                .take(3)
                .map(|(_, a, _, n)| AspectCount { aspect: a.clone(), count: *n as u64 })
                .collect()
        };
        ProductStat {
            sku: d.sku.clone(),
            name: d.name.clone(),
            mentions: d.mentions as u64,
            previous_mean: d.previous as f64 / periods,
            positive: d.positive as u64,
            neutral: d.neutral as u64,
            negative: d.negative as u64,
            negative_share: share(d.negative as u64, scored),
            net_sentiment: if scored == 0 { 0.0 } else { (d.positive - d.negative) as f64 / scored as f64 },
            praised: top("positive"),
            complaints: top("negative"),
        }
    };
    let today: Vec<&crate::store::ProductDay> = days.iter().filter(|d| d.mentions > 0).collect();
    let mut most: Vec<&crate::store::ProductDay> = today.clone();
    most.sort_by(|a, b| b.mentions.cmp(&a.mentions).then_with(|| a.sku.cmp(&b.sku)));
    let mut rising: Vec<&crate::store::ProductDay> =
        today.iter().copied().filter(|d| d.mentions as u64 >= RISING_MIN).collect();
    // Growth of the period over the mean period before (a product new in the
    // comparison period counts from one mention spread over it: 1/7 for the digest).
    let growth =
        |d: &crate::store::ProductDay| d.mentions as f64 / (d.previous as f64 / periods).max(1.0 / periods);
    rising.sort_by(|a, b| growth(b).total_cmp(&growth(a)).then_with(|| a.sku.cmp(&b.sku)));
    let mut problems: Vec<&crate::store::ProductDay> = today
        .iter()
        .copied()
        .filter(|d| (d.positive + d.neutral + d.negative) as u64 >= PROBLEM_MIN && d.negative > 0)
        .collect();
    let neg_share =
        |d: &crate::store::ProductDay| d.negative as f64 / (d.positive + d.neutral + d.negative) as f64;
    problems.sort_by(|a, b| neg_share(b).total_cmp(&neg_share(a)).then_with(|| b.mentions.cmp(&a.mentions)));
    Ok(Products {
        most_mentioned: most.iter().take(TOP).map(|d| stat(d)).collect(),
        rising: rising.iter().take(TOP).map(|d| stat(d)).collect(),
        problems: problems.iter().take(TOP).map(|d| stat(d)).collect(),
    })
}

/// A window of at most [`EXCERPT_CHARS`] characters around the first alias
/// found in `text`, and the byte ranges of every alias in it.
pub fn excerpt(text: &str, aliases: &[String]) -> (String, Vec<(usize, usize)>) {
    let lower = text.to_lowercase();
    let find_all = |hay: &str, hay_lower: &str| -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        if hay.len() != hay_lower.len() {
            return found;
        }
        for alias in aliases {
            let needle = alias.to_lowercase();
            if needle.is_empty() {
                continue;
            }
            let mut from = 0;
            while let Some(pos) = hay_lower[from..].find(&needle) {
                let (s, e) = (from + pos, from + pos + needle.len());
                found.push((s, e));
                from = e;
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    };
    let all = find_all(text, &lower);
    let first = all.first().map_or(0, |r| r.0);
    // Start a little before the first mention, on a char boundary.
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let first_char = chars.iter().position(|(i, _)| *i >= first).unwrap_or(0);
    let start_char = first_char.saturating_sub(60);
    let end_char = (start_char + EXCERPT_CHARS).min(chars.len());
    let start = chars.get(start_char).map_or(0, |c| c.0);
    let end = chars.get(end_char).map_or(text.len(), |c| c.0);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let offset = out.len();
    out.push_str(text[start..end].trim_end());
    let body_end = out.len();
    if end < text.len() {
        out.push('…');
    }
    let highlights = all
        .into_iter()
        .filter(|(s, e)| *s >= start && *e <= end)
        .map(|(s, e)| (s - start + offset, e - start + offset))
        .filter(|(_, e)| *e <= body_end)
        .collect();
    (out, highlights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_starts_near_the_first_mention_and_highlights_every_alias() {
        let text = format!("{} my Kestrel X200 is great, kestrel support too", "filler ".repeat(30));
        let (excerpt, marks) = excerpt(&text, &["Kestrel".to_owned()]);
        assert!(excerpt.starts_with('…'));
        assert_eq!(marks.len(), 2);
        for (s, e) in marks {
            assert_eq!(excerpt[s..e].to_lowercase(), "kestrel");
        }
    }

    #[test]
    fn day_start_is_local_midnight_across_the_spring_dst_change() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        // CET (UTC+1) at midnight of the DST day; the next midnight is CEST (UTC+2): a 23-hour day.
        let start = day_start(day, berlin);
        let end = day_start(day.succ_opt().unwrap(), berlin);
        assert_eq!(start.to_rfc3339(), "2026-03-28T23:00:00+00:00");
        assert_eq!((end - start).num_hours(), 23);
    }

    #[test]
    fn day_start_follows_the_time_zone() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let hours = (day_start(day + Duration::days(1), berlin) - day_start(day, berlin)).num_hours();
        assert_eq!(hours, 25, "the autumn DST day");
    }
}
