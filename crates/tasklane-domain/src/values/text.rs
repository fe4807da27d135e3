//! The shared rule behind every bounded text value: at most a maximum of Unicode scalar values as
//! sent, no control characters (multi-line texts keep line breaks and tabs), then optional
//! trimming and a minimum length.
//!
//! The maximum counts the text as sent, before trimming, so that the rule is exactly the
//! `maxLength` of the OpenAPI document: a client (or a fuzzer) that follows the schema is never
//! refused, and one that breaks it always is. Control characters are refused because PostgreSQL
//! cannot store NUL in text and the others have no place in titles or names.

/// Why a text value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace (or nothing at all) where text is required.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must be at most {max} characters long, got {actual}")]
    TooLong {
        /// The maximum, in characters.
        max: usize,
        /// The length received, in characters.
        actual: usize,
    },
    /// A control character (U+0000–U+001F, U+007F–U+009F) where none is allowed.
    #[error("must not contain control characters{allowed}, found U+{code:04X}")]
    ControlCharacter {
        /// The first offending character's code point.
        code: u32,
        /// What is allowed after all (`" other than line breaks and tabs"` or nothing).
        allowed: &'static str,
    },
}

/// Which control characters a text may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: no control character at all (titles, names, emails, search text).
    Single,
    /// Several lines: `\n`, `\r` and `\t` are allowed, no other control character (descriptions).
    Multi,
}

/// The first control character of `text` that `lines` does not allow.
pub fn forbidden_control(text: &str, lines: Lines) -> Option<char> {
    text.chars()
        .find(|c| c.is_control() && !(lines == Lines::Multi && matches!(c, '\n' | '\r' | '\t')))
}

/// Refuses `text` when it holds a control character that `lines` does not allow.
///
/// # Errors
/// [`TextError::ControlCharacter`] naming the first one.
pub fn check_controls(text: &str, lines: Lines) -> Result<(), TextError> {
    match forbidden_control(text, lines) {
        None => Ok(()),
        Some(c) => Err(TextError::ControlCharacter {
            code: u32::from(c),
            allowed: match lines {
                Lines::Single => "",
                Lines::Multi => " other than line breaks and tabs",
            },
        }),
    }
}

/// Checks `raw`: at most `max` characters as sent, no control character beyond what `lines`
/// allows, and at least `min` characters after trimming (when `trim` is set).
pub(crate) fn bounded(
    raw: &str,
    trim: bool,
    lines: Lines,
    min: usize,
    max: usize,
) -> Result<String, TextError> {
    let sent = raw.chars().count();
    if sent > max {
        return Err(TextError::TooLong { max, actual: sent });
    }
    // Whitespace that trimming removes (tabs, line breaks) is not part of the text.
    let text = if trim { raw.trim() } else { raw };
    check_controls(text, lines)?;
    if text.chars().count() < min {
        return Err(TextError::Empty);
    }
    Ok(text.to_owned())
}

/// Declares a newtype over `String` whose constructor applies [`bounded`].
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, trim = $trim:expr, lines = $lines:ident, min = $min:expr, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The maximum length in characters (Unicode scalar values).
            pub const MAX_CHARS: usize = $max;

            /// Validates `raw`.
            ///
            /// # Errors
            /// [`TextError`](crate::values::TextError) when the text is longer than
            /// [`Self::MAX_CHARS`] as sent, holds a control character it may not, or is empty
            /// (after trimming, where this type trims).
            pub fn new(raw: &str) -> Result<Self, $crate::values::TextError> {
                $crate::values::text::bounded(
                    raw,
                    $trim,
                    $crate::values::text::Lines::$lines,
                    $min,
                    $max,
                )
                .map(Self)
            }

            /// Wraps text this crate knows to be valid (its own constants).
            #[allow(dead_code, reason = "not every bounded type has constants")]
            pub(crate) fn from_trusted(text: &str) -> Self {
                Self(text.to_owned())
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use bounded_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        assert_eq!(
            bounded("ééé", false, Lines::Single, 1, 3),
            Ok("ééé".to_owned())
        );
        assert_eq!(
            bounded("éééé", false, Lines::Single, 1, 3),
            Err(TextError::TooLong { max: 3, actual: 4 })
        );
    }

    #[test]
    fn the_maximum_counts_the_text_as_sent_and_the_minimum_the_trimmed_text() {
        assert_eq!(
            bounded(" ab ", true, Lines::Single, 1, 4),
            Ok("ab".to_owned())
        );
        assert_eq!(
            bounded("  ab  ", true, Lines::Single, 1, 4),
            Err(TextError::TooLong { max: 4, actual: 6 })
        );
        assert_eq!(
            bounded("   ", true, Lines::Single, 1, 4),
            Err(TextError::Empty)
        );
    }

    #[test]
    fn control_characters_are_refused_except_line_breaks_and_tabs_in_multi_line_text() {
        for text in ["a\u{0}b", "a\u{1b}b", "a\u{7f}", "\u{85}x", "a\nb", "a\tb"] {
            assert!(
                matches!(
                    bounded(text, false, Lines::Single, 0, 10),
                    Err(TextError::ControlCharacter { .. })
                ),
                "{text:?}"
            );
        }
        assert_eq!(
            bounded("a\r\nb\tc", false, Lines::Multi, 0, 10),
            Ok("a\r\nb\tc".to_owned())
        );
        let nul = bounded("a\u{0}", false, Lines::Multi, 0, 10).unwrap_err();
        assert_eq!(
            nul.to_string(),
            "must not contain control characters other than line breaks and tabs, found U+0000"
        );
        assert_eq!(
            bounded("\ttitle\n", true, Lines::Single, 1, 10),
            Ok("title".to_owned()),
            "whitespace around the text is trimmed, not refused"
        );
    }
}
