//! A user's email, display name, avatar URL, and a password before it is hashed.

use std::fmt;

use super::text::bounded_text;

/// Why an email address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Not of the form `local@domain.tld`.
    #[error("`{0}` is not a valid email address: expected something like name@example.com")]
    Malformed(String),
    /// Over 254 characters (RFC 5321's limit).
    #[error("must be at most 254 characters long")]
    TooLong,
}

/// An email address: trimmed, stored as given, compared case-insensitively
/// ([`Email::normalized`] is the form uniqueness is checked on).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The longest address accepted.
    pub const MAX_CHARS: usize = 254;

    /// Validates `raw`: one `@`, a non-empty local part, a domain with a dot that neither starts
    /// nor ends the domain, no whitespace.
    ///
    /// # Errors
    /// [`EmailError`] when malformed or too long.
    pub fn new(raw: &str) -> Result<Self, EmailError> {
        // The maximum counts the address as sent, like the schema's `maxLength`.
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(EmailError::TooLong);
        }
        let email = raw.trim();
        let malformed = || EmailError::Malformed(raw.to_owned());
        let (local, domain) = email.split_once('@').ok_or_else(malformed)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || !domain_ok
            || domain.contains('@')
            || email.contains(|c: char| c.is_whitespace() || c.is_control())
        {
            return Err(malformed());
        }
        Ok(Self(email.to_owned()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form used for uniqueness and look-ups.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

bounded_text!(
    /// A user's display name: trimmed, 1 to 100 characters.
    DisplayName, trim = true, lines = Single, min = 1, max = 100
);

/// Why an avatar URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvatarUrlError {
    /// Not an `http://` or `https://` URL.
    #[error("must be an http:// or https:// URL")]
    NotHttp,
    /// Over 500 characters.
    #[error("must be at most 500 characters long")]
    TooLong,
}

/// An avatar URL: `http(s)://…`, at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    /// The longest URL accepted.
    pub const MAX_CHARS: usize = 500;

    /// Validates `raw`.
    ///
    /// # Errors
    /// [`AvatarUrlError`] when it is not an HTTP(S) URL or is too long.
    pub fn new(raw: &str) -> Result<Self, AvatarUrlError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(AvatarUrlError::TooLong);
        }
        let url = raw.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or(AvatarUrlError::NotHttp)?;
        if rest.is_empty() || url.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(AvatarUrlError::NotHttp);
        }
        Ok(Self(url.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a password was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be between 8 and 128 characters long, got {0}")]
pub struct PasswordError(pub usize);

/// A password as typed, 8 to 128 characters, before hashing. Never printed: its `Debug` output
/// is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Validates `raw` (not trimmed: spaces are part of a password).
    ///
    /// # Errors
    /// [`PasswordError`] outside 8..=128 characters.
    pub fn new(raw: &str) -> Result<Self, PasswordError> {
        let length = raw.chars().count();
        if (8..=128).contains(&length) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(PasswordError(length))
        }
    }

    /// A password that matches no hash, verified in place of an invalid one so that login does
    /// the same work whatever it was given.
    pub fn placeholder() -> Self {
        Self("\u{0}placeholder-never-a-valid-password".to_owned())
    }

    /// The secret, for the hasher.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_common_addresses_and_keeps_their_case() {
        let email = Email::new(" Ada.Lovelace+x@Example.co.uk ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+x@Example.co.uk");
        assert_eq!(email.normalized(), "ada.lovelace+x@example.co.uk");
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "", "ada", "@x.io", "ada@", "ada@io", "ada@.io", "ada@io.", "a b@x.io", "a@b@x.io",
            "a@x..io",
        ] {
            assert!(Email::new(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert_eq!(Email::new(&long), Err(EmailError::TooLong));
        assert!(Email::new(&long[1..]).is_ok(), "254 characters fit");
    }

    #[test]
    fn display_name_is_trimmed_and_between_1_and_100_characters() {
        assert!(DisplayName::new(&"n".repeat(100)).is_ok());
        assert!(DisplayName::new(&"n".repeat(101)).is_err());
        assert!(DisplayName::new(" ").is_err());
    }

    #[test]
    fn avatar_url_must_be_http_and_at_most_500_characters() {
        assert!(AvatarUrl::new("https://cdn.example.com/a.png").is_ok());
        assert_eq!(
            AvatarUrl::new("ftp://x/a.png"),
            Err(AvatarUrlError::NotHttp)
        );
        assert_eq!(AvatarUrl::new("https://"), Err(AvatarUrlError::NotHttp));
        let long = format!("https://{}", "a".repeat(493));
        assert_eq!(long.len(), 501);
        assert_eq!(AvatarUrl::new(&long), Err(AvatarUrlError::TooLong));
        assert!(AvatarUrl::new(&long[..500]).is_ok());
    }

    #[test]
    fn password_is_8_to_128_characters_and_never_printed() {
        assert!(Password::new("12345678").is_ok());
        assert_eq!(Password::new("1234567"), Err(PasswordError(7)));
        assert!(Password::new(&"p".repeat(128)).is_ok());
        assert_eq!(Password::new(&"p".repeat(129)), Err(PasswordError(129)));
        let password = Password::new("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
