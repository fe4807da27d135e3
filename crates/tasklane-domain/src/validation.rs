//! Field-level validation errors, collected so that one 422 answer lists every broken rule.

use std::fmt;

/// One broken rule on one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's API name; nested fields use paths such as `tasks[3].title`.
    pub field: String,
    /// What is wrong, in words a client can show.
    pub message: String,
}

/// Every broken rule found in one input. Never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single error on `field`.
    pub fn single(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records an error on `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.to_string(),
        });
    }

    /// Keeps `result`'s value, or records its error on `field` and returns `None`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error);
                None
            }
        }
    }

    /// Moves `other`'s errors into these, prefixing each field with `prefix` (`tasks[3].`).
    pub fn absorb(&mut self, prefix: &str, other: ValidationErrors) {
        for error in other.0 {
            self.0.push(FieldError {
                field: format!("{prefix}{}", error.field),
                message: error.message,
            });
        }
    }

    /// Whether no error was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(())` when nothing was recorded, otherwise these errors.
    ///
    /// # Errors
    /// `self` when at least one error was recorded.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.field, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_collect_every_field_and_prefix_nested_ones() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.check::<u8, &str>("title", Ok(1)), Some(1));
        assert_eq!(
            errors.check::<u8, &str>("title", Err("must not be empty")),
            None
        );
        errors.absorb(
            "tasks[2].",
            ValidationErrors::single("story_points", "too many"),
        );
        assert_eq!(
            errors.to_string(),
            "title: must not be empty; tasks[2].story_points: too many"
        );
        assert!(errors.into_result().is_err());
        assert!(ValidationErrors::new().into_result().is_ok());
    }
}
