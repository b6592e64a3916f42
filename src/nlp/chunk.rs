//! Splitting long texts into model-sized chunks at sentence boundaries.
//!
//! The model reads at most `max_length` tokens (128 with `[CLS]`/`[SEP]`).
//! A text that fits is one chunk. A longer one is split into sentences
//! (Unicode UAX #29 sentence boundaries, from `unicode-segmentation`) that
//! are packed greedily, in order, into chunks that fit; a single sentence
//! longer than a chunk is cut between words. Every token of the text is in
//! exactly one chunk: nothing is dropped. The engine scores each chunk and
//! averages the chunks' probabilities weighted by their token counts, so a
//! long complaint with one polite sentence stays negative.

use unicode_segmentation::UnicodeSegmentation;

/// A tokenised piece of text, without special tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids.
    pub ids: Vec<u32>,
    /// For each token: does a new word start here (as opposed to `##piece`)?
    pub word_start: Vec<bool>,
}

/// Splits `text` into chunks of at most `max_tokens` token ids each (special
/// tokens not included), using `encode` to tokenise. Returns one empty chunk
/// for a text with no tokens, so every text gets a result.
pub fn split<E>(
    text: &str,
    max_tokens: usize,
    mut encode: impl FnMut(&str) -> Result<Tokens, E>,
) -> Result<Vec<Vec<u32>>, E> {
    let max_tokens = max_tokens.max(1);
    let whole = encode(text)?;
    if whole.ids.len() <= max_tokens {
        return Ok(vec![whole.ids]);
    }
    let mut chunks: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    for sentence in text.split_sentence_bounds() {
        let tokens = encode(sentence)?;
        if tokens.ids.is_empty() {
            continue;
        }
        if current.len() + tokens.ids.len() <= max_tokens {
            current.extend_from_slice(&tokens.ids);
            continue;
        }
        if !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
        }
        if tokens.ids.len() <= max_tokens {
            current = tokens.ids;
        } else {
            let mut pieces = split_between_words(&tokens, max_tokens);
            // The last piece may still share a chunk with the next sentence.
            current = pieces.pop().unwrap_or_default();
            chunks.extend(pieces);
        }
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    Ok(chunks)
}

/// Cuts an over-long sentence into pieces of at most `max_tokens`, at word
/// starts where possible (a single word longer than `max_tokens` is cut anyway).
fn split_between_words(tokens: &Tokens, max_tokens: usize) -> Vec<Vec<u32>> {
    let n = tokens.ids.len();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = (start + max_tokens).min(n);
        if end < n {
            // Back up to the start of the word that `end` falls in.
            let mut cut = end;
            while cut > start + 1 && !tokens.word_start.get(cut).copied().unwrap_or(true) {
                cut -= 1;
            }
            if cut > start + 1 || tokens.word_start.get(cut).copied().unwrap_or(true) {
                end = cut;
            }
        }
        pieces.push(tokens.ids[start..end].to_vec());
        start = end;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy tokenizer: one token per whitespace-separated word, words longer
    /// than 4 characters split into 4-character pieces (`##` continuations).
    fn toy(text: &str) -> Result<Tokens, std::convert::Infallible> {
        let mut t = Tokens::default();
        for word in text.split_whitespace() {
            let chars: Vec<char> = word.chars().collect();
            for (i, piece) in chars.chunks(4).enumerate() {
                t.ids.push(piece.iter().map(|c| *c as u32).sum());
                t.word_start.push(i == 0);
            }
        }
        Ok(t)
    }

    fn total(chunks: &[Vec<u32>]) -> usize {
        chunks.iter().map(Vec::len).sum()
    }

    #[test]
    fn a_short_text_is_one_chunk() {
        // "Really." is two toy tokens (Real ##ly.).
        let chunks = split("I love it. Really.", 16, toy).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), 5);
    }

    #[test]
    fn an_empty_text_is_one_empty_chunk() {
        assert_eq!(split("   ", 8, toy).unwrap(), vec![Vec::<u32>::new()]);
    }

    #[test]
    fn long_texts_split_at_sentences_and_keep_every_token() {
        // Capitalised: UAX #29 does not end a sentence at ". " before a lowercase word.
        let text = "Aa bb cc. Dd ee ff. Gg hh ii. Jj kk ll.";
        let all = toy(text).unwrap().ids;
        let chunks = split(text, 7, toy).unwrap();
        // Sentences of 3, 3, 3, 3 tokens packed into chunks of at most 7: 6 + 6.
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![6, 6]);
        assert_eq!(chunks.concat(), all, "every token, in order");
    }

    #[test]
    fn an_overlong_sentence_is_cut_between_words() {
        // "abcdefgh" is two tokens (abcd ##efgh); a cut must not separate them.
        let text = "aa bb cc abcdefgh dd ee ff gg hh ii jj";
        let all = toy(text).unwrap();
        let chunks = split(text, 4, toy).unwrap();
        assert_eq!(total(&chunks), all.ids.len());
        assert!(chunks.iter().all(|c| c.len() <= 4));
        assert_eq!(chunks.concat(), all.ids);
        // The first chunk stops before "abcdefgh" rather than splitting it.
        assert_eq!(chunks[0].len(), 3);
    }

    #[test]
    fn a_word_longer_than_a_chunk_is_still_cut() {
        let text = "abcdefghijklmnopqrstuvwxyz";
        let chunks = split(text, 2, toy).unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2, 1]);
    }
}
