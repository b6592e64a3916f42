//! The HTML pages: one inline stylesheet, no script, no external reference.
//!
//! Every text that comes from data (posts, authors, names, source errors,
//! even brand names from the config) goes through [`escape`]; only
//! `http`/`https` URLs become links. Numbers are printed as text next to
//! every chart, so a reader (and the browser test) can check them.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::View;
use super::charts::{self, COMPETITOR, OWN, SELECTED, Size};
use super::data::{DayRow, MENTIONS_CSV, Overview, ProductView, Range, Totals};
use crate::digest::{AspectCount, ProductStat};
use crate::store::{GapRow, MentionRow, SourceHealthRow};

/// The one stylesheet: system fonts, cards on a CSS grid, one column under
/// 700 px, tables that scroll sideways on a phone instead of squeezing.
const CSS: &str = r#"
:root{--pos:#1a7f37;--neu:#57606a;--neg:#cf222e;--muted:#6e7781;--border:#d0d7de;--blue:#0969da;--amber:#9a6700;--bg:#f6f8fa;--fg:#1f2328}
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:var(--fg);background:var(--bg)}
a{color:var(--blue)}
header.top{background:#fff;border-bottom:1px solid var(--border);padding:10px 24px;display:flex;flex-wrap:wrap;gap:10px 16px;align-items:flex-end}
.logo{font-weight:700;font-size:18px;color:var(--fg);text-decoration:none;margin-right:auto;align-self:center;order:0}
form.controls{order:1}form.logout{order:2;margin:0}
.logo span{color:var(--blue)}
form.controls,form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:0}
label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:2px}
input,select,button{font:inherit;font-size:14px;padding:5px 8px;border:1px solid var(--border);border-radius:6px;background:#fff;color:var(--fg);min-height:32px}
button{background:var(--blue);border-color:var(--blue);color:#fff;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:var(--fg);border-color:var(--border);font-weight:400}
main{max-width:1320px;margin:0 auto;padding:16px 24px 32px;display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px}
.card{background:#fff;border:1px solid var(--border);border-radius:8px;padding:14px 16px;min-width:0}
.wide{grid-column:1/-1}
h1{font-size:20px;margin:0 0 2px}
h2{font-size:15px;margin:0}
h3{font-size:13px;margin:14px 0 6px;color:var(--muted)}
.card-head{display:flex;justify-content:space-between;align-items:baseline;gap:8px;margin-bottom:10px}
a.csv{font-size:12px;font-weight:600;border:1px solid var(--border);border-radius:12px;padding:1px 9px;text-decoration:none;white-space:nowrap}
a.csv:hover{background:var(--bg)}
.note,.muted{color:var(--muted);font-size:12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(118px,1fr));gap:10px;margin-top:12px}
.kpi{border-left:3px solid var(--border);padding:2px 0 2px 10px}
.kpi .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.kpi .l{font-size:12px;color:var(--muted)}
.kpi.pos{border-color:var(--pos)}.kpi.neu{border-color:var(--neu)}.kpi.neg{border-color:var(--neg)}.kpi.alert{border-color:var(--amber)}.kpi.sel{border-color:var(--blue)}
.split{display:grid;grid-template-columns:minmax(0,4fr) minmax(0,3fr);gap:16px;align-items:start}
.tall th,.tall td{padding:4px 6px}
.chart{margin:0}
.chart svg{display:block;width:100%;height:auto}
.narrow-only{display:none}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;padding:0;margin:6px 0 0;font-size:12px;color:var(--muted)}
ul.legend .sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
ul.alerts{margin:10px 0 0;padding:0;list-style:none}
ul.alerts li{border-left:3px solid var(--amber);background:#fff8c5;padding:4px 8px;margin-bottom:4px;font-size:13px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
.tall{max-height:330px;overflow-y:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
tr.alert-day td{background:#fff8c5}
thead th{position:sticky;top:0;background:#fff;font-weight:600;color:var(--muted);font-size:12px;white-space:nowrap}
tfoot th{font-weight:600}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.post{min-width:280px;max-width:620px}
td.post .title{font-weight:600}
.nowrap{white-space:nowrap}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--muted);white-space:nowrap}
.b-positive,.b-ok{background:var(--pos)}.b-neutral,.b-not_modified{background:var(--neu)}.b-negative,.b-failed{background:var(--neg)}.b-running{background:var(--blue)}.b-never{background:#8c959f}
.dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:4px;background:#8c959f}
.d-positive{background:var(--pos)}.d-neutral{background:var(--neu)}.d-negative{background:var(--neg)}
.mark{color:var(--amber);font-weight:600;white-space:nowrap}
p.pager{margin:10px 0 0;font-weight:600}
.err{color:var(--neg)}
p.error{color:var(--neg);font-weight:600}
.login{max-width:420px;margin:12vh auto;grid-column:1/-1}
.login form{display:flex;flex-direction:column;gap:12px;margin-top:12px}
footer{text-align:center;color:var(--muted);font-size:12px;padding:0 0 24px}
@media (max-width:1000px){.split{grid-template-columns:minmax(0,1fr)}}
@media (max-width:700px){
 header.top{padding:10px 12px}
 main{grid-template-columns:minmax(0,1fr);padding:10px 10px 24px;gap:10px}
 .card{padding:12px}
 .wide-only{display:none}
 .narrow-only{display:block}
 form.logout{order:1}
 form.controls{order:2;flex-basis:100%}
 table.stack thead{display:none}
 table.stack tr{display:block;border-bottom:1px solid var(--border);padding:8px 0}
 table.stack td{display:inline-block;border:0;padding:1px 10px 1px 0;vertical-align:top}
 table.stack td.post{display:block;min-width:0;max-width:none;margin-top:4px}
 table.stack td.none{display:none}
 .kpi .v{font-size:18px}
 form.controls label,form.filters label{flex:1 1 40%}
 form.controls label.q,form.filters label.q{flex-basis:100%}
}
"#;

/// Escaping for every text from data (one implementation for the whole program).
pub use crate::text::escape;

/// `?a=1&b=2` (form-encoded), or nothing when there are no pairs.
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    format!("?{}", s.finish())
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The path of a product's page.
pub fn product_path(sku: &str) -> String {
    format!("/products/{}", percent_encoding::utf8_percent_encode(sku, SEGMENT))
}

/// Only `http`/`https` URLs without spaces or controls become links.
fn web_url(url: &str) -> Option<&str> {
    let url = url.trim();
    let lower = url.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    (scheme_ok && !url.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(url)
}

fn pct(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
        _ => "n/a".to_owned(),
    }
}

/// Two decimals with a sign, "0.00" rather than "-0.00", "n/a" for none.
fn signed(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => {
            let r = (x * 100.0).round() / 100.0;
            if r == 0.0 { "0.00".to_owned() } else { format!("{r:+.2}") }
        }
        _ => "n/a".to_owned(),
    }
}

fn local(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// At most `max` characters, an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

fn page(title: &str, header: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · brandpulse</title><link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head>\n\
         <body><header class=\"top\"><a class=\"logo\" href=\"/\">brand<span>pulse</span></a>{header}</header>\n\
         <main>{main}</main>\n<footer>brandpulse · read-only · nothing leaves this machine</footer></body></html>\n",
        escape(title)
    )
}

const LOGOUT: &str = r#"<form class="logout" method="post" action="/logout"><button class="secondary" type="submit">Log out</button></form>"#;

fn card_head(out: &mut String, title: &str, csv_href: Option<&str>) {
    let _ = write!(out, r#"<div class="card-head"><h2>{}</h2>"#, escape(title));
    if let Some(href) = csv_href {
        let _ = write!(out, r#"<a class="csv" href="{}" download>CSV</a>"#, escape(href));
    }
    out.push_str("</div>");
}

/// A chart in both sizes; the stylesheet shows the one that fits.
fn figure(chart: impl Fn(Size) -> String) -> String {
    format!(
        r#"<figure class="chart"><div class="wide-only">{}</div><div class="narrow-only">{}</div></figure>"#,
        chart(Size::Wide),
        chart(Size::Narrow)
    )
}

fn kpi(out: &mut String, id: &str, class: &str, value: &str, label: &str) {
    let _ = write!(
        out,
        r#"<div class="kpi {class}" id="kpi-{id}"><div class="v">{}</div><div class="l">{}</div></div>"#,
        escape(value),
        escape(label)
    );
}

fn badge(text: &str) -> String {
    format!(r#"<span class="badge b-{0}">{1}</span>"#, escape(text), escape(&text.replace('_', " ")))
}

/// The per-day table beside a volume chart; a day with an alert is marked,
/// its reason in the tooltip (the list under the chart spells it out).
fn day_table(out: &mut String, id: &str, days: &[DayRow]) {
    let _ = write!(
        out,
        r#"<div class="scroll tall"><table id="{id}"><thead><tr><th>Day</th><th class="n">Mentions</th><th class="n">Positive</th><th class="n">Neutral</th><th class="n">Negative</th><th class="n">Not scored</th><th class="n">Net</th></tr></thead><tbody>"#
    );
    for d in days {
        let reasons: Vec<String> =
            d.alerts.iter().map(|a| format!("{}: {}", a.kind.label(), a.reason)).collect();
        let mark = if reasons.is_empty() {
            String::new()
        } else {
            format!(r#" <span class="mark" title="{}">▼</span>"#, escape(&reasons.join("; ")))
        };
        let _ = write!(
            out,
            r#"<tr data-day="{day}"{}><td class="nowrap">{day}{}{mark}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            if reasons.is_empty() { "" } else { r#" class="alert-day""# },
            if d.partial { r#" <span class="muted">(so far)</span>"# } else { "" },
            d.mentions,
            d.positive,
            d.neutral,
            d.negative,
            d.unscored(),
            signed(d.net),
            day = d.day,
        );
    }
    let t = Totals::of(days);
    let _ = write!(
        out,
        r#"</tbody><tfoot><tr><th>Total</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th></tr></tfoot></table></div>"#,
        t.mentions,
        t.positive,
        t.neutral,
        t.negative,
        t.mentions - t.scored(),
        signed(t.net()),
    );
}

fn range_text(range: &Range, tz: chrono_tz::Tz) -> String {
    format!("{} to {} ({}, {} days)", range.from, range.to, tz.name(), range.days())
}

/// The brand overview.
pub fn overview(view: &View, o: &Overview) -> String {
    let tz = view.time_zone;
    let range = &view.range;
    let base = view.base_params();
    let csv = |chart: &str, params: &[(&str, String)]| format!("/csv/{chart}{}", query(params));
    let range_params = [("from", range.from.to_string()), ("to", range.to.to_string())];

    // Header: brand and dates (the mention filters other than the product ride along).
    let mut header =
        String::from(r#"<form class="controls" method="get" action="/"><label>Brand<select name="brand">"#);
    for b in &view.brands {
        let _ = write!(
            header,
            r#"<option value="{0}"{1}>{0}{2}</option>"#,
            escape(&b.name),
            if b.id == view.brand.id { " selected" } else { "" },
            if b.competitor { " (competitor)" } else { "" }
        );
    }
    let _ = write!(
        header,
        r#"</select></label><label>From<input type="date" name="from" value="{}" required></label><label>To<input type="date" name="to" value="{}" required></label>"#,
        range.from, range.to
    );
    for (k, v) in view.filters.iter().filter(|(k, _)| *k != "product") {
        let _ = write!(header, r#"<input type="hidden" name="{k}" value="{}">"#, escape(v));
    }
    header.push_str(r#"<button type="submit">Apply</button></form>"#);
    header.push_str(LOGOUT);

    let mut m = String::new();
    // Headline.
    let totals = Totals::of(&o.days);
    let alert_days = o.days.iter().filter(|d| !d.alerts.is_empty()).count();
    let own_share = o.share.iter().find(|s| s.brand.eq_ignore_ascii_case(&view.brand.name));
    let _ = write!(
        m,
        r#"<section class="card wide" id="headline"><h1>{}</h1><div class="note">{} · {}</div><div class="kpis">"#,
        escape(&view.brand.name),
        if view.brand.competitor { "competitor" } else { "own brand" },
        escape(&range_text(range, tz))
    );
    kpi(&mut m, "mentions", "", &totals.mentions.to_string(), "Mentions");
    kpi(
        &mut m,
        "positive",
        "pos",
        &pct(totals.share(totals.positive)),
        &format!("Positive ({})", totals.positive),
    );
    kpi(
        &mut m,
        "neutral",
        "neu",
        &pct(totals.share(totals.neutral)),
        &format!("Neutral ({})", totals.neutral),
    );
    kpi(
        &mut m,
        "negative",
        "neg",
        &pct(totals.share(totals.negative)),
        &format!("Negative ({})", totals.negative),
    );
    kpi(&mut m, "net", "", &signed(totals.net()), "Net sentiment");
    kpi(&mut m, "share", "sel", &pct(own_share.map(|s| s.share)), "Share of voice");
    kpi(&mut m, "alerts", "alert", &alert_days.to_string(), "Alert days");
    m.push_str("</div></section>");

    // Volume and sentiment.
    m.push_str(r#"<section class="card wide" id="volume">"#);
    card_head(&mut m, "Volume and sentiment", Some(&csv("volume", &base)));
    let aria = format!(
        "Mentions of {} per day by sentiment, {}: {} mentions, {} alert days",
        view.brand.name,
        range_text(range, tz),
        totals.mentions,
        alert_days
    );
    let _ = write!(
        m,
        r#"<div class="split"><div>{}{}"#,
        figure(|size| charts::day_bars(&o.days, &aria, size)),
        charts::day_legend(true)
    );
    let alerts: Vec<String> = o
        .days
        .iter()
        .flat_map(|d| {
            d.alerts.iter().map(move |a| {
                format!(
                    r#"<li data-day="{}"><b>{} · {}</b>: {}</li>"#,
                    d.day,
                    d.day,
                    escape(a.kind.label()),
                    escape(&a.reason)
                )
            })
        })
        .collect();
    if alerts.is_empty() {
        m.push_str(r#"<p class="note" id="alerts">No spike or dip in this range (the digest's rule: z ≥ 3 against the 14 days before, with at least 20 mentions).</p>"#);
    } else {
        let _ = write!(m, r#"<ul class="alerts" id="alerts">{}</ul>"#, alerts.join(""));
    }
    m.push_str("</div><div>");
    day_table(&mut m, "volume-table", &o.days);
    m.push_str("</div></div></section>");

    // Share of voice.
    m.push_str(r#"<section class="card" id="share">"#);
    card_head(&mut m, "Share of voice", Some(&csv("share-of-voice", &base)));
    let all: i64 = o.share.iter().map(|s| s.mentions).sum();
    let _ = write!(
        m,
        r#"{}{}<p class="note">Mentions of every watched brand in the range: {all} in all.</p></section>"#,
        figure(|size| charts::share_bars(&o.share, &view.brand.name, size)),
        charts::legend(&[(SELECTED, "This brand"), (OWN, "Other own brand"), (COMPETITOR, "Competitor")])
    );

    // Problem products.
    m.push_str(r#"<section class="card" id="problems">"#);
    card_head(&mut m, "Problem products", Some(&csv("problem-products", &base)));
    if o.products.problems.is_empty() {
        m.push_str(r#"<p class="note">No product with at least 3 scored mentions had a negative one.</p>"#);
    } else {
        m.push_str(r#"<div class="scroll"><table id="problems-table"><thead><tr><th>Product</th><th class="n">Scored</th><th class="n">Negative</th><th class="n">Negative share</th><th>Complaints</th></tr></thead><tbody>"#);
        for p in &o.products.problems {
            let _ = write!(
                m,
                r#"<tr data-sku="{}"><td class="nowrap">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                escape(&p.sku),
                product_link(p, &range_params),
                p.positive + p.neutral + p.negative,
                p.negative,
                pct(Some(p.negative_share)),
                escape(&aspects_text(&p.complaints))
            );
        }
        m.push_str("</tbody></table></div>");
    }
    m.push_str(r#"<p class="note">Products with the highest negative share of their targeted sentiment.</p></section>"#);

    // Most mentioned products.
    m.push_str(r#"<section class="card wide" id="products">"#);
    card_head(&mut m, "Most mentioned products", Some(&csv("products", &base)));
    if o.products.most_mentioned.is_empty() {
        m.push_str(r#"<p class="note">No product of this brand was mentioned in the range.</p>"#);
    } else {
        let _ = write!(
            m,
            r#"<div class="scroll"><table id="products-table"><thead><tr><th>Product</th><th class="n">Mentions</th><th class="n">Previous {} days</th><th class="n">Positive</th><th class="n">Neutral</th><th class="n">Negative</th><th class="n">Net</th><th>Praised</th><th>Complaints</th></tr></thead><tbody>"#,
            range.days()
        );
        for p in &o.products.most_mentioned {
            let _ = write!(
                m,
                r#"<tr data-sku="{}"><td class="nowrap">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td>{}</td></tr>"#,
                escape(&p.sku),
                product_link(p, &range_params),
                p.mentions,
                p.previous_mean.round(),
                p.positive,
                p.neutral,
                p.negative,
                signed((p.positive + p.neutral + p.negative > 0).then_some(p.net_sentiment)),
                escape(&aspects_text(&p.praised)),
                escape(&aspects_text(&p.complaints))
            );
        }
        m.push_str("</tbody></table></div>");
    }
    m.push_str(r#"<p class="note">Targeted sentiment: what each mention says about the product itself. Aspects: the three most frequent.</p></section>"#);

    // Latest mentions.
    mentions_card(&mut m, view, o);

    // Unlinked names.
    m.push_str(r#"<section class="card" id="gaps">"#);
    card_head(&mut m, "Product names not in the catalog", Some(&csv("gaps", &base)));
    gaps_table(&mut m, &o.gaps, range, tz);
    m.push_str("</section>");

    // Source health.
    m.push_str(r#"<section class="card" id="sources">"#);
    card_head(&mut m, "Source health", Some(&csv("sources", &base)));
    sources_table(&mut m, &o.sources, tz);
    m.push_str("</section>");

    page(&format!("{} overview", view.brand.name), &header, &m)
}

fn product_link(p: &ProductStat, range_params: &[(&str, String)]) -> String {
    format!(
        r#"<a href="{}{}">{}</a> <span class="muted">{}</span>"#,
        escape(&product_path(&p.sku)),
        escape(&query(range_params)),
        escape(&p.name),
        escape(&p.sku)
    )
}

fn aspects_text(aspects: &[AspectCount]) -> String {
    if aspects.is_empty() {
        return "—".to_owned();
    }
    aspects.iter().map(|a| format!("{} ({})", a.aspect, a.count)).collect::<Vec<_>>().join(", ")
}

fn mentions_card(m: &mut String, view: &View, o: &Overview) {
    let tz = view.time_zone;
    let mut all = view.base_params();
    all.extend(view.filters.iter().map(|(k, v)| (*k, v.clone())));
    m.push_str(r#"<section class="card wide" id="mentions">"#);
    card_head(m, "Latest mentions", Some(&format!("/csv/mentions{}", query(&all))));
    // The filter form: a plain GET, so the filters are in the URL (never the token).
    m.push_str(r##"<form class="filters" method="get" action="/#mentions">"##);
    for (k, v) in view.base_params() {
        let _ = write!(m, r#"<input type="hidden" name="{k}" value="{}">"#, escape(&v));
    }
    for (k, v) in view.filters.iter().filter(|(k, _)| !["sentiment", "source", "q", "product"].contains(k)) {
        let _ = write!(m, r#"<input type="hidden" name="{k}" value="{}">"#, escape(v));
    }
    let chosen = |name: &str| view.filters.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
    let select = |m: &mut String, name: &str, label: &str, options: &[(String, String)]| {
        let _ = write!(m, r#"<label>{label}<select name="{name}"><option value="">Any</option>"#);
        for (value, text) in options {
            let _ = write!(
                m,
                r#"<option value="{}"{}>{}</option>"#,
                escape(value),
                if chosen(name) == Some(value.as_str()) { " selected" } else { "" },
                escape(text)
            );
        }
        m.push_str("</select></label>");
    };
    let sentiments: Vec<(String, String)> =
        ["positive", "neutral", "negative"].iter().map(|s| (s.to_string(), s.to_string())).collect();
    select(m, "sentiment", "Sentiment", &sentiments);
    let kinds: Vec<(String, String)> =
        crate::trends::SOURCE_KINDS.iter().map(|s| (s.to_string(), s.to_string())).collect();
    select(m, "source", "Source kind", &kinds);
    let products: Vec<(String, String)> =
        o.catalog.iter().map(|(sku, name)| (sku.clone(), format!("{name} ({sku})"))).collect();
    select(m, "product", "Product", &products);
    let _ = write!(
        m,
        r#"<label class="q">Text<input type="search" name="q" value="{}" placeholder="words, &quot;a phrase&quot;, -not"></label><button type="submit">Filter</button><a class="csv" href="/{}#mentions">Clear</a></form>"#,
        escape(chosen("q").unwrap_or_default()),
        escape(&query(&view.base_params()))
    );
    let shown = o.mentions.len();
    let count = match (view.cursor.is_some(), o.next_cursor.is_some()) {
        (false, false) => format!("{shown} matching mentions."),
        (false, true) => format!("The {shown} newest matching mentions; the CSV has up to {MENTIONS_CSV}."),
        (true, _) => format!("{shown} older matching mentions."),
    };
    let _ = write!(m, r#"<p class="note" id="mentions-count" data-count="{shown}">{}</p>"#, escape(&count));
    // Paging links: the filters ride along, the cursor says where a page starts.
    let mut links = Vec::new();
    if view.cursor.is_some() {
        links.push(format!(r##"<a id="newest" href="/{}#mentions">← Newest</a>"##, escape(&query(&all))));
    }
    if let Some(next) = &o.next_cursor {
        let mut older = all.clone();
        older.push(("cursor", next.encode()));
        links.push(format!(
            r##"<a id="older" href="/{}#mentions">Older mentions →</a>"##,
            escape(&query(&older))
        ));
    }
    let pager = if links.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="pager">{}</p>"#, links.join(" · "))
    };
    if o.mentions.is_empty() {
        let _ = write!(
            m,
            r#"<p class="note">No mention matches these filters in the range.</p>{pager}</section>"#
        );
        return;
    }
    m.push_str(r#"<div class="scroll"><table id="mentions-table" class="stack"><thead><tr><th>When</th><th>Source</th><th>Sentiment</th><th>Products</th><th>Post</th></tr></thead><tbody>"#);
    for row in &o.mentions {
        mention_row(m, row, tz);
    }
    let _ = write!(m, "</tbody></table></div>{pager}</section>");
}

fn mention_row(m: &mut String, row: &MentionRow, tz: chrono_tz::Tz) {
    let sentiment = match (&row.sentiment, row.sentiment_score) {
        (Some(s), Some(score)) => format!(r#"{} <span class="muted">{score:.2}</span>"#, badge(s)),
        (Some(s), None) => badge(s),
        _ => r#"<span class="muted">not scored</span>"#.to_owned(),
    };
    let products: Vec<String> = row
        .products
        .iter()
        .map(|p| {
            format!(
                r#"<span class="nowrap"><span class="dot d-{}"></span><a href="{}">{}</a></span>"#,
                escape(p.sentiment.as_deref().unwrap_or("none")),
                escape(&product_path(&p.sku)),
                escape(&p.name)
            )
        })
        .collect();
    let mut post = String::new();
    if let Some(title) = row.title.as_deref().filter(|t| !t.trim().is_empty()) {
        let _ = write!(post, r#"<div class="title">{}</div>"#, escape(&clip(title, 160)));
    }
    if row.text.is_empty() {
        post.push_str(r#"<span class="muted">(text removed by the retention period)</span>"#);
    } else {
        let _ = write!(post, "<div>{}</div>", escape(&clip(&row.text, 300)));
    }
    let mut meta = Vec::new();
    if let Some(author) = row.author.as_deref() {
        meta.push(escape(author));
    }
    if row.engagement > 0 {
        meta.push(format!("engagement {}", row.engagement));
    }
    if let Some(url) = row.url.as_deref().and_then(web_url) {
        meta.push(format!(r#"<a href="{}" rel="noopener noreferrer nofollow">open post</a>"#, escape(url)));
    }
    if !meta.is_empty() {
        let _ = write!(post, r#"<div class="muted">{}</div>"#, meta.join(" · "));
    }
    let _ = write!(
        m,
        r#"<tr data-id="{}" data-sentiment="{}"><td class="nowrap">{}</td><td>{}<div class="muted">{}</div></td><td>{}</td><td{}>{}</td><td class="post">{}</td></tr>"#,
        row.id,
        escape(row.sentiment.as_deref().unwrap_or("none")),
        local(row.mentioned_at, tz),
        escape(&row.source),
        escape(&row.source_kind),
        sentiment,
        // An empty cell takes no line where the rows stack (phones).
        if products.is_empty() { r#" class="none""# } else { "" },
        if products.is_empty() { "—".to_owned() } else { products.join("<br>") },
        post
    );
}

fn gaps_table(m: &mut String, gaps: &[GapRow], range: &Range, tz: chrono_tz::Tz) {
    if gaps.is_empty() {
        m.push_str(
            r#"<p class="note">No product-like name without a catalog entry since the range began.</p>"#,
        );
        return;
    }
    let _ = write!(
        m,
        r#"<div class="scroll"><table id="gaps-table"><thead><tr><th>Name</th><th class="n">Since {}</th><th class="n">Last 7 days</th><th class="n">7 days before</th><th class="n">All time</th><th>First seen</th></tr></thead><tbody>"#,
        range.from
    );
    for g in gaps {
        let example = g.example_text.as_deref().map(|t| clip(t, 90)).unwrap_or_default();
        let example = match g.example_url.as_deref().and_then(web_url) {
            Some(url) if !example.is_empty() => {
                format!(
                    r#"<a href="{}" rel="noopener noreferrer nofollow">{}</a>"#,
                    escape(url),
                    escape(&example)
                )
            }
            _ => escape(&example),
        };
        let _ = write!(
            m,
            r#"<tr data-name="{0}"><td><b>{0}</b><div class="muted">{1}</div></td><td class="n">{2}</td><td class="n">{3}</td><td class="n">{4}</td><td class="n">{5}</td><td class="nowrap">{6}</td></tr>"#,
            escape(&g.surface),
            example,
            g.mentions,
            g.last_7d,
            g.prev_7d,
            g.all_time,
            local(g.first_seen, tz)
        );
    }
    m.push_str(r#"</tbody></table></div><p class="note">Names the model read as products that link to no catalog entry: candidates for <code>brandpulse catalog alias</code> or the next catalog import. Counted until now.</p>"#);
}

fn sources_table(m: &mut String, sources: &[SourceHealthRow], tz: chrono_tz::Tz) {
    if sources.is_empty() {
        m.push_str(r#"<p class="note">No sources configured.</p>"#);
        return;
    }
    m.push_str(r#"<div class="scroll"><table id="sources-table"><thead><tr><th>Source</th><th>Last fetch</th><th class="n">Failures in a row</th><th class="n">Runs 24 h</th></tr></thead><tbody>"#);
    for s in sources {
        let mut fetch = badge(&s.last_status);
        if let Some(t) = s.last_run_at {
            let _ = write!(
                fetch,
                r#" <span class="nowrap">{}</span><div class="muted">{} items, {} new</div>"#,
                local(t, tz),
                s.last_items_seen,
                s.last_new_posts
            );
        }
        if let Some(e) = s.last_error.as_deref() {
            let _ =
                write!(fetch, r#"<div class="err" title="{}">{}</div>"#, escape(e), escape(&clip(e, 120)));
        }
        // When the next try is matters while a source is backing off.
        if s.consecutive_failures > 0 {
            let _ = write!(fetch, r#"<div class="muted">next try {}</div>"#, local(s.next_due, tz));
        }
        let runs = if s.failures_24h > 0 {
            format!("{} ({} failed)", s.runs_24h, s.failures_24h)
        } else {
            s.runs_24h.to_string()
        };
        let _ = write!(
            m,
            r#"<tr data-source="{name}"><td class="nowrap"><b>{name}</b><div class="muted">{kind}{disabled}</div></td><td>{fetch}</td><td class="n">{}</td><td class="n">{runs}</td></tr>"#,
            s.consecutive_failures,
            name = escape(&s.name),
            kind = escape(&s.kind),
            disabled = if s.enabled { "" } else { " · disabled" },
        );
    }
    m.push_str("</tbody></table></div>");
}

/// A product's page.
pub fn product(p: &ProductView, range: &Range, tz: chrono_tz::Tz) -> String {
    let s = &p.summary;
    let path = product_path(&s.sku);
    let range_params = [("from", range.from.to_string()), ("to", range.to.to_string())];
    let mut csv_params = vec![("product", s.sku.clone())];
    csv_params.extend(range_params.iter().cloned());
    let mut header = format!(
        r#"<form class="controls" method="get" action="{}"><label>From<input type="date" name="from" value="{}" required></label><label>To<input type="date" name="to" value="{}" required></label><button type="submit">Apply</button></form>"#,
        escape(&path),
        range.from,
        range.to
    );
    header.push_str(LOGOUT);

    let mut m = String::new();
    let mut back = vec![("brand", s.brand.clone())];
    back.extend(range_params.iter().cloned());
    let _ = write!(
        m,
        r#"<section class="card wide" id="headline"><div class="note"><a href="/{}">← {} overview</a></div><h1>{}</h1><div class="note">{} · {} · {} · {}</div><div class="kpis">"#,
        escape(&query(&back)),
        escape(&s.brand),
        escape(&s.name),
        escape(&s.sku),
        escape(&s.brand),
        escape(s.category.as_deref().unwrap_or("no category")),
        escape(&range_text(range, tz))
    );
    let scored = s.positive + s.neutral + s.negative;
    let share = |n: i64| (scored > 0).then(|| n as f64 / scored as f64);
    kpi(&mut m, "mentions", "", &s.mentions.to_string(), "Mentions");
    kpi(&mut m, "positive", "pos", &pct(share(s.positive)), &format!("Positive ({})", s.positive));
    kpi(&mut m, "neutral", "neu", &pct(share(s.neutral)), &format!("Neutral ({})", s.neutral));
    kpi(&mut m, "negative", "neg", &pct(share(s.negative)), &format!("Negative ({})", s.negative));
    kpi(&mut m, "net", "", &signed(s.net_sentiment), "Net sentiment");
    m.push_str("</div></section>");

    m.push_str(r#"<section class="card wide" id="product-trend">"#);
    card_head(
        &mut m,
        "Mentions and targeted sentiment",
        Some(&format!("/csv/product-trend{}", query(&csv_params))),
    );
    let aria = format!(
        "Mentions of {} per day by targeted sentiment, {}: {} mentions",
        s.name,
        range_text(range, tz),
        s.mentions
    );
    let _ = write!(
        m,
        r#"<div class="split"><div>{}{}</div><div>"#,
        figure(|size| charts::day_bars(&p.days, &aria, size)),
        charts::day_legend(false)
    );
    day_table(&mut m, "product-trend-table", &p.days);
    m.push_str("</div></div></section>");

    m.push_str(r#"<section class="card" id="aspects">"#);
    card_head(&mut m, "Aspects", Some(&format!("/csv/product-aspects{}", query(&csv_params))));
    let _ = write!(
        m,
        r#"{}{}"#,
        figure(|size| charts::aspect_bars(&s.aspects, &s.name, size)),
        charts::legend(&[
            (charts::POSITIVE, "Positive"),
            (charts::NEUTRAL, "Neutral"),
            (charts::NEGATIVE, "Negative")
        ])
    );
    if !s.aspects.is_empty() {
        m.push_str(r#"<div class="scroll"><table id="aspects-table"><thead><tr><th>Aspect</th><th class="n">Positive</th><th class="n">Neutral</th><th class="n">Negative</th></tr></thead><tbody>"#);
        for a in &s.aspects {
            let _ = write!(
                m,
                r#"<tr data-aspect="{0}"><td>{0}</td><td class="n">{1}</td><td class="n">{2}</td><td class="n">{3}</td></tr>"#,
                escape(&a.aspect),
                a.positive,
                a.neutral,
                a.negative
            );
        }
        m.push_str("</tbody></table></div>");
    }
    m.push_str("</section>");

    m.push_str(r#"<section class="card" id="examples">"#);
    // The product's mentions as posts, with every column the overview's CSV has.
    let mut mention_params = vec![("brand", s.brand.clone()), ("product", s.sku.clone())];
    mention_params.extend(range_params.iter().cloned());
    card_head(&mut m, "Example mentions", Some(&format!("/csv/mentions{}", query(&mention_params))));
    if s.recent.is_empty() {
        m.push_str(r#"<p class="note">No mention of this product in the range.</p>"#);
    } else {
        m.push_str(r#"<div class="scroll"><table id="examples-table" class="stack"><thead><tr><th>When</th><th>Sentiment</th><th>What was said</th></tr></thead><tbody>"#);
        for r in &s.recent {
            let link = match r.url.as_deref().and_then(web_url) {
                Some(url) => format!(
                    r#" · <a href="{}" rel="noopener noreferrer nofollow">open post</a>"#,
                    escape(url)
                ),
                None => String::new(),
            };
            let _ = write!(
                m,
                r#"<tr data-post="{}"><td class="nowrap">{}</td><td>{}</td><td class="post"><div>{}</div><div class="muted">as “{}” · {}{}</div></td></tr>"#,
                r.post_id,
                local(r.mentioned_at, tz),
                r.sentiment
                    .as_deref()
                    .map(badge)
                    .unwrap_or_else(|| r#"<span class="muted">not scored</span>"#.to_owned()),
                escape(&clip(&r.evidence, 300)),
                escape(&r.surface),
                escape(&r.source),
                link
            );
        }
        m.push_str("</tbody></table></div>");
    }
    m.push_str("</section>");
    page(&s.name, &header, &m)
}

/// The login form; `error` says why the last attempt failed.
pub fn login(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert" id="login-error">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let main = format!(
        r#"<section class="card login"><h1>Log in</h1><p class="note">Paste the API token (<code>[api]</code> in the config). The browser keeps a session cookie made from it; the token itself is never stored or put in a URL.</p>{error}<form method="post" action="/login"><label>Token<input type="password" name="token" autocomplete="current-password" required autofocus></label><button type="submit">Log in</button></form></section>"#
    );
    page("Log in", "", &main)
}

/// An error page: what was wrong (4xx) or that something failed (5xx).
pub fn error(title: &str, message: &str) -> String {
    let main = format!(
        r#"<section class="card wide" id="error"><h1>{}</h1><p>{}</p><p><a href="/">Back to the overview</a></p></section>"#,
        escape(title),
        escape(message)
    );
    page(title, LOGOUT, &main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x') & "y"</script>"#),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn dashboard_only_web_links_become_links() {
        assert_eq!(web_url(" https://example.com/a "), Some("https://example.com/a"));
        assert_eq!(web_url("HTTP://example.com"), Some("HTTP://example.com"));
        assert_eq!(web_url("javascript:alert(1)"), None);
        assert_eq!(web_url("https://exa mple.com"), None);
    }

    #[test]
    fn dashboard_numbers_read_well() {
        assert_eq!(signed(Some(-0.0217)), "-0.02");
        assert_eq!(signed(Some(-0.001)), "0.00");
        assert_eq!(signed(None), "n/a");
        assert_eq!(pct(Some(0.625)), "62.5%");
        assert_eq!(query(&[("q", "a b&c".to_owned())]), "?q=a+b%26c");
        assert_eq!(product_path("KM-X.1_~"), "/products/KM-X.1_~");
        assert_eq!(product_path("KM X/1"), "/products/KM%20X%2F1");
        assert_eq!(clip("abcdef", 3), "abc…");
    }
}
