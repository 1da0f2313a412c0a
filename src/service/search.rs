//! Staff search: one text, matched exactly against card references, the last four digits of card
//! and token numbers, virtual card ids, token reference ids (a token's own, or that of the original
//! token a COF token was made from), correlation ids and decision ids. Text that could be a card or
//! token number is refused before any lookup (staff never search by one: the store has no clear
//! numbers, and a page must not echo one).
//!
//! Must not: do prefix or fuzzy matching (it would turn search into enumeration), or return the
//! refused text.

use crate::domain::{CardRecord, DecisionRecord, Enrollment, TokenRecord};
use crate::store::{Page, Store, StoreError};

/// Longest search text accepted; identifiers are far shorter.
pub const MAX_QUERY_CHARS: usize = 128;
/// Most results listed per kind.
const LIMIT: usize = 50;

/// Why a search text was not looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchRefusal {
    Empty,
    TooLong,
    /// 12 or more digits in a row: possibly a card or token number.
    CardNumber,
}

/// How a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMatch {
    VirtualCardId,
    Last4,
    /// The token's own reference id.
    TokenReference,
    OriginalTokenReference,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// Cards by reference or by last four digits.
    pub cards: Vec<CardRecord>,
    pub tokens: Vec<(TokenRecord, TokenMatch)>,
    pub enrollment: Option<Enrollment>,
    pub decision: Option<DecisionRecord>,
}

impl SearchResults {
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
            && self.tokens.is_empty()
            && self.enrollment.is_none()
            && self.decision.is_none()
    }
}

/// True when `text` holds a run of 12 or more digits (spaces and dashes between digits ignored).
pub fn looks_like_card_number(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 12 {
                return true;
            }
        } else if c != ' ' && c != '-' {
            run = 0;
        }
    }
    false
}

/// Checks the text; `Ok` holds the trimmed text to look up.
pub fn check_query(text: &str) -> Result<&str, SearchRefusal> {
    let text = text.trim();
    if text.is_empty() {
        Err(SearchRefusal::Empty)
    } else if looks_like_card_number(text) {
        Err(SearchRefusal::CardNumber)
    } else if text.chars().count() > MAX_QUERY_CHARS {
        Err(SearchRefusal::TooLong)
    } else {
        Ok(text)
    }
}

fn is_last4(text: &str) -> bool {
    text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Looks the text up everywhere it could be an identifier.
pub async fn search(
    store: &Store,
    text: &str,
) -> Result<Result<SearchResults, SearchRefusal>, StoreError> {
    let q = match check_query(text) {
        Ok(q) => q.to_owned(),
        Err(refusal) => return Ok(Err(refusal)),
    };
    let results = store
        .read(move |r| {
            let page = Page::new(0, LIMIT);
            let mut found = SearchResults::default();
            if let Some(card) = r.card(&q)? {
                found.cards.push(card);
            }
            if let Some(token) = r.token(&q)? {
                found.tokens.push((token, TokenMatch::VirtualCardId));
            }
            if is_last4(&q) {
                found.cards.extend(r.cards_by_last4(&q, page)?.data);
                let tokens = r.tokens_by_last4(&q, page)?.data;
                found
                    .tokens
                    .extend(tokens.into_iter().map(|t| (t, TokenMatch::Last4)));
            }
            for id in r.token_ids_by_reference(&q)?.iter().take(LIMIT) {
                if let Some(token) = r.token(id)? {
                    found.tokens.push((token, TokenMatch::TokenReference));
                }
            }
            let by_reference = r.tokens_by_original_reference(&q, page)?.data;
            found.tokens.extend(
                by_reference
                    .into_iter()
                    .map(|t| (t, TokenMatch::OriginalTokenReference)),
            );
            found.enrollment = r.enrollment(&q)?;
            found.decision = r.decision(&q)?;
            Ok(found)
        })
        .await?;
    Ok(Ok(results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_like_digit_runs_are_refused_before_any_lookup() {
        for yes in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "x 4111-1111-1111-1111 y",
        ] {
            assert_eq!(check_query(yes), Err(SearchRefusal::CardNumber), "{yes}");
        }
        for no in [
            "1111",
            "ref 12345678901",
            "2026-11-30 12:00",
            "a1b2c3",
            "VC-12",
        ] {
            assert!(check_query(no).is_ok(), "{no}");
        }
        assert_eq!(check_query("   "), Err(SearchRefusal::Empty));
        assert_eq!(check_query(&"x".repeat(129)), Err(SearchRefusal::TooLong));
        assert_eq!(check_query(" VC-1 "), Ok("VC-1"));
    }
}
