//! A label's name and colour.

use std::fmt;

use super::text::bounded_text;

bounded_text!(
    /// A label name: trimmed, 1 to 50 characters. Unique per project, compared
    /// case-insensitively (see [`LabelName::same_as`]).
    LabelName, trim = true, lines = Single, min = 1, max = 50
);

impl LabelName {
    /// Whether two names collide under the per-project uniqueness rule (case-insensitive).
    pub fn same_as(&self, other: &LabelName) -> bool {
        self.0.to_lowercase() == other.0.to_lowercase()
    }
}

/// Why a colour was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a colour written #rrggbb (six hexadecimal digits)")]
pub struct LabelColorError;

/// A label's colour, `#rrggbb`, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelColor(String);

impl LabelColor {
    /// Validates `raw`: `#` and six hexadecimal digits of either case, nothing around.
    ///
    /// # Errors
    /// [`LabelColorError`] for anything else.
    pub fn new(raw: &str) -> Result<Self, LabelColorError> {
        let digits = raw.strip_prefix('#').ok_or(LabelColorError)?;
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LabelColorError);
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The colour, `#rrggbb`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LabelColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_six_hex_digits_after_a_hash_kept_in_lower_case() {
        assert_eq!(LabelColor::new("#A1b2C3").unwrap().as_str(), "#a1b2c3");
        for bad in [
            "a1b2c3", "#a1b2c", "#a1b2c3d", "#g1b2c3", " #a1b2c3", "#a1b2c3 ", "",
        ] {
            assert!(LabelColor::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_names_collide_case_insensitively() {
        let a = LabelName::new(" Bug ").unwrap();
        assert_eq!(a.as_str(), "Bug");
        assert!(a.same_as(&LabelName::new("bug").unwrap()));
        assert!(LabelName::new(&"l".repeat(51)).is_err());
    }
}
