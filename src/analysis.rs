//! The analysis worker: every stored post read once by the active model.
//!
//! A round claims a batch of posts the active model id has no result for
//! (`Store::claim_unanalysed`, row locks with `SKIP LOCKED`, so several
//! workers can share the backlog), decides per post whether the model may
//! read it (language, empty text), reads each for products
//! ([`ProductReader`]: catalog links, evidence, aspects, names the catalog
//! lacks), sends every readable post text and product evidence to the
//! [`Analyzer`] in one call, and stores the post sentiments, product
//! mentions with targeted sentiment and aspects, and unlinked names in one
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

use std::collections::HashMap;

use crate::config::Config;
use crate::matching::BrandMatcher;
use crate::nlp::{Analyzer, NlpError, Sentiment};
use crate::products::aspects::AspectLexicon;
use crate::products::{BrandTerms, CatalogEntry, ProductReader, Reading};
use crate::store::{NewProductMention, NewUnlinked, Outcome, PostFilter, PostResult, Store, StoreError};

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
    /// Catalog product mentions stored.
    pub product_mentions: u64,
    /// Unlinked product-like names stored.
    pub unlinked: u64,
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
        self.product_mentions += other.product_mentions;
        self.unlinked += other.unlinked;
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

/// Loads the product reader for `config`'s brands and the stored catalog.
/// Products of brands no longer in the config are left out.
pub async fn load_reader(store: &Store, config: &Config) -> Result<ProductReader, AnalysisError> {
    let rows = store.brands().await?;
    let mut brands = Vec::with_capacity(config.brands.len());
    for brand in &config.brands {
        let id = rows
            .iter()
            .find(|r| r.name.to_lowercase() == brand.name.to_lowercase())
            .map(|r| r.id)
            .ok_or_else(|| StoreError::NotFound {
                what: format!("brand `{}` in the database (run `brandpulse migrate`)", brand.name),
            })?;
        brands.push(BrandTerms { brand_id: id, name: brand.name.clone(), aliases: brand.aliases.clone() });
    }
    let products = store
        .catalog_entries()
        .await?
        .into_iter()
        .filter_map(|p| {
            let brand = brands.iter().position(|b| b.brand_id == p.brand_id)?;
            Some(CatalogEntry {
                product_id: p.product_id,
                sku: p.sku,
                name: p.name,
                brand,
                aliases: p.aliases,
            })
        })
        .collect();
    Ok(ProductReader::new(products, brands, BrandMatcher::new(&config.brands), config.aspects.clone()))
}

/// A reader that knows no products or brands (sentiment only).
pub fn empty_reader() -> ProductReader {
    ProductReader::new(Vec::new(), Vec::new(), BrandMatcher::new(&[]), AspectLexicon::defaults())
}

/// Turns readings and model outputs into what is stored for one post.
fn product_mentions(
    reader: &ProductReader,
    text: &str,
    reading: &Reading,
    sentiment_of: &dyn Fn(&str) -> Option<Sentiment>,
) -> Vec<NewProductMention> {
    reading
        .products
        .iter()
        .map(|f| {
            let evidence = &text[f.evidence.0..f.evidence.1];
            let sentiment = sentiment_of(evidence);
            NewProductMention {
                product_id: reader.products()[f.link.product].product_id,
                start: f.link.start,
                end: f.link.end,
                surface: f.link.surface.clone(),
                confidence: f.link.confidence,
                rule: f.link.rule.to_owned(),
                aspects: match &sentiment {
                    Some(s) => f.aspects.iter().map(|a| (a.clone(), s.label)).collect(),
                    None => Vec::new(),
                },
                sentiment,
                evidence: evidence.to_owned(),
            }
        })
        .collect()
}

/// Everything brandpulse concludes about one text (`analyze`, evaluation).
#[derive(Debug, Clone, PartialEq)]
pub struct TextReport {
    /// Whether the model may read it.
    pub gate: Gate,
    /// The text's sentiment (when scored).
    pub sentiment: Option<Sentiment>,
    /// Catalog products with targeted sentiment, evidence and aspects.
    pub products: Vec<NewProductMention>,
    /// Names the catalog lacks.
    pub unlinked: Vec<crate::products::unlinked::Candidate>,
}

/// Reads and scores one text the way the worker does, with one model call.
pub async fn analyze_text(
    reader: &ProductReader,
    analyzer: &dyn Analyzer,
    text: &str,
    lang: Option<&str>,
) -> Result<TextReport, AnalysisError> {
    let gate = gate(lang, text, analyzer.languages());
    let reading = match gate {
        Gate::SkipEmpty => Reading::default(),
        _ => reader.read(text, gate == Gate::Score),
    };
    let mut inputs = vec![text.to_owned()];
    if gate == Gate::Score {
        for f in &reading.products {
            let span = &text[f.evidence.0..f.evidence.1];
            if !inputs.iter().any(|i| i == span) {
                inputs.push(span.to_owned());
            }
        }
    }
    let sentiments = if gate == Gate::Score { analyzer.analyze(inputs.clone()).await? } else { Vec::new() };
    let sentiment_of =
        |span: &str| inputs.iter().position(|i| i == span).and_then(|i| sentiments.get(i)).cloned();
    let products = product_mentions(reader, text, &reading, &sentiment_of);
    Ok(TextReport { gate, sentiment: sentiment_of(text), products, unlinked: reading.unlinked })
}

/// Reads the backlog of one model id.
pub struct Worker<'a> {
    store: &'a Store,
    analyzer: &'a dyn Analyzer,
    reader: &'a ProductReader,
    filter: PostFilter,
    batch_posts: i64,
}

impl<'a> Worker<'a> {
    /// A worker that claims `batch_posts` posts per transaction.
    pub fn new(
        store: &'a Store,
        analyzer: &'a dyn Analyzer,
        reader: &'a ProductReader,
        batch_posts: usize,
    ) -> Worker<'a> {
        Worker {
            store,
            analyzer,
            reader,
            filter: PostFilter::default(),
            batch_posts: batch_posts.clamp(1, 10_000) as i64,
        }
    }

    /// Only posts `filter` selects (`reanalyze --since/--brand`).
    pub fn with_filter(mut self, filter: PostFilter) -> Worker<'a> {
        self.filter = filter;
        self
    }

    /// Posts the active model has not read.
    pub async fn pending(&self) -> Result<u64, AnalysisError> {
        Ok(self.store.count_unanalysed(self.analyzer.model_id(), self.filter).await?)
    }

    /// One round: claim, read, score, store. `None` when nothing was pending.
    pub async fn run_batch(&self) -> Result<Option<AnalysisReport>, AnalysisError> {
        let claim =
            self.store.claim_unanalysed(self.analyzer.model_id(), self.filter, self.batch_posts).await?;
        if claim.posts.is_empty() {
            return Ok(None);
        }
        let mut report = AnalysisReport { posts: claim.posts.len() as u64, batches: 1, ..Default::default() };
        // (post id, gate, text, reading) for every post to store.
        let mut planned: Vec<(i64, Gate, String, Reading)> = Vec::with_capacity(claim.posts.len());
        for post in &claim.posts {
            if post.already_scored {
                report.already_scored += 1;
                continue;
            }
            let text = post_text(post.title.as_deref(), &post.body);
            let gate = gate(post.lang.as_deref(), &text, self.analyzer.languages());
            let reading = match gate {
                Gate::SkipEmpty => Reading::default(),
                // Products are linked in any language (interest counts); aspects and
                // sentiment need the model's language.
                _ => self.reader.read(&text, gate == Gate::Score),
            };
            planned.push((post.id, gate, text, reading));
        }

        // One model call for every post text and every evidence span, each distinct text once.
        let mut inputs: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (_, gate, text, reading) in &planned {
            if *gate != Gate::Score {
                continue;
            }
            let spans = std::iter::once(text.as_str())
                .chain(reading.products.iter().map(|f| &text[f.evidence.0..f.evidence.1]));
            for span in spans {
                if !index.contains_key(span) {
                    index.insert(span.to_owned(), inputs.len());
                    inputs.push(span.to_owned());
                }
            }
        }
        let sentiments = if inputs.is_empty() { Vec::new() } else { self.analyzer.analyze(inputs).await? };
        let sentiment_of = |span: &str| index.get(span).and_then(|&i| sentiments.get(i)).cloned();

        let mut results = Vec::with_capacity(planned.len());
        for (post_id, gate, text, reading) in &planned {
            let outcome = match gate {
                Gate::Score => match sentiment_of(text) {
                    Some(s) => {
                        report.scored += 1;
                        Outcome::Scored(s)
                    }
                    None => return Err(AnalysisError::Model(NlpError::Stopped)),
                },
                Gate::SkipLanguage => {
                    report.skipped_language += 1;
                    Outcome::SkippedLanguage
                }
                Gate::SkipEmpty => {
                    report.skipped_empty += 1;
                    Outcome::SkippedEmpty
                }
            };
            let no_sentiment = |_: &str| None;
            let products = if *gate == Gate::Score {
                product_mentions(self.reader, text, reading, &sentiment_of)
            } else {
                product_mentions(self.reader, text, reading, &no_sentiment)
            };
            report.product_mentions += products.len() as u64;
            let unlinked: Vec<NewUnlinked> = reading
                .unlinked
                .iter()
                .map(|c| NewUnlinked {
                    brand_id: c.brand.and_then(|b| self.reader.brands().get(b)).map(|b| b.brand_id),
                    normalized: c.normalized.clone(),
                    surface: c.surface.clone(),
                })
                .collect();
            report.unlinked += unlinked.len() as u64;
            results.push(PostResult { post_id: *post_id, outcome, products, unlinked });
        }
        claim.commit(&results).await?;
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
