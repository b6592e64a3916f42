//! The digest rendered three ways: Markdown, email-ready HTML and JSON.
//!
//! Every text that comes from data (post excerpts, authors, source errors,
//! product and brand names) is untrusted: user posts can contain anything.
//! HTML escapes `& < > " '`; Markdown backslash-escapes the characters that
//! would start formatting or break a table, and folds line breaks into spaces.
//! Only `http`/`https` URLs become links; anything else is shown as text.
//!
//! The HTML is written for mail clients, which ignore most of CSS: layout is
//! tables, every style is inline, there are no scripts, external images or
//! web fonts, and the page is at most 640 px wide. Gmail and Outlook drop
//! inline SVG, so the sparkline's numbers are printed under it as well.
//! Lines are kept short (a break after each row and cell) because SMTP caps a
//! line at 998 bytes and a mailer sending 8bit would otherwise have to fold it.
//!
//! Sections always render, with a short "none" line when empty, so a reader
//! can tell "nothing happened" from "the section is missing".

use std::fmt::Write as _;

use super::rules::Alert;
use super::{AspectCount, DayPoint, Digest, Example, NewName, ProductStat, ShareOfVoice};
use crate::text::escape;

/// The system font stack: web fonts would need a fetch that mail clients block.
const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
/// Colours (positive green, negative red, neutral grey, muted text, rules).
const GREEN: &str = "#1a7f37";
const RED: &str = "#cf222e";
const GREY: &str = "#57606a";
const MUTED: &str = "#6e7781";
const BORDER: &str = "#d0d7de";
const BLUE: &str = "#0969da";
const AMBER: &str = "#9a6700";

/// The digest as Markdown (GitHub-flavoured: tables).
pub fn markdown(d: &Digest) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md_escape(&title(d)));

    // Headline numbers.
    let v = &d.volume;
    let _ =
        writeln!(out, "- **Mentions:** {} ({})", v.mentions, change_text(v.change_vs_7d, v.trailing_7d_mean));
    let _ = writeln!(out, "- **Sentiment:** {}", shares_text(d));
    let _ = writeln!(out, "- **Net sentiment:** {}\n", net_text(d));

    out.push_str("## Alerts\n\n");
    if d.alerts.is_empty() {
        out.push_str("No alerts.\n\n");
    } else {
        for a in &d.alerts {
            let _ = writeln!(out, "- **{}:** {}", a.kind.label(), md_escape(&a.reason));
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## {}\n", sparkline_heading(&d.sparkline));
    if d.sparkline.is_empty() {
        out.push_str("No history.\n\n");
    } else {
        let _ = writeln!(out, "`{}`\n", block_sparkline(&d.sparkline));
        let _ = writeln!(out, "{}\n", md_escape(&sparkline_numbers(&d.sparkline)));
    }

    out.push_str("## Share of voice\n\n");
    if d.share_of_voice.is_empty() {
        out.push_str("No share of voice (no brands watched).\n\n");
    } else {
        out.push_str("| Brand | Mentions | Share |\n|---|---:|---:|\n");
        for s in &d.share_of_voice {
            let _ = writeln!(out, "| {} | {} | {} |", md_brand(d, s), s.mentions, pct(s.share));
        }
        out.push('\n');
    }

    out.push_str("## Products\n\n");
    for section in ProductSection::ALL {
        let _ = writeln!(out, "### {}\n", section.title());
        let items = section.items(d);
        if items.is_empty() {
            let _ = writeln!(out, "{}\n", section.none());
            continue;
        }
        let _ = writeln!(
            out,
            "| Product | Mentions | Net sentiment | Praised | Complaints |\n|---|---:|---:|---|---|"
        );
        for p in items {
            let _ = writeln!(
                out,
                "| {} ({}) | {} | {} | {} | {} |",
                md_escape(&p.name),
                md_escape(&p.sku),
                md_escape(&section.mentions_text(p)),
                md_escape(&section.net_text(p)),
                md_escape(&aspects_text(&p.praised)),
                md_escape(&aspects_text(&p.complaints)),
            );
        }
        out.push('\n');
    }

    out.push_str("## New product names\n\n");
    if d.new_names.is_empty() {
        out.push_str("No new names.\n\n");
    } else {
        out.push_str("| Name | Mentions | Previous 7 days | First seen |\n|---|---:|---:|---|\n");
        for n in &d.new_names {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                md_escape(&n.surface),
                n.mentions,
                n.previous,
                first_seen(n)
            );
        }
        out.push('\n');
    }

    out.push_str("## Example mentions\n\n");
    if d.examples.is_empty() {
        out.push_str("No examples.\n\n");
    } else {
        for e in &d.examples {
            let _ = writeln!(
                out,
                "- **{}** · {} · {} · engagement {}",
                md_escape(&sentiment_label(&e.sentiment)),
                md_escape(&e.source),
                md_escape(author(e)),
                e.engagement
            );
            let _ = writeln!(out, "  > {}", md_block_start(md_highlighted(&e.excerpt, &e.highlights)));
            if let Some(url) = e.url.as_deref() {
                match md_url(url) {
                    Some(href) => {
                        let _ = writeln!(out, "  >\n  > [View post]({href})");
                    }
                    None => {
                        let _ = writeln!(out, "  >\n  > Link (not http/https): {}", md_escape(url));
                    }
                }
            }
        }
        out.push('\n');
    }

    out.push_str("## Source health\n\n");
    if d.source_health.is_empty() {
        out.push_str("All sources healthy.\n\n");
    } else {
        out.push_str("| Source | Status | Runs | Error |\n|---|---|---:|---|\n");
        for s in &d.source_health {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                md_escape(&s.source),
                md_escape(&s.status),
                s.runs,
                md_escape(s.error.as_deref().unwrap_or("—"))
            );
        }
        out.push('\n');
    }

    let _ = writeln!(out, "---\n\n{}", md_escape(&footer(d)));
    out
}

/// The digest as a complete, email-ready HTML document.
pub fn html(d: &Digest) -> String {
    let mut body = String::new();

    // Title.
    let _ = writeln!(
        body,
        r#"<tr><td style="padding:24px 24px 8px 24px;"><h1 style="margin:0;font-size:20px;line-height:28px;font-weight:600;color:#1f2328;">{}</h1></td></tr>"#,
        escape(&title(d))
    );

    // Headline numbers as one table row: floats and flexbox are unreliable in mail clients.
    let v = &d.volume;
    let scored = v.positive + v.neutral + v.negative;
    let (pos, neu, neg) = if scored == 0 {
        ("n/a".to_owned(), "n/a".to_owned(), "n/a".to_owned())
    } else {
        (pct(v.positive_share), pct(v.neutral_share), pct(v.negative_share))
    };
    let net_colour = if scored == 0 { GREY } else { sign_colour(v.net_sentiment) };
    let cells = [
        ("Mentions", v.mentions.to_string(), "#1f2328"),
        ("vs 7-day mean", change_short(v.change_vs_7d), GREY),
        ("Positive", pos, GREEN),
        ("Neutral", neu, GREY),
        ("Negative", neg, RED),
        ("Net sentiment", net_text(d), net_colour),
    ];
    body.push_str(r#"<tr><td style="padding:8px 24px 16px 24px;"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;"><tr>"#);
    for (label, value, colour) in cells {
        let _ = writeln!(
            body,
            r#"<td valign="top" style="padding:8px 4px;border:1px solid {BORDER};text-align:center;"><div style="font-size:18px;line-height:24px;font-weight:600;color:{colour};">{}</div><div style="font-size:11px;line-height:16px;color:{MUTED};">{}</div></td>"#,
            escape(&value),
            escape(label)
        );
    }
    body.push_str("</tr></table>");
    let _ = write!(
        body,
        r#"<p style="margin:8px 0 0 0;font-size:12px;line-height:18px;color:{MUTED};">{}. {} scored, {} not scored.</p>"#,
        escape(&match v.change_vs_7d {
            Some(c) if c.is_finite() => change_text(Some(c), v.trailing_7d_mean),
            _ => "No 7-day history to compare with".to_owned(),
        }),
        scored,
        v.unscored,
    );
    body.push_str("</td></tr>\n");

    // Alerts.
    section_heading(&mut body, "Alerts");
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    if d.alerts.is_empty() {
        none_line(&mut body, "No alerts.");
    } else {
        for a in &d.alerts {
            html_alert(&mut body, a);
        }
    }
    body.push_str("</td></tr>\n");

    // Sparkline.
    section_heading(&mut body, &sparkline_heading(&d.sparkline));
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    if d.sparkline.is_empty() {
        none_line(&mut body, "No history.");
    } else {
        body.push_str(&sparkline_svg(&d.sparkline, 560, 60));
        let _ = write!(
            body,
            r#"<p style="margin:4px 0 0 0;font-size:11px;line-height:16px;color:{MUTED};">{}</p>"#,
            escape(&sparkline_numbers(&d.sparkline))
        );
    }
    body.push_str("</td></tr>\n");

    // Share of voice.
    section_heading(&mut body, "Share of voice");
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    if d.share_of_voice.is_empty() {
        none_line(&mut body, "No share of voice (no brands watched).");
    } else {
        table_start(&mut body, &[("Brand", "left"), ("Mentions", "right"), ("Share", "right")]);
        for s in &d.share_of_voice {
            let name = if s.competitor {
                format!(
                    r#"{} <span style="color:{MUTED};font-size:11px;">competitor</span>"#,
                    escape(&s.brand)
                )
            } else if s.brand == d.brand {
                format!("<strong>{}</strong>", escape(&s.brand))
            } else {
                escape(&s.brand)
            };
            table_row(
                &mut body,
                &[(name, "left"), (s.mentions.to_string(), "right"), (pct(s.share), "right")],
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</td></tr>\n");

    // Products.
    section_heading(&mut body, "Products");
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    for section in ProductSection::ALL {
        let _ = write!(
            body,
            r#"<h3 style="margin:12px 0 6px 0;font-size:14px;line-height:20px;font-weight:600;color:#1f2328;">{}</h3>"#,
            escape(section.title())
        );
        let items = section.items(d);
        if items.is_empty() {
            none_line(&mut body, section.none());
            continue;
        }
        table_start(
            &mut body,
            &[
                ("Product", "left"),
                ("Mentions", "right"),
                ("Net", "right"),
                ("Praised", "left"),
                ("Complaints", "left"),
            ],
        );
        for p in items {
            let product = format!(
                r#"{}<br><span style="color:{MUTED};font-size:11px;">{}</span>"#,
                escape(&p.name),
                escape(&p.sku)
            );
            let net = format!(
                r#"<span style="color:{};">{}</span>"#,
                sign_colour(p.net_sentiment),
                escape(&section.net_text(p))
            );
            table_row(
                &mut body,
                &[
                    (product, "left"),
                    (escape(&section.mentions_text(p)), "right"),
                    (net, "right"),
                    (
                        format!(
                            r#"<span style="color:{GREEN};">{}</span>"#,
                            escape(&aspects_text(&p.praised))
                        ),
                        "left",
                    ),
                    (
                        format!(
                            r#"<span style="color:{RED};">{}</span>"#,
                            escape(&aspects_text(&p.complaints))
                        ),
                        "left",
                    ),
                ],
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</td></tr>\n");

    // New names.
    section_heading(&mut body, "New product names");
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    if d.new_names.is_empty() {
        none_line(&mut body, "No new names.");
    } else {
        table_start(
            &mut body,
            &[("Name", "left"), ("Mentions", "right"), ("Previous 7 days", "right"), ("First seen", "left")],
        );
        for n in &d.new_names {
            table_row(
                &mut body,
                &[
                    (escape(&n.surface), "left"),
                    (n.mentions.to_string(), "right"),
                    (n.previous.to_string(), "right"),
                    (escape(&first_seen(n)), "left"),
                ],
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</td></tr>\n");

    // Examples.
    section_heading(&mut body, "Example mentions");
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    if d.examples.is_empty() {
        none_line(&mut body, "No examples.");
    } else {
        for e in &d.examples {
            html_example(&mut body, e);
        }
    }
    body.push_str("</td></tr>\n");

    // Source health.
    section_heading(&mut body, "Source health");
    body.push_str(r#"<tr><td style="padding:0 24px 8px 24px;">"#);
    if d.source_health.is_empty() {
        none_line(&mut body, "All sources healthy.");
    } else {
        table_start(
            &mut body,
            &[("Source", "left"), ("Status", "left"), ("Runs", "right"), ("Error", "left")],
        );
        for s in &d.source_health {
            table_row(
                &mut body,
                &[
                    (escape(&s.source), "left"),
                    (
                        format!(
                            r#"<span style="color:{};">{}</span>"#,
                            status_colour(&s.status),
                            escape(&s.status)
                        ),
                        "left",
                    ),
                    (s.runs.to_string(), "right"),
                    (
                        format!(
                            r#"<span style="word-break:break-word;overflow-wrap:anywhere;">{}</span>"#,
                            escape(s.error.as_deref().unwrap_or("—"))
                        ),
                        "left",
                    ),
                ],
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</td></tr>\n");

    // Footer.
    let _ = write!(
        body,
        r#"<tr><td style="padding:16px 24px 24px 24px;border-top:1px solid {BORDER};font-size:11px;line-height:16px;color:{MUTED};">{}</td></tr>"#,
        escape(&footer(d))
    );

    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        concat!(
            "<!doctype html>\n",
            r#"<html lang="en"><head><meta charset="utf-8">"#,
            r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
            r#"<meta name="color-scheme" content="light"><meta name="supported-color-schemes" content="light">"#,
            "<title>{title}</title></head>\n",
            r#"<body style="margin:0;padding:0;background-color:#f6f8fa;">"#,
            r#"<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f6f8fa;border-collapse:collapse;">"#,
            r#"<tr><td align="center" style="padding:16px 8px;">"#,
            r#"<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:640px;background-color:#ffffff;border:1px solid {border};border-collapse:collapse;font-family:{font};font-size:14px;line-height:20px;color:#1f2328;">"#,
            "\n{body}\n</table></td></tr></table></body></html>\n"
        ),
        title = escape(&title(d)),
        border = BORDER,
        font = FONT,
        body = body,
    );
    out
}

/// The digest as pretty-printed JSON: the [`Digest`] shape, versioned by `schema_version`.
pub fn json(d: &Digest) -> String {
    match serde_json::to_string_pretty(d) {
        Ok(s) => s,
        // Serializing plain data cannot fail in practice; a caller still gets valid JSON.
        Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
    }
}

/// An inline SVG sparkline of mentions per day: a polyline over a zero axis, a dashed line at
/// the mean of the days before the last (the baseline today is compared with) and a dot on the
/// last day. The y axis starts at zero, so a small wobble does not look like a cliff. No
/// scripts, no external references; empty input gives just the axis, one point a dot.
pub fn sparkline_svg(points: &[DayPoint], width: u32, height: u32) -> String {
    let w = f64::from(width.max(1));
    let h = f64::from(height.max(1));
    // Keep the stroke and the dot inside the box.
    let pad = 3.0f64.min(w / 4.0).min(h / 4.0);
    let inner_w = w - 2.0 * pad;
    let inner_h = h - 2.0 * pad;
    let bottom = h - pad;
    let max = points.iter().map(|p| p.mentions).max().unwrap_or(0).max(1) as f64;
    let y = |v: f64| bottom - v / max * inner_h;
    let x = |i: usize| {
        if points.len() < 2 { w / 2.0 } else { pad + i as f64 * inner_w / (points.len() - 1) as f64 }
    };

    let label = match (points.first(), points.last()) {
        (Some(first), Some(last)) => {
            format!("Mentions per day, {} to {}", first.day, last.day)
        }
        _ => "Mentions per day: no data".to_owned(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" style="display:block;max-width:100%;"><title>{label}</title>"#,
        label = escape(&label)
    );
    let _ = writeln!(
        out,
        r#"<line x1="{pad:.1}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="{BORDER}" stroke-width="1"/>"#,
        w - pad
    );
    if points.len() >= 2 {
        let before = &points[..points.len() - 1];
        let mean = before.iter().map(|p| p.mentions as f64).sum::<f64>() / before.len() as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{pad:.1}" y1="{my:.1}" x2="{:.1}" y2="{my:.1}" stroke="{MUTED}" stroke-width="1" stroke-dasharray="3,3"/>"#,
            w - pad,
            my = y(mean)
        );
        let coords: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.mentions as f64)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{BLUE}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>"#,
            coords.join(" ")
        );
    }
    if let Some(last) = points.last() {
        let _ = writeln!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{BLUE}"/>"#,
            x(points.len() - 1),
            y(last.mentions as f64)
        );
    }
    out.push_str("</svg>");
    out
}

// ---------------------------------------------------------------------------
// Shared text.

/// "Kestrel: daily digest for 2026-11-22 (Europe/Berlin)".
fn title(d: &Digest) -> String {
    format!("{}: daily digest for {} ({})", d.brand, d.day, d.time_zone)
}

/// "Model … · generated …".
fn footer(d: &Digest) -> String {
    format!(
        "brandpulse digest · model {} · generated {} · schema v{}",
        d.model_id,
        d.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        d.schema_version
    )
}

/// "+35% vs the 7-day mean of 105.2", or "no history".
fn change_text(change: Option<f64>, mean: f64) -> String {
    match change {
        Some(c) if c.is_finite() => {
            format!("{} vs the 7-day mean of {:.1}", signed_pct(c), finite_or_zero(mean))
        }
        _ => "no history".to_owned(),
    }
}

/// "+35%", or "no history".
fn change_short(change: Option<f64>) -> String {
    match change {
        Some(c) if c.is_finite() => signed_pct(c),
        _ => "no history".to_owned(),
    }
}

/// "41% positive · 38% neutral · 22% negative (120 scored, 3 not scored)".
fn shares_text(d: &Digest) -> String {
    let v = &d.volume;
    let scored = v.positive + v.neutral + v.negative;
    if scored == 0 {
        return format!("nothing scored ({} not scored)", v.unscored);
    }
    format!(
        "{} positive · {} neutral · {} negative ({scored} scored, {} not scored)",
        pct(v.positive_share),
        pct(v.neutral_share),
        pct(v.negative_share),
        v.unscored
    )
}

/// Net sentiment, or "n/a" when nothing was scored (0.00 would claim a balance).
fn net_text(d: &Digest) -> String {
    let v = &d.volume;
    if v.positive + v.neutral + v.negative == 0 { "n/a".to_owned() } else { signed(v.net_sentiment) }
}

/// A share as a whole percentage: 0.41 → "41%".
fn pct(x: f64) -> String {
    if x.is_finite() { format!("{}%", (x * 100.0).round()) } else { "n/a".to_owned() }
}

/// A signed whole percentage: 0.35 → "+35%", -0.5 → "-50%", 0 → "0%".
fn signed_pct(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_owned();
    }
    let r = (x * 100.0).round();
    if r == 0.0 { "0%".to_owned() } else { format!("{r:+}%") }
}

/// Signed to two decimals: 0.1234 → "+0.12", -0.5 → "-0.50", and "0.00" (not "-0.00").
fn signed(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_owned();
    }
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 { "0.00".to_owned() } else { format!("{r:+.2}") }
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// "battery (5), screen (2)", or "—".
fn aspects_text(aspects: &[AspectCount]) -> String {
    if aspects.is_empty() {
        return "—".to_owned();
    }
    aspects.iter().map(|a| format!("{} ({})", a.aspect, a.count)).collect::<Vec<_>>().join(", ")
}

/// "2026-11-22 07:14 UTC".
fn first_seen(n: &NewName) -> String {
    n.first_seen.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "Positive" / "Negative"; anything else as given.
fn sentiment_label(s: &str) -> String {
    match s {
        "positive" => "Positive".to_owned(),
        "negative" => "Negative".to_owned(),
        "neutral" => "Neutral".to_owned(),
        other => other.to_owned(),
    }
}

fn author(e: &Example) -> &str {
    e.author.as_deref().unwrap_or("unknown author")
}

/// "Last 14 days"; "Mentions per day" when there is no history ("Last 0 days" reads as a bug).
fn sparkline_heading(points: &[DayPoint]) -> String {
    match points.len() {
        0 => "Mentions per day".to_owned(),
        1 => "Last day".to_owned(),
        n => format!("Last {n} days"),
    }
}

/// "Mentions per day, 2026-11-09 to 2026-11-22: 31, 29, …".
fn sparkline_numbers(points: &[DayPoint]) -> String {
    let counts: Vec<String> = points.iter().map(|p| p.mentions.to_string()).collect();
    match (points.first(), points.last()) {
        (Some(first), Some(last)) => {
            format!("Mentions per day, {} to {}: {}", first.day, last.day, counts.join(", "))
        }
        _ => "No history.".to_owned(),
    }
}

/// A unicode block sparkline, scaled from zero like the SVG.
fn block_sparkline(points: &[DayPoint]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = points.iter().map(|p| p.mentions).max().unwrap_or(0);
    points
        .iter()
        .map(|p| {
            if max == 0 {
                BLOCKS[0]
            } else {
                let level = (p.mentions as f64 / max as f64 * 7.0).round() as usize;
                BLOCKS[level.min(7)]
            }
        })
        .collect()
}

/// A failed source is red; an empty one amber, since it may just be a quiet feed.
fn status_colour(status: &str) -> &'static str {
    if status == "failed" { RED } else { AMBER }
}

fn sign_colour(x: f64) -> &'static str {
    if x >= 0.005 {
        GREEN
    } else if x <= -0.005 {
        RED
    } else {
        GREY
    }
}

/// The three product tables, which differ only in their extra figure.
#[derive(Clone, Copy)]
enum ProductSection {
    MostMentioned,
    Rising,
    Problems,
}

impl ProductSection {
    const ALL: [ProductSection; 3] =
        [ProductSection::MostMentioned, ProductSection::Rising, ProductSection::Problems];

    fn title(self) -> &'static str {
        match self {
            ProductSection::MostMentioned => "Most mentioned",
            ProductSection::Rising => "Fastest rising",
            ProductSection::Problems => "Problem products",
        }
    }

    fn none(self) -> &'static str {
        match self {
            ProductSection::MostMentioned => "No product mentions.",
            ProductSection::Rising => "No rising products.",
            ProductSection::Problems => "No problem products.",
        }
    }

    fn items(self, d: &Digest) -> &[ProductStat] {
        match self {
            ProductSection::MostMentioned => &d.products.most_mentioned,
            ProductSection::Rising => &d.products.rising,
            ProductSection::Problems => &d.products.problems,
        }
    }

    /// Rising products show what they rose from.
    fn mentions_text(self, p: &ProductStat) -> String {
        match self {
            ProductSection::Rising => {
                format!("{} (vs {:.1}/day)", p.mentions, finite_or_zero(p.previous_mean))
            }
            _ => p.mentions.to_string(),
        }
    }

    /// Problem products show the negative share they were picked for.
    fn net_text(self, p: &ProductStat) -> String {
        let scored = p.positive + p.neutral + p.negative;
        if scored == 0 {
            return "n/a".to_owned();
        }
        match self {
            ProductSection::Problems => {
                format!("{} ({} negative)", signed(p.net_sentiment), pct(p.negative_share))
            }
            _ => signed(p.net_sentiment),
        }
    }
}

/// Highlight ranges that can be applied: in bounds, non-empty, on char boundaries, sorted,
/// overlaps merged. The ranges come from another stage; a bad one is dropped, never a panic.
fn clean_ranges(text: &str, ranges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut ok: Vec<(usize, usize)> = ranges
        .iter()
        .copied()
        .filter(|&(s, e)| s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e))
        .collect();
    ok.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ok.len());
    for (s, e) in ok {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The text cut into (segment, highlighted) pieces.
fn segments<'a>(text: &'a str, ranges: &[(usize, usize)]) -> Vec<(&'a str, bool)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for (s, e) in clean_ranges(text, ranges) {
        if s > pos {
            out.push((&text[pos..s], false));
        }
        out.push((&text[s..e], true));
        pos = e;
    }
    if pos < text.len() {
        out.push((&text[pos..], false));
    }
    out
}

// ---------------------------------------------------------------------------
// Markdown.

/// Escapes untrusted text for inline Markdown (also inside table cells): backslash-escapes
/// what would start formatting, a link, HTML or a cell break, and folds line breaks and
/// control characters into spaces so a post cannot end the table or list it sits in.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The excerpt with highlighted ranges in bold. Whitespace at the edges of a range is kept
/// outside the `**`, because CommonMark does not bold "** X200**".
fn md_highlighted(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::new();
    for (seg, hl) in segments(text, ranges) {
        if !hl {
            out.push_str(&md_escape(seg));
            continue;
        }
        let core = seg.trim();
        if core.is_empty() {
            out.push_str(&md_escape(seg));
            continue;
        }
        let lead = &seg[..seg.len() - seg.trim_start().len()];
        let trail = &seg[seg.trim_end().len()..];
        out.push_str(&md_escape(lead));
        out.push_str("**");
        out.push_str(&md_escape(core));
        out.push_str("**");
        out.push_str(&md_escape(trail));
    }
    out
}

/// Escapes what would make the start of a line a list item or a setext underline ("- ",
/// "+ ", "1. ", "="), for text that begins a line inside a quote.
fn md_block_start(s: String) -> String {
    // Up to three leading spaces still start a list, and they carry no meaning in an excerpt.
    let s = s.trim_start();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let ordered = digits > 0 && matches!(s.as_bytes().get(digits), Some(b'.' | b')'));
    if ordered {
        format!("{}\\{}", &s[..digits], &s[digits..])
    } else if s.starts_with(['-', '+', '=']) {
        format!("\\{s}")
    } else {
        s.to_owned()
    }
}

/// Brand cell: the digest's own brand bold, competitors marked.
fn md_brand(d: &Digest, s: &ShareOfVoice) -> String {
    if s.competitor {
        format!("{} (competitor)", md_escape(&s.brand))
    } else if s.brand == d.brand {
        format!("**{}**", md_escape(&s.brand))
    } else {
        md_escape(&s.brand)
    }
}

/// A link destination for Markdown, when `url` is http(s): characters that would end the
/// destination or a table cell are percent-encoded.
fn md_url(url: &str) -> Option<String> {
    let url = web_url(url)?;
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '|' => out.push_str("%7C"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            '`' => out.push_str("%60"),
            '\\' => out.push_str("%5C"),
            '"' => out.push_str("%22"),
            c => out.push(c),
        }
    }
    Some(out)
}

/// `url` trimmed, when it is an http or https URL with something after the scheme and no
/// whitespace or control characters (which browsers strip, hiding what the link really is).
fn web_url(url: &str) -> Option<&str> {
    let url = url.trim();
    let lower = url.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    if rest.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(url)
}

// ---------------------------------------------------------------------------
// HTML.

fn section_heading(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        r#"<tr><td style="padding:16px 24px 6px 24px;"><h2 style="margin:0;font-size:16px;line-height:22px;font-weight:600;color:#1f2328;border-bottom:1px solid {BORDER};padding-bottom:4px;">{}</h2></td></tr>"#,
        escape(title)
    );
}

fn none_line(out: &mut String, text: &str) {
    let _ = write!(out, r#"<p style="margin:4px 0;color:{MUTED};">{}</p>"#, escape(text));
}

/// A data table with its header row; cells are written by [`table_row`].
fn table_start(out: &mut String, headers: &[(&str, &str)]) {
    out.push_str(r#"<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;font-size:13px;line-height:18px;"><tr>"#);
    for (h, align) in headers {
        let _ = writeln!(
            out,
            r#"<th align="{align}" style="text-align:{align};padding:4px 6px;border-bottom:2px solid {BORDER};color:{GREY};font-weight:600;">{}</th>"#,
            escape(h)
        );
    }
    out.push_str("</tr>\n");
}

/// One row of already-escaped HTML cells.
fn table_row(out: &mut String, cells: &[(String, &str)]) {
    out.push_str("<tr>");
    for (html, align) in cells {
        let _ = writeln!(
            out,
            r#"<td align="{align}" valign="top" style="text-align:{align};padding:4px 6px;border-bottom:1px solid {BORDER};">{html}</td>"#
        );
    }
    out.push_str("</tr>\n");
}

fn html_alert(out: &mut String, a: &Alert) {
    let _ = writeln!(
        out,
        r#"<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;margin:4px 0;"><tr><td style="padding:8px 12px;border-left:4px solid {RED};background-color:#fff5f5;"><strong style="color:{RED};">{}</strong><br>{}</td></tr></table>"#,
        escape(a.kind.label()),
        escape(&a.reason)
    );
}

fn html_example(out: &mut String, e: &Example) {
    let colour = match e.sentiment.as_str() {
        "positive" => GREEN,
        "negative" => RED,
        _ => GREY,
    };
    let mut excerpt = String::new();
    for (seg, hl) in segments(&e.excerpt, &e.highlights) {
        if hl {
            let _ = write!(
                excerpt,
                r#"<strong style="background-color:#fff3b0;color:#1f2328;font-weight:700;">{}</strong>"#,
                escape(seg)
            );
        } else {
            excerpt.push_str(&escape(seg));
        }
    }
    let link = match e.url.as_deref() {
        Some(url) => match web_url(url) {
            Some(href) => format!(
                r#"<div style="margin-top:4px;"><a href="{}" style="color:{BLUE};text-decoration:underline;">View post</a></div>"#,
                escape(href)
            ),
            None => format!(
                r#"<div style="margin-top:4px;color:{MUTED};word-break:break-all;">Link: {}</div>"#,
                escape(url)
            ),
        },
        None => String::new(),
    };
    let _ = write!(
        out,
        concat!(
            r#"<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;margin:6px 0;"><tr><td style="padding:8px 12px;border-left:4px solid {colour};background-color:#f6f8fa;">"#,
            r#"<div style="font-size:12px;line-height:18px;color:{muted};"><strong style="color:{colour};">{label}</strong> · {source} · {author} · engagement {engagement}</div>"#,
            "\n",
            r#"<div style="margin-top:4px;word-break:break-word;overflow-wrap:anywhere;">{excerpt}</div>"#,
            "\n{link}</td></tr></table>\n",
        ),
        colour = colour,
        muted = MUTED,
        label = escape(&sentiment_label(&e.sentiment)),
        source = escape(&e.source),
        author = escape(author(e)),
        engagement = e.engagement,
        excerpt = excerpt,
        link = link,
    );
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::digest::rules::AlertKind;
    use crate::digest::{Products, SCHEMA_VERSION, SourceHealth, Volume};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn aspect(aspect: &str, count: u64) -> AspectCount {
        AspectCount { aspect: aspect.into(), count }
    }

    fn product(
        sku: &str,
        name: &str,
        mentions: u64,
        previous_mean: f64,
        pnn: (u64, u64, u64),
    ) -> ProductStat {
        let (positive, neutral, negative) = pnn;
        let scored = (positive + neutral + negative) as f64;
        ProductStat {
            sku: sku.into(),
            name: name.into(),
            mentions,
            previous_mean,
            positive,
            neutral,
            negative,
            negative_share: negative as f64 / scored,
            net_sentiment: (positive as f64 - negative as f64) / scored,
            praised: vec![aspect("battery", 5), aspect("camera", 3)],
            complaints: vec![aspect("screen", 2)],
        }
    }

    fn points(counts: &[u64]) -> Vec<DayPoint> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &mentions)| DayPoint { day: day(9 + i as u32), mentions, net_sentiment: Some(0.1) })
            .collect()
    }

    /// Kestrel on 2026-11-22, with everything present.
    fn full() -> Digest {
        let x200 = "新しい X200 最高";
        let x200_start = x200.find("X200").unwrap();
        Digest {
            schema_version: SCHEMA_VERSION,
            brand: "Kestrel".into(),
            day: day(22),
            time_zone: "Europe/Berlin".into(),
            model_id: "brandpulse-sentiment-int8-v2".into(),
            generated_at: Utc.with_ymd_and_hms(2026, 11, 23, 5, 30, 0).unwrap(),
            volume: Volume {
                mentions: 142,
                positive: 49,
                neutral: 45,
                negative: 26,
                unscored: 22,
                positive_share: 49.0 / 120.0,
                neutral_share: 45.0 / 120.0,
                negative_share: 26.0 / 120.0,
                net_sentiment: 23.0 / 120.0,
                trailing_7d_mean: 105.2,
                change_vs_7d: Some(142.0 / 105.2 - 1.0),
            },
            alerts: vec![Alert {
                kind: AlertKind::VolumeSpike,
                today: 142.0,
                baseline_mean: 38.2,
                baseline_sd: 6.1,
                z: 17.0,
                baseline_days: 14,
                reason: "142 mentions against a 14-day mean of 38.2 (sd 6.1): z = 17.0".into(),
            }],
            share_of_voice: vec![
                ShareOfVoice { brand: "Kestrel".into(), competitor: false, mentions: 142, share: 0.41 },
                ShareOfVoice { brand: "Lumio".into(), competitor: true, mentions: 120, share: 0.3468 },
                ShareOfVoice { brand: "Orb & <Co>".into(), competitor: true, mentions: 84, share: 0.2428 },
            ],
            products: Products {
                most_mentioned: vec![
                    product("KX-200", "Kestrel X200", 61, 40.1, (30, 20, 8)),
                    product("KB-10", "Kestrel Buds", 18, 17.0, (9, 6, 3)),
                ],
                rising: vec![product("KX-200P", "Kestrel X200 Pro", 25, 2.1, (10, 10, 5))],
                problems: vec![product("KC-3", "Kestrel Charger 3", 22, 6.0, (2, 6, 14))],
            },
            new_names: vec![NewName {
                surface: "X300 Ultra".into(),
                mentions: 9,
                previous: 1,
                first_seen: Utc.with_ymd_and_hms(2026, 11, 21, 18, 4, 0).unwrap(),
            }],
            examples: vec![
                Example {
                    sentiment: "positive".into(),
                    source: "mastodon".into(),
                    author: Some("@anna@social.example".into()),
                    excerpt: x200.into(),
                    // The X200 range, plus one past the end that must be ignored.
                    highlights: vec![(x200_start, x200_start + 4), (x200.len(), x200.len() + 5)],
                    url: Some("https://social.example/@anna/1".into()),
                    engagement: 310,
                },
                Example {
                    sentiment: "negative".into(),
                    source: "reddit".into(),
                    author: Some("u/grumpy_owner".into()),
                    excerpt: "My Kestrel charger died <script>alert(1)</script> | col | **not bold**".into(),
                    highlights: vec![(3, 10)],
                    url: Some("https://reddit.example/r/phones/comments/abc?x=1&y=2".into()),
                    engagement: 95,
                },
                Example {
                    sentiment: "negative".into(),
                    source: "rss".into(),
                    author: None,
                    excerpt: "Kestrel support never answered".into(),
                    // Starts inside a char? No: bytes are ASCII; reversed and empty ranges.
                    highlights: vec![(7, 0), (3, 3), (0, 7)],
                    url: Some("javascript:alert(1)".into()),
                    engagement: 12,
                },
            ],
            source_health: vec![
                SourceHealth {
                    source: "hn".into(),
                    status: "failed".into(),
                    runs: 4,
                    error: Some("HTTP 503 <upstream>".into()),
                },
                SourceHealth { source: "forum-rss".into(), status: "empty".into(), runs: 4, error: None },
            ],
            sparkline: points(&[31, 29, 35, 40, 38, 33, 36, 41, 39, 37, 42, 95, 120, 142]),
        }
    }

    /// A brand with no mentions and no history.
    fn empty() -> Digest {
        Digest {
            schema_version: SCHEMA_VERSION,
            brand: "Kestrel".into(),
            day: day(22),
            time_zone: "Europe/Berlin".into(),
            model_id: "brandpulse-sentiment-int8-v2".into(),
            generated_at: Utc.with_ymd_and_hms(2026, 11, 23, 5, 30, 0).unwrap(),
            volume: Volume::default(),
            alerts: Vec::new(),
            share_of_voice: Vec::new(),
            products: Products::default(),
            new_names: Vec::new(),
            examples: Vec::new(),
            source_health: Vec::new(),
            sparkline: Vec::new(),
        }
    }

    #[test]
    fn number_formatting() {
        assert_eq!(signed(0.1234), "+0.12");
        assert_eq!(signed(-0.5), "-0.50");
        assert_eq!(signed(-0.001), "0.00");
        assert_eq!(signed(f64::NAN), "n/a");
        assert_eq!(pct(0.41), "41%");
        assert_eq!(pct(0.4083), "41%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(1.0), "100%");
        assert_eq!(signed_pct(0.35), "+35%");
        assert_eq!(signed_pct(-0.5), "-50%");
        assert_eq!(signed_pct(0.001), "0%");
        assert_eq!(change_short(None), "no history");
        assert_eq!(change_short(Some(f64::INFINITY)), "no history");
    }

    #[test]
    fn markdown_full() {
        let md = markdown(&full());
        assert!(md.starts_with("# Kestrel: daily digest for 2026-11-22 (Europe/Berlin)\n"), "{md}");
        assert!(md.contains("**Mentions:** 142 (+35% vs the 7-day mean of 105.2)"), "{md}");
        assert!(md.contains("41% positive · 38% neutral · 22% negative (120 scored, 22 not scored)"), "{md}");
        assert!(md.contains("**Net sentiment:** +0.19"), "{md}");
        assert!(
            md.contains("- **Volume spike:** 142 mentions against a 14-day mean of 38.2 (sd 6.1): z = 17.0")
        );
        assert!(!md.contains("No alerts."));
        assert!(md.contains("`▃▂▃▃▃▃▃▃▃▃▃▆▇█`"), "{md}");
        assert!(md.contains("Mentions per day, 2026-11-09 to 2026-11-22: 31, 29, 35"), "{md}");
        assert!(md.contains("| **Kestrel** | 142 | 41% |"), "{md}");
        assert!(md.contains("| Lumio (competitor) | 120 | 35% |"), "{md}");
        assert!(md.contains("Orb & \\<Co\\> (competitor)"), "{md}");
        assert!(md.contains("### Most mentioned"));
        assert!(
            md.contains("| Kestrel X200 (KX-200) | 61 | +0.38 | battery (5), camera (3) | screen (2) |"),
            "{md}"
        );
        assert!(md.contains("### Fastest rising"));
        assert!(md.contains("| 25 (vs 2.1/day) |"), "{md}");
        assert!(md.contains("### Problem products"));
        assert!(md.contains("| -0.55 (64% negative) |"), "{md}");
        assert!(md.contains("| X300 Ultra | 9 | 1 | 2026-11-21 18:04 UTC |"), "{md}");
        assert!(md.contains("- **Positive** · mastodon · @anna@social.example · engagement 310"), "{md}");
        assert!(md.contains("[View post](https://social.example/@anna/1)"));
        assert!(md.contains("| hn | failed | 4 | HTTP 503 \\<upstream\\> |"), "{md}");
        assert!(md.contains("| forum-rss | empty | 4 | — |"), "{md}");
        assert!(!md.contains("All sources healthy."));
        assert!(
            md.contains("model brandpulse-sentiment-int8-v2 · generated 2026-11-23 05:30:00 UTC"),
            "{md}"
        );
    }

    #[test]
    fn markdown_escapes_untrusted_text() {
        let md = markdown(&full());
        let line = md.lines().find(|l| l.contains("charger died")).unwrap();
        assert_eq!(
            line,
            "  > My **Kestrel** charger died \\<script\\>alert(1)\\</script\\> \\| col \\| \\*\\*not bold\\*\\*"
        );
        // A javascript: link is text, not a link.
        assert!(md.contains("Link (not http/https): javascript:alert(1)"), "{md}");
        assert!(!md.contains("](javascript"));
        // Markdown hostile names in a table cell.
        let mut d = full();
        d.products.most_mentioned[0].name = "X|Y *Z* [a](b) `c` _d_\nnext".into();
        let md = markdown(&d);
        assert!(md.contains("| X\\|Y \\*Z\\* \\[a\\](b) \\`c\\` \\_d\\_ next (KX-200) |"), "{md}");
    }

    #[test]
    fn markdown_highlights() {
        // Multibyte text: the X200 range; the out-of-range highlight is ignored.
        let md = markdown(&full());
        assert!(md.contains("  > 新しい **X200** 最高\n"), "{md}");
        // Reversed and empty ranges are dropped; the valid one applies.
        assert!(md.contains("  > **Kestrel** support never answered"), "{md}");
        let text = "新しい X200 最高";
        // Not on a char boundary (inside 新), past the end, reversed: nothing highlighted, no panic.
        assert_eq!(md_highlighted(text, &[(1, 5), (0, 100), (5, 2), (usize::MAX, usize::MAX)]), text);
        // Overlapping ranges merge; whitespace at a range's edge stays outside the bold.
        assert_eq!(md_highlighted("a Kestrel X200 b", &[(2, 9), (8, 15)]), "a **Kestrel X200** b");
        assert_eq!(md_highlighted("a b", &[(1, 2)]), "a b");
        // A post that starts like a list item stays text.
        assert_eq!(md_block_start("- item".into()), "\\- item");
        assert_eq!(md_block_start("12. item".into()), "12\\. item");
        assert_eq!(md_block_start("12 items".into()), "12 items");
    }

    #[test]
    fn html_full() {
        let h = html(&full());
        assert!(h.starts_with("<!doctype html>"));
        assert!(h.trim_end().ends_with("</html>"));
        assert!(h.contains("<title>Kestrel: daily digest for 2026-11-22 (Europe/Berlin)</title>"));
        assert!(h.contains(">Kestrel: daily digest for 2026-11-22 (Europe/Berlin)</h1>"));
        assert!(h.contains(">142</div>"));
        assert!(h.contains(">+35%</div>"));
        assert!(h.contains(">41%</div>"));
        assert!(h.contains(">+0.19</div>"));
        assert!(h.contains("142 mentions against a 14-day mean of 38.2 (sd 6.1): z = 17.0"));
        assert!(h.contains("<svg") && h.contains("<polyline"));
        assert!(h.contains("Mentions per day, 2026-11-09 to 2026-11-22: 31, 29"));
        assert!(h.contains("Orb &amp; &lt;Co&gt;"));
        assert!(h.contains("battery (5), camera (3)"));
        assert!(h.contains("-0.55 (64% negative)"));
        assert!(h.contains("X300 Ultra"));
        assert!(h.contains(r#"href="https://social.example/@anna/1""#));
        assert!(h.contains(r#"href="https://reddit.example/r/phones/comments/abc?x=1&amp;y=2""#));
        assert!(!h.contains("href=\"javascript"));
        assert!(h.contains("Link: javascript:alert(1)"));
        assert!(h.contains("HTTP 503 &lt;upstream&gt;"));
        assert!(h.contains("brandpulse-sentiment-int8-v2"));
        assert!(h.contains("max-width:640px"));
        assert!(h.contains(GREEN) && h.contains(RED));
    }

    #[test]
    fn html_is_safe_for_mail() {
        let h = html(&full());
        let lower = h.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{h}");
        assert!(!lower.contains("<style"));
        assert!(!lower.contains("<img"));
        assert!(!lower.contains("<link"));
        assert!(!lower.contains("@import"));
        assert!(!lower.contains("javascript:alert(1)\""));
        assert!(h.contains("died &lt;script&gt;alert(1)&lt;/script&gt; | col | **not bold**"), "{h}");
        // Every element that is styled is styled inline: no class attributes to depend on.
        assert!(!lower.contains("class="));
        // Tags balance (a rough check that escaping did not leak markup).
        for tag in ["table", "tr", "td", "strong", "svg", "h2", "p", "div", "a"] {
            let open = h.matches(&format!("<{tag}>")).count() + h.matches(&format!("<{tag} ")).count();
            let close = h.matches(&format!("</{tag}>")).count();
            assert_eq!(open, close, "<{tag}>");
        }
    }

    #[test]
    fn html_lines_fit_smtp() {
        let h = html(&full());
        let longest = h.lines().map(str::len).max().unwrap();
        assert!(longest < 998, "{longest}");
    }

    #[test]
    fn html_highlights() {
        let h = html(&full());
        assert!(h.contains("新しい <strong style="), "{h}");
        assert!(h.contains(">X200</strong> 最高"), "{h}");
        assert!(h.contains("My <strong style="));
        assert!(h.contains(">Kestrel</strong> charger died"));
        assert!(h.contains(">Kestrel</strong> support never answered"));
    }

    #[test]
    fn empty_digest_renders_every_section() {
        let d = empty();
        let md = markdown(&d);
        assert!(md.contains("**Mentions:** 0 (no history)"), "{md}");
        assert!(md.contains("**Sentiment:** nothing scored (0 not scored)"), "{md}");
        assert!(md.contains("**Net sentiment:** n/a"), "{md}");
        for line in [
            "No alerts.",
            "No history.",
            "No share of voice",
            "No product mentions.",
            "No rising products.",
            "No problem products.",
            "No new names.",
            "No examples.",
            "All sources healthy.",
        ] {
            assert!(md.contains(line), "{line}: {md}");
        }
        let h = html(&d);
        for line in [
            "No alerts.",
            "No history.",
            "No product mentions.",
            "No problem products.",
            "No examples.",
            "All sources healthy.",
            ">no history</div>",
            ">n/a</div>",
        ] {
            assert!(h.contains(line), "{line}: {h}");
        }
        assert!(!h.contains("<polyline"));
        assert!(!h.to_ascii_lowercase().contains("<script"));
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&json(&full())).unwrap();
        assert_eq!(v["schema_version"], 1);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "schema_version",
            "brand",
            "day",
            "time_zone",
            "model_id",
            "generated_at",
            "volume",
            "alerts",
            "share_of_voice",
            "products",
            "new_names",
            "examples",
            "source_health",
            "sparkline",
        ] {
            assert!(keys.contains(&key), "{key}");
        }
        assert_eq!(keys.len(), 14, "{keys:?}");
        assert_eq!(v["day"], "2026-11-22");
        assert_eq!(v["alerts"][0]["kind"], "volume_spike");
        assert_eq!(v["alerts"][0]["baseline_days"], 14);
        assert_eq!(v["volume"]["mentions"], 142);
        assert_eq!(v["products"]["most_mentioned"][0]["praised"][0]["aspect"], "battery");
        assert_eq!(v["examples"][0]["highlights"][0], serde_json::json!([10, 14]));
        assert_eq!(v["sparkline"].as_array().unwrap().len(), 14);
        let e: serde_json::Value = serde_json::from_str(&json(&empty())).unwrap();
        assert_eq!(e["schema_version"], 1);
        assert_eq!(e["volume"]["change_vs_7d"], serde_json::Value::Null);
    }

    #[test]
    fn sparkline_svg_shapes() {
        let pts = points(&[31, 29, 35, 40, 38, 33, 36, 41, 39, 37, 42, 95, 120, 142]);
        let svg = sparkline_svg(&pts, 280, 40);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"280\" height=\"40\""));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<script"));
        let start = svg.find("<polyline points=\"").unwrap() + "<polyline points=\"".len();
        let coords = &svg[start..start + svg[start..].find('"').unwrap()];
        let pairs: Vec<(f64, f64)> = coords
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(pairs.len(), 14);
        // Left to right, inside the box; the biggest day at the top.
        assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(pairs.iter().all(|&(x, y)| (0.0..=280.0).contains(&x) && (0.0..=40.0).contains(&y)));
        assert_eq!(pairs[13].1, 3.0);
        // The dashed baseline.
        assert!(svg.contains("stroke-dasharray"));

        let empty = sparkline_svg(&[], 280, 40);
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>"));
        assert!(!empty.contains("<polyline") && !empty.contains("<circle"));
        assert!(empty.contains("no data"));

        let one = sparkline_svg(&points(&[7]), 280, 40);
        assert!(one.contains("<circle") && !one.contains("<polyline"));

        // All zero: flat on the axis, no division by zero.
        let zeros = sparkline_svg(&points(&[0, 0, 0]), 280, 40);
        assert!(!zeros.contains("NaN") && !zeros.contains("inf"));
        // A degenerate box does not panic or produce NaN.
        let tiny = sparkline_svg(&pts, 0, 0);
        assert!(!tiny.contains("NaN"));
        assert_eq!(block_sparkline(&points(&[0, 0])), "▁▁");
        assert_eq!(block_sparkline(&points(&[0, 7, 14])), "▁▅█");
    }

    #[test]
    fn links_only_for_http() {
        assert_eq!(web_url(" https://a.example/x "), Some("https://a.example/x"));
        assert_eq!(web_url("HTTP://a.example"), Some("HTTP://a.example"));
        assert_eq!(web_url("javascript:alert(1)"), None);
        assert_eq!(web_url("https://"), None);
        assert_eq!(web_url("https://a.example/x y"), None);
        assert_eq!(web_url("data:text/html,<script>"), None);
        assert_eq!(web_url("ftp://a.example"), None);
        assert_eq!(web_url("новости"), None);
        assert_eq!(md_url("https://a.example/p(1)|x").as_deref(), Some("https://a.example/p%281%29%7Cx"));
    }
}
