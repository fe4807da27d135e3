//! A workflow status's name.

use super::text::bounded_text;

bounded_text!(
    /// A status name: trimmed, 1 to 50 characters. Unique per project, compared case-insensitively
    /// (see [`StatusName::same_as`]).
    StatusName, trim = true, lines = Single, min = 1, max = 50
);

impl StatusName {
    /// Whether two names collide under the per-project uniqueness rule (case-insensitive).
    pub fn same_as(&self, other: &StatusName) -> bool {
        self.0.to_lowercase() == other.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_collide_case_insensitively() {
        let a = StatusName::new("In Review").unwrap();
        let b = StatusName::new("in review").unwrap();
        assert!(a.same_as(&b));
        assert!(!a.same_as(&StatusName::new("Review").unwrap()));
    }

    #[test]
    fn status_name_is_trimmed_and_between_1_and_50_characters() {
        assert!(StatusName::new(&"s".repeat(50)).is_ok());
        assert!(StatusName::new(&"s".repeat(51)).is_err());
        assert!(StatusName::new("  ").is_err());
    }
}
