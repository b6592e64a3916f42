//! Feed dates, read as leniently as feedparser reads them. feed-rs lets a
//! parser replace its own wholesale, so this one covers what feed-rs's did
//! (RFC 3339 and RFC 2822 with their usual faults) and more: month and day
//! names in the languages feeds are written in, 12-hour clocks, times without
//! a colon, two-digit years, zone abbreviations, Unix timestamps.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

/// Reads a date as a feed writes it; `None` when it cannot be read.
pub(super) fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // The standard formats first: nearly every feed uses one of them.
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|date| date.with_timezone(&Utc))
        .or_else(|| unix_seconds(text))
        .or_else(|| iso_like(text))
        .or_else(|| free_form(text))
}

/// A Unix timestamp in seconds (some `dc:date`s hold one).
fn unix_seconds(text: &str) -> Option<DateTime<Utc>> {
    if !(9..=10).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    DateTime::from_timestamp(text.parse().ok()?, 0)
}

/// `2024-01-02`, `2024-01-02 03:04`, `2024-01-02T03:04:05.678+0100`, ...
fn iso_like(text: &str) -> Option<DateTime<Utc>> {
    // Checked slicing: `text` is arbitrary, and byte 4 could sit inside a
    // multi-byte character.
    fn number<T: std::str::FromStr>(text: &str, range: std::ops::Range<usize>) -> Option<T> {
        text.get(range)?.parse().ok()
    }
    if text.get(4..5) != Some("-") || text.get(7..8) != Some("-") {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(number(text, 0..4)?, number(text, 5..7)?, number(text, 8..10)?)?;
    let rest = text.get(10..)?.trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    let time_len =
        rest.find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.' || c == ',')).unwrap_or(rest.len());
    let time = clock(&rest[..time_len])?;
    let offset = match rest[time_len..].trim() {
        "" => Some(0),
        zone => zone_offset(zone),
    }?;
    local_to_utc(date.and_time(time), offset)
}

/// `HH:MM`, `HH:MM:SS`, `HH:MM:SS.fff`; a 24:00 that some feeds write is
/// midnight.
fn clock(text: &str) -> Option<NaiveTime> {
    let whole = text.split(['.', ',']).next()?;
    let mut parts = whole.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.parse().ok()?;
    let second: u32 = match parts.next() {
        Some(second) => second.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(if hour == 24 { 0 } else { hour }, minute, second.min(59))
}

/// A zone: `Z`, `+01:00`, `+0100`, `+01`, or an abbreviation.
fn zone_offset(zone: &str) -> Option<i32> {
    if let Some(sign) = zone.strip_prefix('+').map(|_| 1).or_else(|| zone.strip_prefix('-').map(|_| -1)) {
        let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (hours, minutes) = match digits.len() {
            1 | 2 => (digits.parse::<i32>().ok()?, 0),
            3 | 4 => {
                let split = digits.len() - 2;
                (digits[..split].parse::<i32>().ok()?, digits[split..].parse::<i32>().ok()?)
            }
            _ => return None,
        };
        return (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60));
    }
    let hours = match zone.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" => 0,
        "BST" | "CET" | "WEST" | "MEZ" => 1,
        "CEST" | "EET" | "MESZ" => 2,
        "EEST" | "MSK" => 3,
        "JST" | "KST" => 9,
        "AEST" => 10,
        "AEDT" => 11,
        "EST" => -5,
        "EDT" | "AST" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        _ => return None,
    };
    Some(hours * 3600)
}

fn local_to_utc(local: NaiveDateTime, offset_seconds: i32) -> Option<DateTime<Utc>> {
    let offset = FixedOffset::east_opt(offset_seconds)?;
    offset.from_local_datetime(&local).single().map(|date| date.with_timezone(&Utc))
}

/// Month names and abbreviations in English, German, French, Spanish,
/// Portuguese, Italian and Dutch, longest first where prefixes overlap.
#[rustfmt::skip]
const MONTHS: &[(&str, u32)] = &[
    ("janv", 1), ("jan", 1), ("ene", 1), ("gen", 1),
    ("févr", 2), ("fevr", 2), ("feb", 2), ("fev", 2),
    ("mars", 3), ("mar", 3), ("mär", 3), ("mrz", 3), ("mrt", 3),
    ("avr", 4), ("apr", 4), ("abr", 4),
    ("may", 5), ("mai", 5), ("mag", 5), ("mei", 5),
    ("juin", 6), ("jun", 6), ("giu", 6),
    ("juil", 7), ("jul", 7), ("lug", 7),
    ("août", 8), ("aout", 8), ("aug", 8), ("ago", 8),
    ("sep", 9), ("set", 9),
    ("oct", 10), ("okt", 10), ("ott", 10), ("out", 10),
    ("nov", 11),
    ("déc", 12), ("dec", 12), ("dez", 12), ("dic", 12),
];

/// The month a word names, by prefix.
fn month(word: &str) -> Option<u32> {
    let word = word.to_lowercase();
    MONTHS.iter().find(|(prefix, _)| word.starts_with(prefix)).map(|&(_, month)| month)
}

/// Anything else with a day, a month name and a year: `Friday, January 29,
/// 2021 04:42 PM`, `Seg, 24 Set 2018 19:42:40 -0300`, `03 Apr 02 1500 GMT`.
/// Weekday names are ignored, whatever their language.
fn free_form(text: &str) -> Option<DateTime<Utc>> {
    let mut day = None;
    let mut month_number = None;
    // A month word before any number may be a weekday in disguise (`mar.`
    // is Tuesday in French, Spanish and Italian): a later month word wins.
    let mut month_is_tentative = false;
    let mut seen_number = false;
    let mut year = None;
    let mut time = None;
    let mut offset = None;
    let mut pm = None;
    for token in text.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
        let token = token.trim_end_matches('.');
        if token.contains(':') && token.starts_with(|c: char| c.is_ascii_digit()) {
            // A clock, possibly with its zone glued on (`10:00:00+0200`).
            let split = token.find(['+', '-', 'Z']).unwrap_or(token.len());
            time = Some(clock(&token[..split])?);
            if split < token.len() {
                offset = zone_offset(&token[split..]);
            }
        } else if token.starts_with(['+', '-']) {
            offset = zone_offset(token);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            seen_number = true;
            let value: u32 = token.parse().ok()?;
            match token.len() {
                4 if year.is_none() => year = Some(i32::try_from(value).ok()?),
                // `1500` after the year: a time written without its colon.
                4 => time = NaiveTime::from_hms_opt(value / 100, value % 100, 0),
                1 | 2 if day.is_none() => day = Some(value),
                1 | 2 if year.is_none() => {
                    year = Some(if value < 70 { 2000 } else { 1900 } + i32::try_from(value).ok()?)
                }
                _ => return None,
            }
        } else if let Some(number) = month(token).filter(|_| month_number.is_none() || month_is_tentative) {
            month_number = Some(number);
            month_is_tentative = !seen_number && !month_is_tentative;
        } else if token.eq_ignore_ascii_case("pm") || token.eq_ignore_ascii_case("am") {
            pm = Some(token.eq_ignore_ascii_case("pm"));
        } else if let Some(zone) = zone_offset(token) {
            offset = Some(zone);
        }
        // Anything else (weekday names, "de", "at") carries nothing.
    }
    let date = NaiveDate::from_ymd_opt(year?, month_number?, day?)?;
    let mut time = time.unwrap_or(NaiveTime::MIN);
    if let Some(pm) = pm {
        let hour = time.hour() % 12 + if pm { 12 } else { 0 };
        time = time.with_hour(hour)?;
    }
    local_to_utc(date.and_time(time), offset.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<String> {
        parse(text).map(|date| date.to_rfc3339())
    }

    #[test]
    fn reads_standard_and_common_faulty_dates() {
        let cases = [
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"),
            ("2024-01-02T03:04:05.123+01:00", "2024-01-02T02:04:05.123+00:00"),
            ("2024-01-02T03:04:05+0100", "2024-01-02T02:04:05+00:00"),
            ("2024-01-02", "2024-01-02T00:00:00+00:00"),
            ("2024-01-02 03:04", "2024-01-02T03:04:00+00:00"),
            ("Tue, 17 Oct 2017 12:17:00 +0000", "2017-10-17T12:17:00+00:00"),
            ("Tue, 17 Oct 2017 12:17:00 GMT", "2017-10-17T12:17:00+00:00"),
            ("Thu, 14 May 2020 10:00:18 Z", "2020-05-14T10:00:18+00:00"),
            ("Wed, 05 Feb 2020 00:00:00 PST", "2020-02-05T08:00:00+00:00"),
            ("Thurs, 13 Jul 2011 07:38:00 GMT", "2011-07-13T07:38:00+00:00"),
            ("Sat, 25 August 2012 7:05:00 -0000", "2012-08-25T07:05:00+00:00"),
            ("Seg, 24 Set 2018 19:42:40 -0300", "2018-09-24T22:42:40+00:00"),
            ("Friday, January 29, 2021 04:42 PM", "2021-01-29T16:42:00+00:00"),
            ("03 Apr 02 1500 GMT", "2002-04-03T15:00:00+00:00"),
            ("1518478934", "2018-02-12T23:42:14+00:00"),
            ("mar., 5 mars 2024 10:00:00 +0100", "2024-03-05T09:00:00+00:00"),
            ("12 Dez 2023 12:00 AM", "2023-12-12T00:00:00+00:00"),
            ("mar, 5 feb 2024 10:00", "2024-02-05T10:00:00+00:00"),
            ("24 de setembro de 2018", "2018-09-24T00:00:00+00:00"),
        ];
        for (text, expected) in cases {
            assert_eq!(utc(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        let alphabet: Vec<char> = "0123456789-:+.,TZ apmAPMé٣日\u{fffd}".chars().collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let len = (state % 24) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&text);
        }
        for text in
            ["2024-01-0é", "2024-01-02é", "é024-01-02", "2024-01-02T\u{663}:00", "1\u{663}:00 1 Jan 2020"]
        {
            let _ = parse(text);
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for text in [
            "",
            "soon",
            "2024-13-45",
            "31 Feb 2024",
            "12:00",
            "99999999999999999999",
            "2021-01-01T00:00:00+00:0Z",
        ] {
            assert_eq!(utc(text), None, "{text}");
        }
    }
}
