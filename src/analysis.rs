//! The analysis worker: every stored post read once by the active model.
//!
//! A round claims a batch of posts the active model id has no result for
//! (`Store::claim_unanalysed`, row locks with `SKIP LOCKED`, so several
//! workers can share the backlog), decides per post whether the model may
//! read it (language, empty text), sends the readable ones to the
//! [`Analyzer`] in one call, and stores every outcome and commits in one
//! transaction. With nothing pending a round costs one indexed query and no
//! model call.
//!
//! Languages: a post is scored when its language (detected at crawl time,
//! ISO 639-3) is one the model was trained on (the manifest's `languages`:
//! English for the shipped model). A post whose language could not be
//! detected (`unknown`: usually a short post) is scored when it is written in
//! Latin script, because short English posts are the common case and the
//! detector cannot place them; anything else is stored as
//! `skipped_language`, never given an English-model label.

use crate::nlp::{Analyzer, NlpError};
use crate::store::{Outcome, PendingPost, Store, StoreError};

/// Why a round failed. Nothing of the failed batch is stored; it is picked up again.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model failed.
    #[error("the sentiment model failed")]
    Model(#[from] NlpError),
}

/// What the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalysisReport {
    /// Posts handled (all outcomes).
    pub posts: u64,
    /// Posts the model read.
    pub scored: u64,
    /// Posts not scored: language.
    pub skipped_language: u64,
    /// Posts not scored: no text.
    pub skipped_empty: u64,
    /// Posts this model had already read (only marked).
    pub already_scored: u64,
    /// Transactions committed.
    pub batches: u64,
}

impl AnalysisReport {
    fn add(&mut self, other: &AnalysisReport) {
        self.posts += other.posts;
        self.scored += other.scored;
        self.skipped_language += other.skipped_language;
        self.skipped_empty += other.skipped_empty;
        self.already_scored += other.already_scored;
        self.batches += other.batches;
    }
}

/// Whether the model may read a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send it to the model.
    Score,
    /// A language the model was not trained on.
    SkipLanguage,
    /// Nothing to read.
    SkipEmpty,
}

/// Decides whether the model may read `text` written in `lang` (see the module docs).
pub fn gate(lang: Option<&str>, text: &str, languages: &[String]) -> Gate {
    if !text.chars().any(char::is_alphanumeric) {
        return Gate::SkipEmpty;
    }
    match lang {
        Some(code) if languages.iter().any(|l| l == code) => Gate::Score,
        None | Some("unknown") => match whatlang::detect_script(text) {
            Some(whatlang::Script::Latin) => Gate::Score,
            _ => Gate::SkipLanguage,
        },
        Some(_) => Gate::SkipLanguage,
    }
}

/// The text the model reads for a post: the title, when there is one the body
/// does not already start with, then the body.
pub fn post_text(title: Option<&str>, body: &str) -> String {
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(title) if !body.trim_start().starts_with(title) => format!("{title}\n\n{body}"),
        _ => body.to_owned(),
    }
}

/// Reads the backlog of one model id.
pub struct Worker<'a> {
    store: &'a Store,
    analyzer: &'a dyn Analyzer,
    batch_posts: i64,
}

impl<'a> Worker<'a> {
    /// A worker that claims `batch_posts` posts per transaction.
    pub fn new(store: &'a Store, analyzer: &'a dyn Analyzer, batch_posts: usize) -> Worker<'a> {
        Worker { store, analyzer, batch_posts: batch_posts.clamp(1, 10_000) as i64 }
    }

    /// Posts the active model has not read.
    pub async fn pending(&self) -> Result<u64, AnalysisError> {
        Ok(self.store.count_unanalysed(self.analyzer.model_id()).await?)
    }

    /// One round: claim, score, store. `None` when nothing was pending.
    pub async fn run_batch(&self) -> Result<Option<AnalysisReport>, AnalysisError> {
        let claim = self.store.claim_unanalysed(self.analyzer.model_id(), self.batch_posts).await?;
        if claim.posts.is_empty() {
            return Ok(None);
        }
        let mut report = AnalysisReport { posts: claim.posts.len() as u64, batches: 1, ..Default::default() };
        let mut outcomes: Vec<(i64, Outcome)> = Vec::with_capacity(claim.posts.len());
        let mut to_score: Vec<(i64, String)> = Vec::new();
        for PendingPost { id, title, body, lang, already_scored } in &claim.posts {
            if *already_scored {
                report.already_scored += 1;
                continue;
            }
            let text = post_text(title.as_deref(), body);
            match gate(lang.as_deref(), &text, self.analyzer.languages()) {
                Gate::Score => to_score.push((*id, text)),
                Gate::SkipLanguage => {
                    report.skipped_language += 1;
                    outcomes.push((*id, Outcome::SkippedLanguage));
                }
                Gate::SkipEmpty => {
                    report.skipped_empty += 1;
                    outcomes.push((*id, Outcome::SkippedEmpty));
                }
            }
        }
        if !to_score.is_empty() {
            let (ids, texts): (Vec<i64>, Vec<String>) = to_score.into_iter().unzip();
            let sentiments = self.analyzer.analyze(texts).await?;
            report.scored += sentiments.len() as u64;
            outcomes.extend(ids.into_iter().zip(sentiments.into_iter().map(Outcome::Scored)));
        }
        claim.commit(&outcomes).await?;
        Ok(Some(report))
    }

    /// Rounds until nothing is pending; `progress` sees each round's report.
    pub async fn run_until_idle(
        &self,
        mut progress: impl FnMut(&AnalysisReport),
    ) -> Result<AnalysisReport, AnalysisError> {
        let mut total = AnalysisReport::default();
        while let Some(report) = self.run_batch().await? {
            progress(&report);
            total.add(&report);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eng() -> Vec<String> {
        vec!["eng".to_owned()]
    }

    #[test]
    fn english_is_scored_other_languages_are_not() {
        assert_eq!(gate(Some("eng"), "I love my new Kestrel phone", &eng()), Gate::Score);
        assert_eq!(gate(Some("deu"), "Ich liebe mein neues Telefon", &eng()), Gate::SkipLanguage);
        assert_eq!(gate(Some("jpn"), "新しいスマホが大好き", &eng()), Gate::SkipLanguage);
    }

    #[test]
    fn undetected_short_posts_are_scored_only_in_latin_script() {
        assert_eq!(gate(Some("unknown"), "love it!!", &eng()), Gate::Score);
        assert_eq!(gate(None, "meh", &eng()), Gate::Score);
        assert_eq!(gate(Some("unknown"), "最高", &eng()), Gate::SkipLanguage);
        assert_eq!(gate(Some("unknown"), "отлично", &eng()), Gate::SkipLanguage);
    }

    #[test]
    fn text_without_letters_or_digits_is_empty() {
        assert_eq!(gate(Some("eng"), "  !!! 🙂 ", &eng()), Gate::SkipEmpty);
        assert_eq!(gate(Some("eng"), "", &eng()), Gate::SkipEmpty);
    }

    #[test]
    fn the_title_is_read_unless_the_body_repeats_it() {
        assert_eq!(
            post_text(Some("Kestrel X2 review"), "Battery is great."),
            "Kestrel X2 review\n\nBattery is great."
        );
        assert_eq!(post_text(Some("Great phone"), "Great phone, truly."), "Great phone, truly.");
        assert_eq!(post_text(Some("  "), "body"), "body");
        assert_eq!(post_text(None, "body"), "body");
    }
}
