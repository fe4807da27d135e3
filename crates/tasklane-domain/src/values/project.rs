//! A project's key, name and description.

use std::fmt;

use super::text::bounded_text;

/// Why a project key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a valid project key: expected 2 to 10 characters, a letter A-Z first, then letters A-Z or digits 0-9"
)]
pub struct ProjectKeyError {
    /// The rejected input.
    pub input: String,
}

/// A project's short key, `^[A-Z][A-Z0-9]{1,9}$`, unique across the instance and immutable.
///
/// Input is trimmed and upper-cased first, so `web` becomes `WEB`; this is how two keys that
/// differ only in case are recognised as the same key.
///
/// ```
/// use tasklane_domain::values::ProjectKey;
/// assert_eq!(ProjectKey::new(" web ").unwrap().as_str(), "WEB");
/// assert!(ProjectKey::new("9LIVES").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectKey(String);

impl ProjectKey {
    /// Validates and normalises `raw`.
    ///
    /// # Errors
    /// [`ProjectKeyError`] unless the upper-cased, trimmed input is a letter followed by 1 to 9
    /// letters or digits (ASCII).
    pub fn new(raw: &str) -> Result<Self, ProjectKeyError> {
        let key = raw.trim().to_ascii_uppercase();
        let mut chars = key.chars();
        let valid = matches!(chars.next(), Some('A'..='Z'))
            && (2..=10).contains(&key.len())
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if valid {
            Ok(Self(key))
        } else {
            Err(ProjectKeyError {
                input: raw.to_owned(),
            })
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

bounded_text!(
    /// A project's name: trimmed, 1 to 255 characters.
    ProjectName, trim = true, lines = Single, min = 1, max = 255
);

bounded_text!(
    /// A project's description: at most 10,000 characters, kept as given (may be empty).
    ProjectDescription, trim = false, lines = Multi, min = 0, max = 10_000
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::TextError;

    #[test]
    fn project_key_accepts_two_to_ten_characters_starting_with_a_letter() {
        assert!(ProjectKey::new("AB").is_ok());
        assert!(ProjectKey::new("A123456789").is_ok());
        assert!(ProjectKey::new("A").is_err(), "1 character is too short");
        assert!(
            ProjectKey::new("A1234567890").is_err(),
            "11 characters is too long"
        );
        assert!(ProjectKey::new("1AB").is_err(), "must start with a letter");
        assert!(ProjectKey::new("A-B").is_err(), "no punctuation");
        assert!(ProjectKey::new("ÄB").is_err(), "ASCII only");
        assert!(ProjectKey::new("").is_err());
    }

    #[test]
    fn project_key_is_upper_cased_so_case_variants_are_one_key() {
        assert_eq!(ProjectKey::new("web"), ProjectKey::new("WEB"));
        let err = ProjectKey::new("w").unwrap_err();
        assert!(err.to_string().contains("2 to 10 characters"));
    }

    #[test]
    fn project_name_is_trimmed_and_between_1_and_255_characters() {
        assert_eq!(ProjectName::new("  Web  ").unwrap().as_str(), "Web");
        assert!(ProjectName::new(&"n".repeat(255)).is_ok());
        assert_eq!(
            ProjectName::new(&"n".repeat(256)),
            Err(TextError::TooLong {
                max: 255,
                actual: 256
            })
        );
        assert_eq!(ProjectName::new(" \t "), Err(TextError::Empty));
    }

    #[test]
    fn project_description_allows_empty_and_at_most_10000_characters() {
        assert!(ProjectDescription::new("").is_ok());
        assert!(ProjectDescription::new(&"d".repeat(10_000)).is_ok());
        assert!(ProjectDescription::new(&"d".repeat(10_001)).is_err());
    }
}
