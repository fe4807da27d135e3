//! The shared rule behind every bounded text value: optional trimming, then a length in Unicode
//! scalar values between a minimum and a maximum.

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
}

/// Checks `raw` against `min..=max` characters, trimming first when `trim` is set.
pub(crate) fn bounded(raw: &str, trim: bool, min: usize, max: usize) -> Result<String, TextError> {
    let text = if trim { raw.trim() } else { raw };
    let length = text.chars().count();
    if length < min {
        return Err(TextError::Empty);
    }
    if length > max {
        return Err(TextError::TooLong {
            max,
            actual: length,
        });
    }
    Ok(text.to_owned())
}

/// Declares a newtype over `String` whose constructor applies [`bounded`].
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, trim = $trim:expr, min = $min:expr, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The maximum length in characters (Unicode scalar values).
            pub const MAX_CHARS: usize = $max;

            /// Validates `raw`.
            ///
            /// # Errors
            /// [`TextError`](crate::values::TextError) when the text is empty (after trimming,
            /// where this type trims) or longer than [`Self::MAX_CHARS`].
            pub fn new(raw: &str) -> Result<Self, $crate::values::TextError> {
                $crate::values::text::bounded(raw, $trim, $min, $max).map(Self)
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
        assert_eq!(bounded("ééé", false, 1, 3), Ok("ééé".to_owned()));
        assert_eq!(
            bounded("éééé", false, 1, 3),
            Err(TextError::TooLong { max: 3, actual: 4 })
        );
    }

    #[test]
    fn trimming_happens_before_the_length_check() {
        assert_eq!(bounded("  ab  ", true, 1, 2), Ok("ab".to_owned()));
        assert_eq!(bounded("   ", true, 1, 2), Err(TextError::Empty));
    }
}
