//! Inline SVG charts: no script, no external reference, no library.
//!
//! Each chart is an `<svg role="img">` with an `aria-label` summing it up,
//! a `<title>` tooltip on every bar and marker, axis labels, and data labels
//! where they fit; its legend is HTML next to it (see [`legend`]), so it stays
//! readable when a phone scales the drawing down. The y axes start at zero, so
//! a small wobble never looks like a cliff. Colours are the digest's.

use std::fmt::Write as _;

use super::data::{DayRow, Share};
use super::pages::escape;
use crate::store::AspectSummary;

/// Positive (the digest's green).
pub const POSITIVE: &str = "#1a7f37";
/// Neutral (the digest's grey).
pub const NEUTRAL: &str = "#57606a";
/// Negative (the digest's red).
pub const NEGATIVE: &str = "#cf222e";
/// Not scored.
pub const UNSCORED: &str = "#d0d7de";
/// The selected brand.
pub const SELECTED: &str = "#0969da";
/// Another own brand.
pub const OWN: &str = "#54aeff";
/// A competitor.
pub const COMPETITOR: &str = "#8c959f";
/// Alert markers (the digest's amber).
pub const ALERT: &str = "#9a6700";
const AXIS: &str = "#d0d7de";
const UNSCORED_TEXT: &str = "#8c959f";
const GRID: &str = "#eaeef2";
const TEXT: &str = "#424a53";

/// Which drawing: the page carries both and CSS shows one, because an SVG
/// scales its text with its width and one drawing cannot be readable both
/// 1200 and 340 pixels wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// For a laptop screen.
    Wide,
    /// For a phone (under 700 px).
    Narrow,
}

/// An HTML legend: a swatch and a label per entry.
pub fn legend(entries: &[(&str, &str)]) -> String {
    let mut out = String::from(r#"<ul class="legend">"#);
    for (colour, label) in entries {
        let _ =
            write!(out, r#"<li><span class="sw" style="background:{colour}"></span>{}</li>"#, escape(label));
    }
    out.push_str("</ul>");
    out
}

/// The legend of [`day_bars`].
pub fn day_legend(with_alerts: bool) -> String {
    let mut entries =
        vec![(POSITIVE, "Positive"), (NEUTRAL, "Neutral"), (NEGATIVE, "Negative"), (UNSCORED, "Not scored")];
    if with_alerts {
        entries.push((ALERT, "▼ Alert (hover for the reason)"));
    }
    legend(&entries)
}

/// A step of 1, 2 or 5 times a power of ten giving about `ticks` gridlines up to `max`.
fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Mentions per day as bars stacked by sentiment (negative at the bottom),
/// the count over each bar when the days fit, and an amber marker over each
/// day with an alert, its reason in the tooltip.
pub fn day_bars(days: &[DayRow], aria_label: &str, size: Size) -> String {
    let (width, height, left, font, x_labels, label_days) = match size {
        Size::Wide => (760.0, 270.0, 44.0, 12, 12, 31),
        Size::Narrow => (360.0, 240.0, 30.0, 11, 5, 14),
    };
    const RIGHT: f64 = 10.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 44.0;
    let plot_w = width - left - RIGHT;
    let plot_h = height - TOP - BOTTOM;
    let base = TOP + plot_h;
    let max = days.iter().map(|d| d.mentions).max().unwrap_or(0).max(1) as f64;
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil() * step;
    let y = |v: f64| base - v / top * plot_h;
    let n = days.len().max(1);
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.72).max(1.0);
    let labels_fit = days.len() <= label_days;

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {width} {height}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg" font-size="{font}" fill="{TEXT}"><title>{label}</title>"#,
        label = escape(aria_label)
    );
    let _ = write!(out, r#"<text x="4" y="14" font-weight="600">Mentions per day</text>"#);
    // Gridlines and y labels.
    let mut v = 0.0;
    while v <= top + 0.5 {
        let gy = y(v);
        let _ = write!(
            out,
            r#"<line x1="{left}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="{}" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
            width - RIGHT,
            if v == 0.0 { AXIS } else { GRID },
            left - 6.0,
            gy + 4.0,
        );
        v += step;
    }
    let every = n.div_ceil(x_labels);
    for (i, d) in days.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar_w) / 2.0;
        let cx = x + bar_w / 2.0;
        let bar_top = y(d.mentions as f64);
        if !d.alerts.is_empty() {
            // A band behind the day, so a marked day stands out even at a glance.
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{TOP}" width="{slot:.1}" height="{plot_h:.1}" fill="{ALERT}" fill-opacity="0.10"/>"#,
                left + i as f64 * slot
            );
        }
        let mut tooltip = format!("{}: {} mentions", d.day, d.mentions);
        if d.mentions > 0 {
            let _ = write!(
                tooltip,
                " ({} positive, {} neutral, {} negative, {} not scored)",
                d.positive,
                d.neutral,
                d.negative,
                d.unscored()
            );
        }
        if d.partial {
            tooltip.push_str(", so far");
        }
        let _ = write!(out, r#"<g class="day" data-day="{}"><title>{}</title>"#, d.day, escape(&tooltip));
        let mut level = 0.0;
        for (count, colour) in
            [(d.negative, NEGATIVE), (d.neutral, NEUTRAL), (d.positive, POSITIVE), (d.unscored(), UNSCORED)]
        {
            if count <= 0 {
                continue;
            }
            let y1 = y(level + count as f64);
            let h = y(level) - y1;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y1:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{colour}"{}/>"#,
                if d.partial { r#" fill-opacity="0.6""# } else { "" }
            );
            level += count as f64;
        }
        // A transparent full-height target so the tooltip works over short bars too.
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{TOP}" width="{slot:.1}" height="{plot_h:.1}" fill="transparent"/></g>"#,
            left + i as f64 * slot
        );
        if labels_fit && d.mentions > 0 {
            let _ = write!(
                out,
                r#"<text class="dl" x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="{}">{}</text>"#,
                bar_top - 4.0,
                font - 1,
                d.mentions
            );
        }
        if !d.alerts.is_empty() {
            let tip = bar_top - if labels_fit { 18.0 } else { 4.0 };
            let reasons: Vec<String> =
                d.alerts.iter().map(|a| format!("{}: {}", a.kind.label(), a.reason)).collect();
            let _ = write!(
                out,
                r#"<g class="alert-marker" data-day="{}"><title>{}: {}</title><path d="M{:.1} {:.1} L{:.1} {:.1} L{:.1} {:.1} Z" fill="{ALERT}"/></g>"#,
                d.day,
                d.day,
                escape(&reasons.join("; ")),
                cx - 6.0,
                tip - 11.0,
                cx + 6.0,
                tip - 11.0,
                cx,
                tip,
            );
        }
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                base + 16.0,
                d.day.format("%b %-d")
            );
        }
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">Day</text></svg>"#,
        width - RIGHT,
        height - 6.0
    );
    out
}

/// Share of voice as horizontal bars on a 0–100 % axis, one per brand, the
/// selected brand highlighted, share and mentions printed after each bar.
pub fn share_bars(shares: &[Share], selected: &str, size: Size) -> String {
    let (width, label_w, value_w, name_chars): (f64, f64, f64, usize) = match size {
        Size::Wide => (560.0, 130.0, 110.0, 18),
        Size::Narrow => (340.0, 84.0, 96.0, 10),
    };
    const ROW: f64 = 30.0;
    const TOP: f64 = 8.0;
    let h = TOP + ROW * shares.len().max(1) as f64 + 26.0;
    let bar_w = width - label_w - value_w;
    let base = TOP + ROW * shares.len().max(1) as f64;
    let summary: Vec<String> =
        shares.iter().map(|s| format!("{} {:.1}%", s.brand, s.share * 100.0)).collect();
    let label = format!("Share of voice: {}", summary.join(", "));
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {width} {h}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg" font-size="12" fill="{TEXT}"><title>{label}</title>"#,
        label = escape(&label)
    );
    for pct in [0, 25, 50, 75, 100] {
        let x = label_w + bar_w * f64::from(pct) / 100.0;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{base:.1}" stroke="{}" stroke-width="1"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{pct}%</text>"#,
            if pct == 0 { AXIS } else { GRID },
            base + 16.0
        );
    }
    for (i, s) in shares.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let colour = if s.brand.eq_ignore_ascii_case(selected) {
            SELECTED
        } else if s.competitor {
            COMPETITOR
        } else {
            OWN
        };
        let w = (bar_w * s.share).max(if s.mentions > 0 { 1.0 } else { 0.0 });
        let name: String = if s.brand.chars().count() > name_chars {
            s.brand.chars().take(name_chars - 1).chain(['…']).collect()
        } else {
            s.brand.clone()
        };
        let _ = write!(
            out,
            r#"<g class="share" data-brand="{brand}"><title>{brand}{kind}: {mentions} mentions, {pct:.1}% of all watched brands</title><text x="{:.1}" y="{:.1}" text-anchor="end"{weight}>{name}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{colour}" rx="2"/><text class="dl" x="{:.1}" y="{:.1}">{pct:.1}% ({mentions})</text></g>"#,
            label_w - 8.0,
            y + ROW / 2.0 + 4.0,
            y + 6.0,
            ROW - 12.0,
            label_w + w + 6.0,
            y + ROW / 2.0 + 4.0,
            brand = escape(&s.brand),
            kind = if s.competitor { " (competitor)" } else { "" },
            mentions = s.mentions,
            pct = s.share * 100.0,
            weight = if s.brand.eq_ignore_ascii_case(selected) { r#" font-weight="600""# } else { "" },
            name = escape(&name),
        );
    }
    out.push_str("</svg>");
    out
}

/// How each aspect of a product was talked about: a bar per aspect stacked
/// positive, neutral, negative, with the counts after it.
pub fn aspect_bars(aspects: &[AspectSummary], product: &str, size: Size) -> String {
    let (width, label_w, value_w): (f64, f64, f64) = match size {
        Size::Wide => (560.0, 100.0, 96.0),
        Size::Narrow => (340.0, 84.0, 80.0),
    };
    const ROW: f64 = 28.0;
    const TOP: f64 = 6.0;
    let rows = aspects.len().max(1) as f64;
    let base = TOP + ROW * rows;
    let h = base + 26.0;
    let bar_w = width - label_w - value_w;
    let max = aspects.iter().map(|a| a.positive + a.neutral + a.negative).max().unwrap_or(0).max(1) as f64;
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil() * step;
    let label =
        format!("Aspects of {product}: {} aspects, positive, neutral and negative mentions", aspects.len());
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {width} {h}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg" font-size="12" fill="{TEXT}"><title>{label}</title>"#,
        label = escape(&label)
    );
    let mut v = 0.0;
    while v <= top + 0.5 {
        let x = label_w + v / top * bar_w;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{base:.1}" stroke="{}" stroke-width="1"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{v}</text>"#,
            if v == 0.0 { AXIS } else { GRID },
            base + 16.0
        );
        v += step;
    }
    if aspects.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{label_w}" y="{:.1}" dx="8">No aspects discussed.</text>"#,
            TOP + ROW / 2.0 + 4.0
        );
    }
    for (i, a) in aspects.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let _ = write!(
            out,
            r#"<g class="aspect" data-aspect="{name}"><title>{name}: {} positive, {} neutral, {} negative</title><text x="{:.1}" y="{:.1}" text-anchor="end">{name}</text>"#,
            a.positive,
            a.neutral,
            a.negative,
            label_w - 8.0,
            y + ROW / 2.0 + 4.0,
            name = escape(&a.aspect),
        );
        let mut x = label_w;
        for (count, colour) in [(a.positive, POSITIVE), (a.neutral, NEUTRAL), (a.negative, NEGATIVE)] {
            if count <= 0 {
                continue;
            }
            let w = count as f64 / top * bar_w;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{colour}"/>"#,
                y + 6.0,
                ROW - 12.0
            );
            x += w;
        }
        let _ = write!(
            out,
            r#"<text class="dl" x="{:.1}" y="{:.1}"><tspan fill="{}">+{}</tspan> <tspan fill="{}">{}</tspan> <tspan fill="{}">−{}</tspan></text></g>"#,
            x + 6.0,
            y + ROW / 2.0 + 4.0,
            // A zero is grey, so the eye goes to what was said.
            if a.positive > 0 { POSITIVE } else { UNSCORED_TEXT },
            a.positive,
            if a.neutral > 0 { NEUTRAL } else { UNSCORED_TEXT },
            a.neutral,
            if a.negative > 0 { NEGATIVE } else { UNSCORED_TEXT },
            a.negative
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::rules::{Alert, AlertKind};
    use chrono::NaiveDate;

    fn day(d: u32, mentions: i64, alerts: Vec<Alert>) -> DayRow {
        DayRow {
            day: NaiveDate::from_ymd_opt(2026, 6, d).unwrap(),
            mentions,
            positive: mentions / 2,
            neutral: 0,
            negative: mentions - mentions / 2,
            net: None,
            partial: false,
            alerts,
        }
    }

    #[test]
    fn dashboard_bars_mark_alert_days_with_the_reason_and_escape_text() {
        let alert = Alert {
            kind: AlertKind::VolumeSpike,
            today: 27.0,
            baseline_mean: 2.0,
            baseline_sd: 1.4,
            z: 17.7,
            baseline_days: 14,
            reason: "27 mentions <b>".to_owned(),
        };
        let svg = day_bars(&[day(1, 2, vec![]), day(2, 27, vec![alert])], "Kestrel & <co>", Size::Wide);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#) && svg.contains(r#"aria-label="Kestrel &amp; &lt;co&gt;""#));
        assert_eq!(svg.matches(r#"class="alert-marker""#).count(), 1);
        assert!(svg.contains("2026-06-02: Volume spike: 27 mentions &lt;b&gt;"), "{svg}");
        assert!(svg.contains(">27</text>"), "a data label");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn dashboard_share_bars_label_every_brand() {
        let shares = vec![
            Share { brand: "Kestrel".into(), competitor: false, mentions: 50, share: 0.625 },
            Share { brand: "Orbix".into(), competitor: true, mentions: 20, share: 0.25 },
        ];
        let svg = share_bars(&shares, "kestrel", Size::Narrow);
        assert!(svg.contains("62.5% (50)") && svg.contains("25.0% (20)"), "{svg}");
        assert!(svg.contains(SELECTED) && svg.contains(COMPETITOR));
    }

    #[test]
    fn dashboard_nice_steps() {
        assert_eq!(nice_step(27.0, 4.0), 10.0);
        assert_eq!(nice_step(3.0, 4.0), 1.0);
        assert_eq!(nice_step(180.0, 4.0), 50.0);
    }
}
