//! Trend requests: the arguments `brandpulse trends` and `GET /api/trends`
//! share, checked against the database into a store query, and the report
//! both print. One code path, so the CLI and the API give the same numbers.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::digest::build::day_start;
use crate::store::{Bucket, RisingProduct, Store, StoreError, Subject, TrendPoint, TrendQuery};

/// More buckets than this is a mistake (hours over years), not a question.
pub const MAX_BUCKETS: i64 = 20_000;
/// Products need this many mentions in the period to rank as rising.
pub const RISING_MIN_MENTIONS: i64 = 5;
/// Rising products listed.
pub const RISING_LIMIT: i64 = 10;
/// The period when neither `since` nor `from`/`to` is given.
pub const DEFAULT_SINCE_DAYS: i64 = 30;
/// Source kinds `source` accepts.
pub const SOURCE_KINDS: [&str; 7] = ["feed", "hackernews", "mastodon", "reddit", "lemmy", "bluesky", "html"];

/// A trend request, as typed by a person (CLI flags or query parameters).
/// At most one subject; `since` or `from` with `to`.
#[derive(Debug, Clone, Default)]
pub struct TrendsRequest {
    /// One brand's mentions (by name, ignoring case).
    pub brand: Option<String>,
    /// One product's mentions (by SKU).
    pub product: Option<String>,
    /// One catalog category's product mentions.
    pub category: Option<String>,
    /// Product mentions discussing one aspect.
    pub aspect: Option<String>,
    /// The period up to now.
    pub since: Option<Duration>,
    /// First day, in the digest time zone.
    pub from: Option<NaiveDate>,
    /// Last day, included.
    pub to: Option<NaiveDate>,
    /// Bucket width (default day).
    pub bucket: Option<Bucket>,
    /// Only posts from sources of this kind.
    pub source: Option<String>,
}

/// What is wrong with a request: the argument (its CLI/query name without
/// dashes) and why.
#[derive(Debug, thiserror::Error)]
pub enum TrendsError {
    /// A bad argument.
    #[error("{argument}: {message}")]
    BadArgument {
        /// `brand`, `product`, `from`, `bucket`, ...
        argument: &'static str,
        /// Why.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn bad(argument: &'static str, message: String) -> TrendsError {
    TrendsError::BadArgument { argument, message }
}

/// The report both the CLI (`--format json`) and the API return.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrendsReport {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// `hour`, `day` or `week`.
    pub bucket: String,
    /// The time zone buckets are cut in.
    pub time_zone: String,
    /// Whose sentiment.
    pub model_id: String,
    /// Every bucket of the period, empty ones as zeros.
    pub points: Vec<TrendPoint>,
    /// Products ranked by growth against the equally long period before.
    pub rising_products: Vec<RisingProduct>,
    /// Mentions a product needs in the period to rank.
    pub rising_min_mentions: i64,
}

/// `30d`, `12h`, `8w`, `90m` and anything humantime reads (`1h 30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let std = if let Some(weeks) = trimmed.strip_suffix('w').and_then(|n| n.parse::<u64>().ok()) {
        std::time::Duration::from_secs(weeks.saturating_mul(7 * 86_400))
    } else {
        humantime::parse_duration(trimmed)
            .map_err(|e| format!("`{text}` is not a duration such as 30d or 12h ({e})"))?
    };
    let duration = Duration::from_std(std).map_err(|_| format!("`{text}` is too long"))?;
    if duration <= Duration::zero() {
        return Err(format!("`{text}` is not a positive duration"));
    }
    Ok(duration)
}

/// `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("`{text}` is not a day (YYYY-MM-DD)"))
}

/// A time: a day (`2026-11-01`, midnight UTC) or RFC 3339.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// `hour`, `day`, `week`.
pub fn parse_bucket(text: &str) -> Result<Bucket, String> {
    match text {
        "hour" => Ok(Bucket::Hour),
        "day" => Ok(Bucket::Day),
        "week" => Ok(Bucket::Week),
        _ => Err(format!("`{text}` is not a bucket (hour, day or week)")),
    }
}

/// The name of a bucket width.
pub fn bucket_name(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Hour => "hour",
        Bucket::Day => "day",
        Bucket::Week => "week",
    }
}

impl TrendsRequest {
    /// Checks the request against the config and the database and makes the
    /// store query; `now` ends a `since` period.
    pub async fn resolve(
        &self,
        store: &Store,
        config: &Config,
        model_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TrendQuery, TrendsError> {
        let tz = config.digest.time_zone;
        let subjects = [&self.brand, &self.product, &self.category, &self.aspect];
        if subjects.iter().filter(|s| s.is_some()).count() > 1 {
            let argument = if self.brand.is_some() { "product" } else { "category" };
            return Err(bad(argument, "give at most one of brand, product, category and aspect".to_owned()));
        }
        let (from, to) = match (self.since, self.from, self.to) {
            (Some(_), Some(_), _) => return Err(bad("from", "give either since or from and to".to_owned())),
            (Some(_), None, Some(_)) => return Err(bad("to", "give either since or from and to".to_owned())),
            (_, Some(_), None) => return Err(bad("to", "from needs to".to_owned())),
            (_, None, Some(_)) => return Err(bad("from", "to needs from".to_owned())),
            (_, Some(from), Some(to)) => {
                if from > to {
                    return Err(bad("from", format!("{from} is after to {to}")));
                }
                let end = to
                    .checked_add_days(chrono::Days::new(1))
                    .ok_or_else(|| bad("to", format!("{to} is out of range")))?;
                (day_start(from, tz), day_start(end, tz))
            }
            (since, None, None) => (now - since.unwrap_or(Duration::days(DEFAULT_SINCE_DAYS)), now),
        };
        let bucket = self.bucket.unwrap_or(Bucket::Day);
        let width = match bucket {
            Bucket::Hour => Duration::hours(1),
            Bucket::Day => Duration::days(1),
            Bucket::Week => Duration::weeks(1),
        };
        if (to - from).num_seconds() / width.num_seconds() > MAX_BUCKETS {
            return Err(bad(
                "bucket",
                format!(
                    "more than {MAX_BUCKETS} {}s in that period; use a wider bucket",
                    bucket_name(bucket)
                ),
            ));
        }
        if let Some(kind) = &self.source
            && !SOURCE_KINDS.contains(&kind.as_str())
        {
            return Err(bad(
                "source",
                format!("`{kind}` is not a source kind ({})", SOURCE_KINDS.join(", ")),
            ));
        }
        let subject = if let Some(name) = &self.brand {
            let brands = store.brands().await?;
            match brands.iter().find(|b| b.name.to_lowercase() == name.to_lowercase()) {
                Some(b) => Subject::Brand(b.id),
                None => {
                    let known: Vec<&str> = brands.iter().map(|b| b.name.as_str()).collect();
                    return Err(bad("brand", format!("no brand `{name}` (known: {})", known.join(", "))));
                }
            }
        } else if let Some(sku) = &self.product {
            match store.product_id(sku).await? {
                Some(id) => Subject::Product(id),
                None => return Err(bad("product", format!("no product with SKU `{sku}`"))),
            }
        } else if let Some(category) = &self.category {
            if !store.category_exists(category).await? {
                return Err(bad("category", format!("no product has the category `{category}`")));
            }
            Subject::Category(category.clone())
        } else if let Some(aspect) = &self.aspect {
            if !config.aspects.aspects().any(|(name, _)| name == aspect) {
                let known: Vec<&str> = config.aspects.aspects().map(|(name, _)| name).collect();
                return Err(bad("aspect", format!("no aspect `{aspect}` (known: {})", known.join(", "))));
            }
            Subject::Aspect(aspect.clone())
        } else {
            Subject::All
        };
        Ok(TrendQuery {
            subject,
            from,
            to,
            bucket,
            time_zone: tz.name().to_owned(),
            source_kind: self.source.clone(),
            model_id: model_id.to_owned(),
        })
    }

    /// Resolves the request and runs it: the points and the rising products.
    pub async fn report(
        &self,
        store: &Store,
        config: &Config,
        model_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TrendsReport, TrendsError> {
        let query = self.resolve(store, config, model_id, now).await?;
        let points = store.trend(&query).await?;
        let rising_products = store.rising_products(&query, RISING_MIN_MENTIONS, RISING_LIMIT).await?;
        Ok(TrendsReport {
            from: query.from,
            to: query.to,
            bucket: bucket_name(query.bucket).to_owned(),
            time_zone: query.time_zone,
            model_id: model_id.to_owned(),
            points,
            rising_products,
            rising_min_mentions: RISING_MIN_MENTIONS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_days_hours_and_weeks() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_duration("8w").unwrap(), Duration::weeks(8));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("99999999999999999w").is_err(), "too long, not an overflow");
    }

    #[test]
    fn buckets_and_days_parse_or_say_why() {
        assert_eq!(parse_bucket("week").unwrap(), Bucket::Week);
        assert!(parse_bucket("month").unwrap_err().contains("`month`"));
        assert_eq!(parse_day("2026-03-29").unwrap(), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        assert!(parse_day("29/03/2026").unwrap_err().contains("YYYY-MM-DD"));
    }
}
