//! One app's sensitive-word matcher: its lists' words in one Aho-Corasick automaton, matched on
//! text folded per character (Unicode compatibility decomposition, NFKD, which folds full-width
//! forms to half-width ones and half-width katakana to full-width, then lowercase), with each
//! match mapped back to the characters of the original text. Folding each character on its own
//! keeps that map simple; decomposing (rather than composing, NFKC) makes a character and its
//! decomposed spelling (`ｶﾞ`, `ガ`) fold alike.

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// What a list does to a text that contains one of its words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordAction {
    /// The message is refused (`rejected`, reason `sensitive_word`).
    #[default]
    Reject,
    /// Each character of a matched word becomes `*`.
    Mask,
}

/// What the filter made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No word matched.
    Clean,
    /// A word of a `mask` list matched: the text with them masked.
    Masked(String),
    /// A word of a `reject` list matched (the first one, folded).
    Rejected(String),
}

/// The form a word is stored in: NFKC, lowercased (it folds as the text it spells).
pub fn normalize(word: &str) -> String {
    word.nfkc().flat_map(char::to_lowercase).collect()
}

/// The form words and texts are compared in: each character decomposed (NFKD) on its own,
/// then lowercased.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(&mut out, c);
    }
    out
}

fn push_folded(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(std::iter::once(c).nfkd().flat_map(char::to_lowercase));
    }
}

/// The compiled words of one app.
#[derive(Debug)]
pub struct WordFilter {
    automaton: AhoCorasick,
    actions: Vec<WordAction>,
    words: Vec<String>,
}

impl WordFilter {
    /// A filter of `(action, word)` pairs (words folded here); `None` when there are none.
    pub fn build<'a>(words: impl IntoIterator<Item = (WordAction, &'a str)>) -> Option<Self> {
        let (actions, words): (Vec<WordAction>, Vec<String>) = words
            .into_iter()
            .map(|(action, word)| (action, fold(word)))
            .filter(|(_, word)| !word.is_empty())
            .unzip();
        if words.is_empty() {
            return None;
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("words of bounded length build an automaton");
        Some(Self {
            automaton,
            actions,
            words,
        })
    }

    /// Matches `text`: any `reject` word refuses it; otherwise every `mask` word is masked.
    pub fn check(&self, text: &str) -> Verdict {
        // `origin[i]`: the index of the original character that byte `i` of the folded text
        // came from.
        let mut folded = String::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        for (index, c) in text.chars().enumerate() {
            push_folded(&mut folded, c);
            origin.resize(folded.len(), index);
        }
        let mut masked: Vec<bool> = Vec::new();
        for found in self.automaton.find_overlapping_iter(&folded) {
            let pattern = found.pattern().as_usize();
            match self.actions[pattern] {
                WordAction::Reject => return Verdict::Rejected(self.words[pattern].clone()),
                WordAction::Mask => {
                    if masked.is_empty() {
                        masked = vec![false; text.chars().count()];
                    }
                    let (first, last) = (origin[found.start()], origin[found.end() - 1]);
                    masked[first..=last].iter_mut().for_each(|m| *m = true);
                }
            }
        }
        if masked.is_empty() {
            return Verdict::Clean;
        }
        let text = text
            .chars()
            .zip(masked)
            .map(|(c, mask)| if mask { '*' } else { c })
            .collect();
        Verdict::Masked(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> WordFilter {
        WordFilter::build([
            (WordAction::Mask, "darn"),
            (WordAction::Mask, "ＢＡＤ"),
            (WordAction::Reject, "forbidden"),
        ])
        .unwrap()
    }

    #[test]
    fn full_width_and_case_fold_to_one_form() {
        assert_eq!(fold("ＤａＲｎ"), "darn");
        assert_eq!(normalize("ＤａＲｎ"), "darn");
        assert_eq!(fold("ｶﾞ"), fold("ガ"));
        let f = WordFilter::build([(WordAction::Mask, "ガ")]).unwrap();
        assert_eq!(f.check("aｶﾞb"), Verdict::Masked("a**b".into()));
    }

    #[test]
    fn masks_the_original_characters_of_each_match() {
        let f = filter();
        assert_eq!(
            f.check("oh ＤａＲｎ it"),
            Verdict::Masked("oh **** it".into())
        );
        assert_eq!(f.check("Bad, bad"), Verdict::Masked("***, ***".into()));
        assert_eq!(f.check("fine"), Verdict::Clean);
    }

    #[test]
    fn a_reject_word_wins_over_masks() {
        assert_eq!(
            filter().check("darn ＦＯＲＢＩＤＤＥＮ"),
            Verdict::Rejected("forbidden".into())
        );
    }

    #[test]
    fn no_words_no_filter() {
        assert!(WordFilter::build([(WordAction::Mask, "")]).is_none());
    }
}
