//! Board ranks: fractional, lexicographically ordered keys that place a task in its status column.
//!
//! A rank is an *integer part* followed by an optional *fraction*, over the 62 ASCII digits
//! `0-9A-Za-z` (in byte order, so plain string comparison orders ranks). The integer part's first
//! character says how many digits follow (`a` = 1, `b` = 2, …, `z` = 26; `Z` = 1, …, `A` = 26 for
//! the negative side), so appending increments a short integer instead of growing the string:
//! 10,000 appends after [`Rank::first`] end at 4 characters. The fraction never ends in `0`, which
//! guarantees that a key strictly between any two distinct ranks exists. This is the scheme of
//! "fractional indexing" (David Greenspan, Figma; rocicorp's `fractional-indexing`).
//!
//! Ties (equal ranks) can only come from outside this module, and are broken by task id.
//!
//! # Rebalance rule
//! Repeated inserts at one spot add about one character per 6 inserts (each insert halves the gap;
//! a character carries log2(62) ≈ 5.95 bits). When a placement would produce a rank longer than
//! [`Rank::REBALANCE_LEN`] characters, or its two neighbours tie, [`place`] answers
//! [`Placement::Rebalance`]: the store renumbers the whole column in the same transaction, giving
//! its tasks, in `(rank, id)` order, [`Rank::from_sequence`]`(1..=n)`, and places the task again
//! between its new neighbours. Column appends use [`Rank::from_sequence`] with a per-column counter,
//! so appends after a rebalance continue from `n + 1`.
//!
//! ```
//! use tasklane_domain::rank::Rank;
//! let a = Rank::first();
//! let c = a.after();
//! let b = Rank::between(&a, &c).unwrap();
//! assert!(a < b && b < c);
//! assert!(c.before() < c);
//! ```

use std::fmt;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: usize = 62;
const ZERO: u8 = b'0';
const LAST_DIGIT: u8 = b'z';
/// The integer part that has no predecessor; it is never a valid rank on its own.
const SMALLEST_INTEGER: &str = "A00000000000000000000000000";

/// Why a rank could not be parsed or generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankError {
    /// Not a well-formed rank.
    #[error("`{0}` is not a valid rank")]
    Invalid(String),
    /// `between(a, b)` needs `a < b`.
    #[error("rank `{low}` is not below rank `{high}`")]
    NotOrdered {
        /// The lower bound given.
        low: String,
        /// The upper bound given.
        high: String,
    },
}

/// A position in a status column. Compare ranks with `<`: the order is the string order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rank(String);

impl Rank {
    /// Placements that would produce a longer rank trigger a column rebalance (see the module
    /// documentation).
    pub const REBALANCE_LEN: usize = 32;

    /// The rank of the first task in an empty column: `a0`.
    pub fn first() -> Rank {
        Rank("a0".to_owned())
    }

    /// Parses a stored or client-supplied rank.
    ///
    /// # Errors
    /// [`RankError::Invalid`] unless `raw` is a well-formed rank.
    pub fn parse(raw: &str) -> Result<Rank, RankError> {
        let invalid = || RankError::Invalid(raw.to_owned());
        let bytes = raw.as_bytes();
        let head = *bytes.first().ok_or_else(invalid)?;
        let integer_len = integer_length(head).ok_or_else(invalid)?;
        if bytes.len() < integer_len || !bytes[1..].iter().all(|b| digit_value(*b).is_some()) {
            return Err(invalid());
        }
        if &raw[..integer_len] == SMALLEST_INTEGER
            || bytes.len() > integer_len && bytes.ends_with(b"0")
        {
            return Err(invalid());
        }
        Ok(Rank(raw.to_owned()))
    }

    /// The rank of the `n`-th append to a column: the integer `n` written in decimal digits with
    /// its length as the head (`1` → `a1`, `42` → `b42`, `1000` → `d1000`). Strictly increasing
    /// in `n`, and simple enough for a store to compute in SQL:
    /// `chr(96 + length(n::text)) || n::text`.
    pub fn from_sequence(n: u64) -> Rank {
        let digits = n.to_string();
        // At most 20 decimal digits, far below the 26 the head letters allow.
        let head = char::from(b'a' - 1 + digits.len() as u8);
        Rank(format!("{head}{digits}"))
    }

    /// A rank strictly after `self`, as short as the scheme allows: appends grow logarithmically.
    pub fn after(&self) -> Rank {
        let (integer, fraction) = self.split();
        match increment_integer(integer) {
            Some(next) => Rank(next),
            None => Rank(format!("{integer}{}", midpoint(fraction, None))),
        }
    }

    /// A rank strictly before `self`.
    pub fn before(&self) -> Rank {
        let (integer, fraction) = self.split();
        if integer == SMALLEST_INTEGER {
            return Rank(format!("{integer}{}", midpoint("", Some(fraction))));
        }
        if !fraction.is_empty() {
            return Rank(integer.to_owned());
        }
        match decrement_integer(integer) {
            Some(previous) => Rank(previous),
            // Only the smallest integer has no predecessor, and it was handled above.
            None => Rank(format!("{integer}{}", midpoint("", Some(fraction)))),
        }
    }

    /// A rank strictly between `low` and `high`.
    ///
    /// # Errors
    /// [`RankError::NotOrdered`] unless `low < high`.
    pub fn between(low: &Rank, high: &Rank) -> Result<Rank, RankError> {
        if low >= high {
            return Err(RankError::NotOrdered {
                low: low.0.clone(),
                high: high.0.clone(),
            });
        }
        let (low_integer, low_fraction) = low.split();
        let (high_integer, high_fraction) = high.split();
        if low_integer == high_integer {
            return Ok(Rank(format!(
                "{low_integer}{}",
                midpoint(low_fraction, Some(high_fraction))
            )));
        }
        if let Some(next) = increment_integer(low_integer)
            && next.as_str() < high.as_str()
        {
            return Ok(Rank(next));
        }
        Ok(Rank(format!(
            "{low_integer}{}",
            midpoint(low_fraction, None)
        )))
    }

    /// The rank as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this rank is long enough that the column should be rebalanced.
    pub fn needs_rebalance(&self) -> bool {
        self.0.len() > Self::REBALANCE_LEN
    }

    fn split(&self) -> (&str, &str) {
        // Parsed ranks always have a valid head and at least `integer_length` bytes.
        let length = self
            .0
            .as_bytes()
            .first()
            .and_then(|h| integer_length(*h))
            .unwrap_or(1);
        self.0.split_at(length.min(self.0.len()))
    }
}

impl fmt::Display for Rank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a moved task goes, given the ranks of its neighbours in the target column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Use this rank.
    At(Rank),
    /// Take the column's next append rank ([`Rank::from_sequence`] of its counter).
    Append,
    /// The neighbours tie, or the rank would exceed [`Rank::REBALANCE_LEN`]: renumber the column,
    /// then place again.
    Rebalance,
}

/// Places a task after `after` and before `before` (either may be absent).
///
/// With no upper neighbour the task is appended; with only an upper neighbour it goes before it.
///
/// The placement of a moved task in a column just renumbered as `Rank::from_sequence(1..=len)`
/// (the moved task left out), between the tasks at indices `after` / `before` of that order:
/// the second half of the rebalance rule, the same for every store.
///
/// # Errors
/// As [`place`].
pub fn place_after_renumbering(
    len: usize,
    after: Option<usize>,
    before: Option<usize>,
) -> Result<Placement, RankError> {
    let rank_at = |index: Option<usize>| index.map(|i| Rank::from_sequence(i as u64 + 1));
    let (low, high) = match (after, before) {
        (Some(a), _) => (rank_at(Some(a)), rank_at((a + 1 < len).then_some(a + 1))),
        (None, Some(b)) => (rank_at(b.checked_sub(1)), rank_at(Some(b))),
        (None, None) => (None, None),
    };
    place(low.as_ref(), high.as_ref())
}

/// # Errors
/// [`RankError::NotOrdered`] when `after` is above `before` (the client named neighbours in the
/// wrong order). Equal neighbours are a tie and give [`Placement::Rebalance`].
pub fn place(after: Option<&Rank>, before: Option<&Rank>) -> Result<Placement, RankError> {
    let rank = match (after, before) {
        (_, None) => return Ok(Placement::Append),
        (None, Some(before)) => before.before(),
        (Some(after), Some(before)) if after == before => return Ok(Placement::Rebalance),
        (Some(after), Some(before)) => Rank::between(after, before)?,
    };
    Ok(if rank.needs_rebalance() {
        Placement::Rebalance
    } else {
        Placement::At(rank)
    })
}

fn digit_value(byte: u8) -> Option<usize> {
    DIGITS.iter().position(|d| *d == byte)
}

/// Total length (head included) of an integer part starting with `head`.
fn integer_length(head: u8) -> Option<usize> {
    match head {
        b'a'..=b'z' => Some(usize::from(head - b'a') + 2),
        b'A'..=b'Z' => Some(usize::from(b'Z' - head) + 2),
        _ => None,
    }
}

/// A fraction strictly between `low` and `high` (`None` = 1), both digit strings without
/// trailing zeros, `low < high`.
fn midpoint(low: &str, high: Option<&str>) -> String {
    if let Some(high) = high {
        let (l, h) = (low.as_bytes(), high.as_bytes());
        let mut n = 0;
        while n < h.len() && l.get(n).copied().unwrap_or(ZERO) == h[n] {
            n += 1;
        }
        if n > 0 {
            return format!(
                "{}{}",
                &high[..n],
                midpoint(&low[n.min(low.len())..], Some(&high[n..]))
            );
        }
    }
    let digit_low = low.bytes().next().and_then(digit_value).unwrap_or(0);
    let digit_high = high
        .and_then(|h| h.bytes().next())
        .and_then(digit_value)
        .unwrap_or(BASE);
    if digit_high - digit_low > 1 {
        let middle = (digit_low + digit_high).div_ceil(2);
        return char::from(DIGITS[middle]).to_string();
    }
    match high {
        Some(high) if high.len() > 1 => high[..1].to_owned(),
        _ => format!(
            "{}{}",
            char::from(DIGITS[digit_low]),
            midpoint(low.get(1..).unwrap_or(""), None)
        ),
    }
}

fn increment_integer(integer: &str) -> Option<String> {
    let mut bytes = integer.as_bytes().to_vec();
    let head = bytes[0];
    let mut carry = true;
    for byte in bytes[1..].iter_mut().rev() {
        let value = digit_value(*byte).unwrap_or(0) + 1;
        if value == BASE {
            *byte = ZERO;
        } else {
            *byte = DIGITS[value];
            carry = false;
            break;
        }
    }
    if carry {
        match head {
            b'Z' => return Some("a0".to_owned()),
            b'z' => return None,
            _ => {}
        }
        let new_head = head + 1;
        let mut digits = bytes[1..].to_vec();
        if new_head > b'a' {
            digits.push(ZERO);
        } else {
            digits.pop();
        }
        bytes = std::iter::once(new_head).chain(digits).collect();
    }
    String::from_utf8(bytes).ok()
}

fn decrement_integer(integer: &str) -> Option<String> {
    let mut bytes = integer.as_bytes().to_vec();
    let head = bytes[0];
    let mut borrow = true;
    for byte in bytes[1..].iter_mut().rev() {
        match digit_value(*byte).unwrap_or(0) {
            0 => *byte = LAST_DIGIT,
            value => {
                *byte = DIGITS[value - 1];
                borrow = false;
                break;
            }
        }
    }
    if borrow {
        match head {
            b'a' => return Some("Zz".to_owned()),
            b'A' => return None,
            _ => {}
        }
        let new_head = head - 1;
        let mut digits = bytes[1..].to_vec();
        if new_head < b'Z' {
            digits.push(LAST_DIGIT);
        } else {
            digits.pop();
        }
        bytes = std::iter::once(new_head).chain(digits).collect();
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any well-formed rank: a head, its integer digits, and a fraction without a trailing zero.
    fn any_rank() -> impl Strategy<Value = Rank> {
        let head = prop_oneof![b'a'..=b'e', b'V'..=b'Z'];
        (head, proptest::collection::vec(0..BASE, 0..5), 1..BASE).prop_flat_map(
            |(head, fraction, last)| {
                let length = integer_length(head).unwrap_or(2) - 1;
                proptest::collection::vec(0..BASE, length).prop_map(move |integer| {
                    let mut text = vec![head];
                    text.extend(integer.iter().map(|d| DIGITS[*d]));
                    if !fraction.is_empty() {
                        text.extend(fraction.iter().map(|d| DIGITS[*d]));
                        text.push(DIGITS[last]);
                    }
                    Rank::parse(&String::from_utf8(text).unwrap()).unwrap()
                })
            },
        )
    }

    proptest! {
        #[test]
        fn between_is_strictly_inside_any_valid_pair(a in any_rank(), b in any_rank()) {
            prop_assume!(a != b);
            let (low, high) = if a < b { (a, b) } else { (b, a) };
            let middle = Rank::between(&low, &high).unwrap();
            prop_assert!(low < middle && middle < high, "{low} < {middle} < {high}");
            prop_assert_eq!(Rank::parse(middle.as_str()), Ok(middle.clone()));
        }

        #[test]
        fn after_and_before_stay_valid_and_ordered(a in any_rank()) {
            let after = a.after();
            let before = a.before();
            prop_assert!(before < a && a < after, "{before} < {a} < {after}");
            prop_assert!(Rank::parse(after.as_str()).is_ok() && Rank::parse(before.as_str()).is_ok());
        }

        #[test]
        fn ten_thousand_appends_stay_strictly_increasing(start in any_rank()) {
            let mut rank = start;
            for _ in 0..10_000 {
                let next = rank.after();
                prop_assert!(next > rank);
                rank = next;
            }
        }

        #[test]
        fn sequence_ranks_increase_with_the_sequence(n in 0u64..u64::MAX) {
            prop_assert!(Rank::from_sequence(n) < Rank::from_sequence(n + 1));
            prop_assert!(Rank::parse(Rank::from_sequence(n).as_str()).is_ok());
        }
    }

    #[test]
    fn rank_length_grows_slowly_report() {
        let mut appended = Rank::first();
        for _ in 0..10_000 {
            appended = appended.after();
        }
        // Inserting 1,000 times right after the same task: each insert halves the gap.
        let left = Rank::first();
        let mut right = left.after();
        for _ in 0..1_000 {
            right = Rank::between(&left, &right).unwrap();
        }
        eprintln!(
            "rank length after 10,000 appends: {}; after 1,000 inserts at one spot: {}",
            appended.as_str().len(),
            right.as_str().len()
        );
        assert_eq!(appended.as_str().len(), 4);
        assert!(
            right.as_str().len() <= 1_000 / 5 + 2,
            "got {}",
            right.as_str().len()
        );
        assert_eq!(Rank::from_sequence(10_000).as_str(), "e10000");
    }

    #[test]
    fn rank_parse_rejects_malformed_keys() {
        for bad in [
            "",
            "a",
            "0a",
            "a0 ",
            "a00",
            "b1",
            "a1-",
            SMALLEST_INTEGER,
            "!0",
        ] {
            assert!(Rank::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["a0", "a0V", "b10", "Zz", "zzzzzzzzzzzzzzzzzzzzzzzzzzz"] {
            assert!(Rank::parse(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn between_refuses_unordered_bounds() {
        let a = Rank::first();
        assert!(matches!(
            Rank::between(&a, &a),
            Err(RankError::NotOrdered { .. })
        ));
        assert!(Rank::between(&a.after(), &a).is_err());
    }

    #[test]
    fn integers_roll_over_across_heads() {
        assert_eq!(increment_integer("az").as_deref(), Some("b00"));
        assert_eq!(increment_integer("Zz").as_deref(), Some("a0"));
        assert_eq!(decrement_integer("a0").as_deref(), Some("Zz"));
        assert_eq!(decrement_integer("b00").as_deref(), Some("az"));
        assert_eq!(decrement_integer("b10").as_deref(), Some("b0z"));
        assert_eq!(
            Rank::parse("zzzzzzzzzzzzzzzzzzzzzzzzzzz")
                .unwrap()
                .after()
                .as_str(),
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzV"
        );
    }

    #[test]
    fn placement_appends_inserts_and_asks_for_rebalance() {
        let a = Rank::from_sequence(1);
        let b = Rank::from_sequence(2);
        assert_eq!(place(None, None), Ok(Placement::Append));
        assert_eq!(place(Some(&b), None), Ok(Placement::Append));
        assert_eq!(place(Some(&a), Some(&a)), Ok(Placement::Rebalance));
        match place(Some(&a), Some(&b)) {
            Ok(Placement::At(r)) => assert!(a < r && r < b),
            other => panic!("unexpected {other:?}"),
        }
        match place(None, Some(&a)) {
            Ok(Placement::At(r)) => assert!(r < a),
            other => panic!("unexpected {other:?}"),
        }
        assert!(place(Some(&b), Some(&a)).is_err());
        // Neighbours 31 shared characters deep: the middle needs 34 characters.
        let low = Rank::parse(&format!("a0{}1", "V".repeat(29))).unwrap();
        let high = Rank::parse(&format!("a0{}2", "V".repeat(29))).unwrap();
        assert_eq!(place(Some(&low), Some(&high)), Ok(Placement::Rebalance));
    }
}
