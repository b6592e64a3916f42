//! The spike and dip alert rule.
//!
//! Each alert compares today against a **baseline**: the last
//! `baseline_days` (default 14) days before today, for which the brand
//! already had data (days before its first mention are left out, so a new
//! brand has a short baseline). There is no alert unless the baseline has at
//! least `min_baseline_days` (default 7) days: a brand a few days old has no
//! normal to depart from.
//!
//! **Volume** (mentions per day). Let *m* be the mean and *s* the sample
//! standard deviation of the baseline counts. The deviation used is
//! *sd* = max(*s*, √*m*, 1): a Poisson floor, because counts wobble by about
//! √*m* even when the baseline happened to be flat, and a flat baseline must
//! not turn every small wobble into a 10-sigma event. Then
//! *z* = (today − *m*) / *sd*.
//!
//! - *Volume spike* when *z* ≥ `z` (default 3) **and** today has at least
//!   `min_count` (default 20) mentions, so a quiet brand going from 2 to 9
//!   mentions does not alarm.
//! - *Volume dip* when *z* ≤ −`z` **and** *m* ≥ `min_count`: a quiet brand
//!   cannot dip.
//!
//! **Negative share** (negative / scored mentions). Only baseline days with at
//! least `min_scored_per_day` (default 10) scored mentions count, because a
//! share of 2 of 3 says nothing; there must be at least `min_baseline_days`
//! such days. Let *p̄* be the mean and *s* the sample standard deviation of
//! those days' shares *pᵢ* = negativeᵢ / scoredᵢ, and *n* today's scored
//! count. The deviation used is *sd* = max(*s*, √(*p̄*(1 − *p̄*) / *n*), 0.02):
//! the binomial noise of today's share, and at least 2 percentage points.
//! Then *z* = (today's share − *p̄*) / *sd*.
//!
//! - *Negative spike* when *z* ≥ `z` **and** today has at least `min_count`
//!   scored mentions.
//!
//! Every alert carries the numbers it was decided on and a one-sentence
//! reason quoting them, so the digest says why it flagged.

use serde::Serialize;

/// What an alert flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Far more mentions than usual.
    VolumeSpike,
    /// Far fewer mentions than usual (only for brands that usually have many).
    VolumeDip,
    /// A far larger negative share than usual.
    NegativeSpike,
}

impl AlertKind {
    /// A short human label ("Volume spike").
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::VolumeSpike => "Volume spike",
            AlertKind::VolumeDip => "Volume dip",
            AlertKind::NegativeSpike => "Negative-share spike",
        }
    }
}

/// One alert, with the numbers it was decided on.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// What it flags.
    pub kind: AlertKind,
    /// Today's value: mentions for volume alerts, the negative share (0..=1) for negative ones.
    pub today: f64,
    /// Mean of the baseline (mentions per day, or negative share).
    pub baseline_mean: f64,
    /// The standard deviation `z` was computed with, after its floor.
    pub baseline_sd: f64,
    /// (today − baseline_mean) / baseline_sd.
    pub z: f64,
    /// Baseline days used (for the negative share: the days with enough scored mentions).
    pub baseline_days: usize,
    /// One sentence with the numbers, e.g.
    /// "142 mentions against a 14-day mean of 38.2 (sd 6.1): z = 17.0".
    pub reason: String,
}

/// The rule's thresholds. The defaults are the published rule (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRule {
    /// |z| needed to alert (default 3.0).
    pub z: f64,
    /// Mentions today needed for a volume spike, baseline mean needed for a dip, and scored
    /// mentions today needed for a negative spike (default 20).
    pub min_count: u64,
    /// Baseline days needed before anything alerts (default 7).
    pub min_baseline_days: usize,
    /// Days before today the baseline reaches back (default 14).
    pub baseline_days: usize,
    /// Scored mentions a day needs to count toward the negative-share baseline (default 10).
    pub min_scored_per_day: u64,
}

impl Default for AlertRule {
    fn default() -> Self {
        AlertRule { z: 3.0, min_count: 20, min_baseline_days: 7, baseline_days: 14, min_scored_per_day: 10 }
    }
}

/// The volume rule: `today`'s mentions against `baseline`, the previous days' mention counts,
/// oldest first (only the last `rule.baseline_days` are used). Days before the brand's first
/// mention must not be in the slice, so that a new brand has a short baseline and no alert.
pub fn volume_alert(rule: &AlertRule, today: u64, baseline: &[u64]) -> Option<Alert> {
    let window = last(baseline, rule.baseline_days);
    if window.is_empty() || window.len() < rule.min_baseline_days {
        return None;
    }
    let values: Vec<f64> = window.iter().map(|&c| c as f64).collect();
    let (mean, s) = mean_sd(&values);
    let sd = s.max(mean.sqrt()).max(1.0);
    let today_f = today as f64;
    let z = (today_f - mean) / sd;
    let kind = if z >= rule.z && today >= rule.min_count {
        AlertKind::VolumeSpike
    } else if z <= -rule.z && mean >= rule.min_count as f64 {
        AlertKind::VolumeDip
    } else {
        return None;
    };
    let noun = if today == 1 { "mention" } else { "mentions" };
    let reason = format!(
        "{today} {noun} against a {}-day mean of {mean:.1} ({}): z = {z:.1}",
        window.len(),
        sd_text(format!("{sd:.1}"), s < sd),
    );
    Some(Alert {
        kind,
        today: today_f,
        baseline_mean: mean,
        baseline_sd: sd,
        z,
        baseline_days: window.len(),
        reason,
    })
}

/// The negative-share rule: `today` = (negative, scored) against `baseline`, the previous days'
/// (negative, scored), oldest first (the last `rule.baseline_days` are looked at, and of those
/// only the days with at least `rule.min_scored_per_day` scored count). Today needs at least
/// `rule.min_count` scored mentions.
pub fn negative_alert(rule: &AlertRule, today: (u64, u64), baseline: &[(u64, u64)]) -> Option<Alert> {
    let (negative, scored) = today;
    if scored == 0 || scored < rule.min_count {
        return None;
    }
    let shares: Vec<f64> = last(baseline, rule.baseline_days)
        .iter()
        .filter(|&&(_, n)| n > 0 && n >= rule.min_scored_per_day)
        // A caller's miscount (negative > scored) must not push a share past 1.
        .map(|&(neg, n)| (neg.min(n) as f64) / n as f64)
        .collect();
    if shares.is_empty() || shares.len() < rule.min_baseline_days {
        return None;
    }
    let (mean, s) = mean_sd(&shares);
    let binomial = (mean * (1.0 - mean) / scored as f64).sqrt();
    let sd = s.max(binomial).max(0.02);
    let share = negative.min(scored) as f64 / scored as f64;
    let z = (share - mean) / sd;
    if z < rule.z {
        return None;
    }
    let reason = format!(
        "negative share {:.1}% ({} of {scored} scored) against a {}-day mean of {:.1}% ({}): z = {z:.1}",
        share * 100.0,
        negative.min(scored),
        shares.len(),
        mean * 100.0,
        sd_text(format!("{:.1} points", sd * 100.0), s < sd),
    );
    Some(Alert {
        kind: AlertKind::NegativeSpike,
        today: share,
        baseline_mean: mean,
        baseline_sd: sd,
        z,
        baseline_days: shares.len(),
        reason,
    })
}

/// The last `n` items of `items` (all when there are fewer).
fn last<T>(items: &[T], n: usize) -> &[T] {
    &items[items.len().saturating_sub(n)..]
}

/// Mean and sample standard deviation (n − 1); the deviation of one value is 0.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// "sd 6.1", or "sd 6.3, floor" when the floor replaced the observed deviation: a reader
/// comparing the numbers with the raw counts would otherwise find the sd wrong.
fn sd_text(sd: String, floored: bool) -> String {
    if floored { format!("sd {sd}, floor") } else { format!("sd {sd}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> AlertRule {
        AlertRule::default()
    }

    #[test]
    fn defaults_are_the_published_rule() {
        let r = rule();
        assert_eq!(r.z, 3.0);
        assert_eq!(r.min_count, 20);
        assert_eq!(r.min_baseline_days, 7);
        assert_eq!(r.baseline_days, 14);
        assert_eq!(r.min_scored_per_day, 10);
    }

    #[test]
    fn volume_spike_with_hand_computed_z() {
        // 10, 30 alternating: mean 20, sample variance 14 * 100 / 13, above the Poisson floor.
        let baseline: Vec<u64> = (0..14).map(|i| if i % 2 == 0 { 10 } else { 30 }).collect();
        let a = volume_alert(&rule(), 60, &baseline).unwrap();
        assert_eq!(a.kind, AlertKind::VolumeSpike);
        assert!((a.baseline_mean - 20.0).abs() < 1e-9);
        assert!((a.baseline_sd - 10.377_490_433_255_4).abs() < 1e-6, "{}", a.baseline_sd);
        assert!((a.z - 3.854_496_446_637_726).abs() < 1e-6, "{}", a.z);
        assert_eq!(a.baseline_days, 14);
        assert_eq!(a.today, 60.0);
        assert_eq!(a.reason, "60 mentions against a 14-day mean of 20.0 (sd 10.4): z = 3.9");
        // Just under the threshold: 20 + 2.9 sd.
        assert!(volume_alert(&rule(), 50, &baseline).is_none());
    }

    #[test]
    fn only_the_last_baseline_days_count() {
        // A huge old day beyond the 14-day window must not inflate the baseline.
        let mut baseline = vec![10_000];
        baseline.extend([40u64; 14]);
        let a = volume_alert(&rule(), 80, &baseline).unwrap();
        assert_eq!(a.baseline_days, 14);
        assert!((a.baseline_mean - 40.0).abs() < 1e-9);
    }

    #[test]
    fn volume_dip() {
        // 55, 65 alternating: s = 5.19 < sqrt(60) = 7.75, so the Poisson floor is used.
        let baseline: Vec<u64> = (0..14).map(|i| if i % 2 == 0 { 55 } else { 65 }).collect();
        let a = volume_alert(&rule(), 20, &baseline).unwrap();
        assert_eq!(a.kind, AlertKind::VolumeDip);
        assert!((a.baseline_sd - 60f64.sqrt()).abs() < 1e-9);
        assert!((a.z - (-5.163_977_794_943_2)).abs() < 1e-6, "{}", a.z);
        assert_eq!(a.reason, "20 mentions against a 14-day mean of 60.0 (sd 7.7, floor): z = -5.2");
        // A small drop is no dip.
        assert!(volume_alert(&rule(), 45, &baseline).is_none());
    }

    #[test]
    fn quiet_brand_cannot_dip() {
        // Mean 10 < min_count: zero mentions (z = -3.16) is no dip.
        let a = volume_alert(&rule(), 0, &[10; 14]);
        assert!(a.is_none(), "{a:?}");
    }

    #[test]
    fn quiet_brand_does_not_alarm() {
        let baseline = [0, 1, 3, 2, 0, 1, 2, 3, 1, 0, 2, 1, 3, 2];
        // z is large (9 against a mean of 1.5), but 9 < min_count.
        assert!(volume_alert(&rule(), 9, &baseline).is_none());
        assert!(volume_alert(&rule(), 0, &baseline).is_none());
    }

    #[test]
    fn new_brand_has_no_baseline() {
        assert!(volume_alert(&rule(), 500, &[3, 5, 4]).is_none());
        assert!(volume_alert(&rule(), 500, &[]).is_none());
        // Seven days are enough.
        assert!(volume_alert(&rule(), 500, &[3, 5, 4, 4, 3, 5, 4]).is_some());
    }

    #[test]
    fn flat_baseline_uses_the_poisson_floor() {
        let baseline = [40; 14];
        // sd = sqrt(40) = 6.32: 45 is z = 0.79.
        assert!(volume_alert(&rule(), 45, &baseline).is_none());
        let a = volume_alert(&rule(), 80, &baseline).unwrap();
        assert_eq!(a.kind, AlertKind::VolumeSpike);
        // z = 40 / sqrt(40) = sqrt(40).
        assert!((a.z - 6.324_555_320_336_759).abs() < 1e-6, "{}", a.z);
        assert!(a.reason.contains("80 mentions"), "{}", a.reason);
        assert!(a.reason.contains("14-day mean of 40.0"), "{}", a.reason);
        assert!(a.reason.contains("sd 6.3, floor"), "{}", a.reason);
        assert!(a.reason.contains("z = 6.3"), "{}", a.reason);
    }

    #[test]
    fn floor_of_one_for_tiny_means() {
        // Mean 0, so sqrt(m) = 0 and s = 0: the floor of 1 keeps z finite.
        let a = volume_alert(&rule(), 25, &[0; 10]).unwrap();
        assert_eq!(a.baseline_sd, 1.0);
        assert_eq!(a.z, 25.0);
        assert!(a.z.is_finite());
    }

    /// 10 and 14 negative of 100 scored, alternating: shares 0.10 / 0.14.
    fn negative_baseline() -> Vec<(u64, u64)> {
        (0..14).map(|i| if i % 2 == 0 { (10, 100) } else { (14, 100) }).collect()
    }

    #[test]
    fn negative_spike_with_hand_computed_z() {
        let a = negative_alert(&rule(), (24, 80), &negative_baseline()).unwrap();
        assert_eq!(a.kind, AlertKind::NegativeSpike);
        assert!((a.today - 0.30).abs() < 1e-12);
        assert!((a.baseline_mean - 0.12).abs() < 1e-12);
        // s = 0.0208 < sqrt(0.12 * 0.88 / 80) = 0.036332, the binomial floor.
        assert!((a.baseline_sd - 0.036_331_804_249_169_9).abs() < 1e-6, "{}", a.baseline_sd);
        assert!((a.z - 4.954_336_943_068_6).abs() < 1e-6, "{}", a.z);
        assert_eq!(a.baseline_days, 14);
        assert_eq!(
            a.reason,
            "negative share 30.0% (24 of 80 scored) against a 14-day mean of 12.0% (sd 3.6 points, floor): z = 5.0"
        );
    }

    #[test]
    fn negative_share_non_alarms() {
        let baseline = negative_baseline();
        // A normal day.
        assert!(negative_alert(&rule(), (13, 100), &baseline).is_none());
        // Too few scored today, however negative.
        assert!(negative_alert(&rule(), (15, 15), &baseline).is_none());
        assert!(negative_alert(&rule(), (0, 0), &baseline).is_none());
        // Too few qualifying baseline days: only 5 have >= 10 scored.
        let thin: Vec<(u64, u64)> = (0..14).map(|i| if i < 5 { (10, 100) } else { (1, 9) }).collect();
        assert!(negative_alert(&rule(), (60, 80), &thin).is_none());
        // A new brand.
        assert!(negative_alert(&rule(), (60, 80), &baseline[..3]).is_none());
    }

    #[test]
    fn thin_days_do_not_count_toward_the_negative_baseline() {
        // Days with 5 of 5 negative would raise the mean to ~0.4 if they counted.
        let mut baseline = negative_baseline();
        baseline.extend([(5, 5); 3]);
        let a = negative_alert(&rule(), (24, 80), &baseline).unwrap();
        // Only the last 14 days are looked at; the 3 thin ones are dropped, leaving 11.
        assert_eq!(a.baseline_days, 11);
        assert!(a.baseline_mean < 0.13, "{}", a.baseline_mean);
    }

    #[test]
    fn negative_floor_of_two_points() {
        // Never negative before, large today: binomial floor is 0 (p = 0), observed s = 0.
        let baseline = [(0u64, 50u64); 14];
        // 2 of 40 is z = 0.05 / 0.02 = 2.5: no alert; 4 of 40 is z = 5.
        assert!(negative_alert(&rule(), (2, 40), &baseline).is_none());
        let a = negative_alert(&rule(), (4, 40), &baseline).unwrap();
        assert_eq!(a.baseline_sd, 0.02);
        assert!((a.z - 5.0).abs() < 1e-9, "{}", a.z);
    }
}
