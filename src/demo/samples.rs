//! The bundled sample posts (`posts.jsonl`) and the timeline that dates
//! them: day 0 is 13 days ago, day 13 is today, so the demo always shows the
//! last two weeks.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;

use super::{DAYS, DemoError, SAMPLE_POSTS};

/// One bundled sample post, as written in `posts.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SamplePost {
    /// 1-based line in `posts.jsonl`: the post's stable identity.
    #[serde(skip)]
    pub line: usize,
    /// 0..=13; 13 is today.
    pub day: u32,
    /// 0..=23, UTC.
    pub hour: u32,
    /// Which kind of source carries it.
    pub source: SampleSource,
    /// Author name or handle.
    pub author: String,
    /// Title (news, HN stories, forum topics); `None` for replies and toots.
    pub title: Option<String>,
    /// The text, plain.
    pub text: String,
    /// Engagement counts.
    #[serde(default)]
    pub engagement: SampleEngagement,
    /// The sentiment the writer meant (for checking the model, never shown to it).
    pub expect: Expectation,
}

/// The kinds of source in the sample data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleSource {
    /// A tech news site's RSS feed.
    News,
    /// A Mastodon instance.
    Social,
    /// The Kestrel community forum (HTML).
    Forum,
    /// Hacker News (Algolia search).
    Hn,
}

/// Engagement counts of a sample post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SampleEngagement {
    /// Likes, favourites, points.
    pub likes: u32,
    /// Replies, comments.
    pub replies: u32,
    /// Reposts, boosts.
    pub reposts: u32,
}

/// The sentiment a sample post was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// Praise.
    Positive,
    /// Neither.
    Neutral,
    /// Complaint.
    Negative,
}

/// The bundled sample posts.
pub fn sample_posts() -> Result<Vec<SamplePost>, DemoError> {
    parse_sample_posts(SAMPLE_POSTS)
}

/// Parses sample data: one JSON object a line; blank lines are skipped.
pub fn parse_sample_posts(text: &str) -> Result<Vec<SamplePost>, DemoError> {
    let mut posts = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |message: String| DemoError::SampleData { line, message };
        let mut post: SamplePost = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        post.line = line;
        if post.day >= DAYS {
            return Err(bad(format!("day {} is not in 0..={}", post.day, DAYS - 1)));
        }
        if post.hour >= 24 {
            return Err(bad(format!("hour {} is not in 0..=23", post.hour)));
        }
        if post.text.trim().is_empty() {
            return Err(bad("the text is empty".to_owned()));
        }
        posts.push(post);
    }
    Ok(posts)
}

/// Where the sample days fall: day 13 is today (UTC), so the demo always
/// covers the last 14 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// The date of day 0.
    pub first_day: NaiveDate,
    /// The time the demo started.
    pub now: DateTime<Utc>,
}

impl Timeline {
    /// The timeline of a demo started at `now`.
    pub fn new(now: DateTime<Utc>) -> Timeline {
        Timeline { first_day: now.date_naive() - Duration::days(i64::from(DAYS) - 1), now }
    }

    /// The date of sample day `day`.
    pub fn date(&self, day: u32) -> NaiveDate {
        self.first_day + Duration::days(i64::from(day))
    }

    /// Midnight UTC starting day 0.
    pub fn start(&self) -> DateTime<Utc> {
        self.first_day.and_time(NaiveTime::MIN).and_utc()
    }

    /// Midnight UTC after day 13.
    pub fn end(&self) -> DateTime<Utc> {
        self.start() + Duration::days(i64::from(DAYS))
    }

    /// When `post` was published: its day and hour, at a minute taken from
    /// its line so that posts of one hour do not all share a timestamp.
    /// Posts of today whose hour has not come yet are moved into the last
    /// hour: the crawler would keep them, but a post from the future in the
    /// dashboard would look like a bug.
    pub fn published(&self, post: &SamplePost) -> DateTime<Utc> {
        let minute = ((post.line * 17 + 11) % 60) as i64;
        let at = self.start()
            + Duration::days(i64::from(post.day))
            + Duration::hours(i64::from(post.hour))
            + Duration::minutes(minute);
        let latest = self.now - Duration::minutes(5 + (post.line % 55) as i64);
        at.min(latest)
    }
}
