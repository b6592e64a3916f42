//! Accuracy figures: TweetEval's metric, macro-averaged recall.
//!
//! Macro recall is the mean over the three classes of the share of that
//! class's posts the model labelled correctly. Unlike accuracy it is not
//! flattered by the majority class (neutral), which is why TweetEval and
//! SemEval-2017 rank sentiment systems by it.

use serde::Serialize;

use super::Label;

/// The result of scoring a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Mean of the per-class recalls, in 0..=1.
    pub macro_recall: f64,
    /// Recall per class, `[negative, neutral, positive]`.
    pub recall: [f64; 3],
    /// `confusion[gold][predicted]`, classes in the order negative, neutral, positive.
    pub confusion: [[u64; 3]; 3],
    /// Labelled texts scored.
    pub n: u64,
    /// Share of texts labelled correctly.
    pub accuracy: f64,
}

impl Evaluation {
    /// Compares predictions with gold labels (pairs in the same order).
    pub fn new(gold: &[Label], predicted: &[Label]) -> Evaluation {
        let mut confusion = [[0u64; 3]; 3];
        for (g, p) in gold.iter().zip(predicted) {
            confusion[g.index()][p.index()] += 1;
        }
        let mut recall = [0.0; 3];
        for (k, row) in confusion.iter().enumerate() {
            let total: u64 = row.iter().sum();
            // A class with no gold examples counts as recall 0 (and is visible in `confusion`).
            recall[k] = if total == 0 { 0.0 } else { row[k] as f64 / total as f64 };
        }
        let n: u64 = confusion.iter().flatten().sum();
        let correct: u64 = (0..3).map(|k| confusion[k][k]).sum();
        Evaluation {
            macro_recall: recall.iter().sum::<f64>() / 3.0,
            recall,
            confusion,
            n,
            accuracy: if n == 0 { 0.0 } else { correct as f64 / n as f64 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::*;

    #[test]
    fn macro_recall_averages_the_classes() {
        let gold = [Negative, Negative, Neutral, Neutral, Neutral, Neutral, Positive, Positive];
        let pred = [Negative, Neutral, Neutral, Neutral, Neutral, Positive, Positive, Positive];
        let e = Evaluation::new(&gold, &pred);
        assert_eq!(e.confusion, [[1, 1, 0], [0, 3, 1], [0, 0, 2]]);
        assert_eq!(e.recall, [0.5, 0.75, 1.0]);
        assert!((e.macro_recall - 0.75).abs() < 1e-12);
        assert_eq!(e.n, 8);
        assert!((e.accuracy - 0.75).abs() < 1e-12);
    }

    #[test]
    fn a_majority_guesser_scores_one_third() {
        let gold = [Negative, Neutral, Neutral, Neutral, Positive];
        let e = Evaluation::new(&gold, &[Neutral; 5]);
        assert!((e.macro_recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.accuracy - 0.6).abs() < 1e-12);
    }
}
