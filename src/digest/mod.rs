//! The daily digest: one per brand per day (the day in the configured time
//! zone), computed from stored data, rendered as Markdown, HTML and JSON.
//!
//! - this file: the [`Digest`] data, whose JSON form is the versioned,
//!   documented shape (`schema_version`);
//! - [`rules`]: the spike/dip alert rule;
//! - [`render`]: Markdown, email-ready HTML (inline CSS, SVG sparkline) and JSON.

pub mod build;
pub mod deliver;
pub mod render;
pub mod rules;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// The version of the JSON shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything the digest of one brand-day says.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Digest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The brand.
    pub brand: String,
    /// The day, in `time_zone`.
    pub day: NaiveDate,
    /// IANA time zone the day is in.
    pub time_zone: String,
    /// The model id whose results were read.
    pub model_id: String,
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    /// Volume and sentiment of the day.
    pub volume: Volume,
    /// Spike and dip alerts, each with its numbers.
    pub alerts: Vec<rules::Alert>,
    /// Share of voice of every watched brand that day.
    pub share_of_voice: Vec<ShareOfVoice>,
    /// Product sections.
    pub products: Products,
    /// Product-like names the catalog lacks, rising.
    pub new_names: Vec<NewName>,
    /// The most engaged positive and negative posts.
    pub examples: Vec<Example>,
    /// Sources that failed or returned nothing that day.
    pub source_health: Vec<SourceHealth>,
    /// Mentions and net sentiment per day, the last 14 days up to `day`.
    pub sparkline: Vec<DayPoint>,
}

/// Volume and sentiment of one day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Volume {
    /// Posts mentioning the brand.
    pub mentions: u64,
    /// Scored positive.
    pub positive: u64,
    /// Scored neutral.
    pub neutral: u64,
    /// Scored negative.
    pub negative: u64,
    /// Not scored (language, empty, not analysed yet).
    pub unscored: u64,
    /// positive / scored (0 when none scored).
    pub positive_share: f64,
    /// neutral / scored.
    pub neutral_share: f64,
    /// negative / scored.
    pub negative_share: f64,
    /// (positive - negative) / scored, in -1..=1.
    pub net_sentiment: f64,
    /// Mean daily mentions over the 7 days before.
    pub trailing_7d_mean: f64,
    /// mentions / trailing mean - 1 (None when the trailing mean is 0).
    pub change_vs_7d: Option<f64>,
}

/// One brand's share of all watched brands' mentions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShareOfVoice {
    /// Brand name.
    pub brand: String,
    /// A competitor.
    pub competitor: bool,
    /// Its mentions that day.
    pub mentions: u64,
    /// mentions / all watched brands' mentions.
    pub share: f64,
}

/// The product sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Products {
    /// Most mentioned that day.
    pub most_mentioned: Vec<ProductStat>,
    /// Fastest rising: the day against the 7 days before (per-day mean), with a minimum count.
    pub rising: Vec<ProductStat>,
    /// Highest negative share, with a minimum volume.
    pub problems: Vec<ProductStat>,
}

/// One product's figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProductStat {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Mentions in the period.
    pub mentions: u64,
    /// Mean daily mentions in the comparison period.
    pub previous_mean: f64,
    /// Targeted sentiment counts.
    pub positive: u64,
    /// Neutral.
    pub neutral: u64,
    /// Negative.
    pub negative: u64,
    /// negative / scored.
    pub negative_share: f64,
    /// (positive - negative) / scored.
    pub net_sentiment: f64,
    /// Aspects most praised (positive), most first.
    pub praised: Vec<AspectCount>,
    /// Aspects most complained about (negative), most first.
    pub complaints: Vec<AspectCount>,
}

/// An aspect and how often it came up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AspectCount {
    /// Aspect name.
    pub aspect: String,
    /// Product mentions that named it with that sentiment.
    pub count: u64,
}

/// A name the catalog lacks.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NewName {
    /// As written.
    pub surface: String,
    /// Posts that day.
    pub mentions: u64,
    /// Posts in the 7 days before.
    pub previous: u64,
    /// First seen.
    pub first_seen: DateTime<Utc>,
}

/// An example post.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Example {
    /// `positive` or `negative`.
    pub sentiment: String,
    /// Source name.
    pub source: String,
    /// Author handle (or its keyed hash, `h:...`, when privacy says so).
    pub author: Option<String>,
    /// A short excerpt (at most ~280 characters) around the first brand or product mention.
    pub excerpt: String,
    /// Byte ranges in `excerpt` to highlight (the brand or product names).
    #[schema(value_type = Vec<Vec<u64>>)]
    pub highlights: Vec<(usize, usize)>,
    /// Link to the post.
    pub url: Option<String>,
    /// Engagement score used to pick it (likes + reposts + replies, as the source reports).
    pub engagement: i64,
}

/// A source that looked broken that day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SourceHealth {
    /// Source name.
    pub source: String,
    /// `failed` (every run failed) or `empty` (runs succeeded but stored nothing and saw no items).
    pub status: String,
    /// Runs that day.
    pub runs: u64,
    /// The latest error, when failed.
    pub error: Option<String>,
}

/// One day of the sparkline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayPoint {
    /// The day.
    pub day: NaiveDate,
    /// Mentions.
    pub mentions: u64,
    /// Net sentiment (None when nothing was scored).
    pub net_sentiment: Option<f64>,
}
