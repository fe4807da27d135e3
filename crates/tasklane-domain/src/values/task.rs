//! A task's title, description, story points and key.

use std::fmt;
use std::str::FromStr;

use super::project::ProjectKey;
use super::text::bounded_text;

bounded_text!(
    /// A task title: trimmed, 1 to 500 characters (Unicode scalar values).
    TaskTitle, trim = true, lines = Single, min = 1, max = 500
);

bounded_text!(
    /// A task description: at most 100,000 characters, kept as given.
    TaskDescription, trim = false, lines = Multi, min = 0, max = 100_000
);

bounded_text!(
    /// A comment (Markdown, stored as text): trimmed, 1 to 10,000 characters, line breaks kept.
    CommentBody, trim = true, lines = Multi, min = 1, max = 10_000
);

/// Why story points were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be between 0 and 100, got {0}")]
pub struct StoryPointsError(pub i64);

/// An estimate in story points, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoryPoints(u8);

impl StoryPoints {
    /// The largest estimate.
    pub const MAX: u8 = 100;

    /// Validates `points`.
    ///
    /// # Errors
    /// [`StoryPointsError`] outside `0..=100`.
    pub fn new(points: i64) -> Result<Self, StoryPointsError> {
        u8::try_from(points)
            .ok()
            .filter(|p| *p <= Self::MAX)
            .map(Self)
            .ok_or(StoryPointsError(points))
    }

    /// The value.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// Why a due date was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a date between 0001-01-01 and 9999-12-31, got {0}")]
pub struct DueDateError(pub chrono::NaiveDate);

/// Checks that `date` lies in years 1 to 9999: what an RFC 3339 date can write and both
/// databases store (PostgreSQL refuses dates before 4713 BC, and SQLite keeps dates as text
/// that must sort in time order).
///
/// # Errors
/// [`DueDateError`] outside that range.
pub fn check_due_date(date: chrono::NaiveDate) -> Result<chrono::NaiveDate, DueDateError> {
    use chrono::Datelike;
    if (1..=9999).contains(&date.year()) {
        Ok(date)
    } else {
        Err(DueDateError(date))
    }
}

/// Why a task key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid task key: expected PROJECTKEY-NUMBER, such as WEB-42")]
pub struct TaskKeyError {
    /// The rejected input.
    pub input: String,
}

/// A task's human key, `{project key}-{number}` (`WEB-42`). Numbers start at 1.
///
/// ```
/// use tasklane_domain::values::TaskKey;
/// let key: TaskKey = "web-42".parse().unwrap();
/// assert_eq!((key.project_key().as_str(), key.number()), ("WEB", 42));
/// assert_eq!(key.to_string(), "WEB-42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskKey {
    project_key: ProjectKey,
    number: u64,
}

impl TaskKey {
    /// The key of task `number` in the project keyed `project_key`.
    pub fn new(project_key: ProjectKey, number: u64) -> Self {
        Self {
            project_key,
            number,
        }
    }

    /// The project's key.
    pub fn project_key(&self) -> &ProjectKey {
        &self.project_key
    }

    /// The per-project task number.
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.project_key, self.number)
    }
}

impl FromStr for TaskKey {
    type Err = TaskKeyError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = || TaskKeyError {
            input: input.to_owned(),
        };
        let (key, number) = input.trim().rsplit_once('-').ok_or_else(error)?;
        let project_key = ProjectKey::new(key).map_err(|_| error())?;
        // Digits only: `u64::from_str` would also take a leading `+`.
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error());
        }
        let number = number
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(error)?;
        Ok(Self::new(project_key, number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::TextError;

    #[test]
    fn task_title_boundaries_are_1_and_500_characters_after_trimming() {
        assert!(TaskTitle::new("x").is_ok());
        assert!(TaskTitle::new(&"x".repeat(500)).is_ok());
        assert!(
            TaskTitle::new(&"é".repeat(500)).is_ok(),
            "500 two-byte characters fit"
        );
        assert_eq!(
            TaskTitle::new(&"x".repeat(501)),
            Err(TextError::TooLong {
                max: 500,
                actual: 501
            })
        );
        assert_eq!(TaskTitle::new(""), Err(TextError::Empty));
        assert_eq!(TaskTitle::new("  \n "), Err(TextError::Empty));
        assert_eq!(TaskTitle::new("  t  ").unwrap().as_str(), "t");
    }

    #[test]
    fn task_description_allows_empty_and_at_most_100000_characters() {
        assert!(TaskDescription::new("").is_ok());
        assert!(TaskDescription::new(&"d".repeat(100_000)).is_ok());
        assert!(TaskDescription::new(&"d".repeat(100_001)).is_err());
        assert_eq!(
            TaskDescription::new("  kept  ").unwrap().as_str(),
            "  kept  "
        );
    }

    #[test]
    fn due_dates_lie_in_years_1_to_9999() {
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(check_due_date(date(1, 1, 1)).is_ok());
        assert!(check_due_date(date(9999, 12, 31)).is_ok());
        assert!(check_due_date(date(0, 12, 31)).is_err());
        assert!(check_due_date(date(-5000, 1, 1)).is_err());
        assert!(check_due_date(date(10000, 1, 1)).is_err());
    }

    #[test]
    fn story_points_are_between_0_and_100() {
        assert_eq!(StoryPoints::new(0).map(StoryPoints::get), Ok(0));
        assert_eq!(StoryPoints::new(100).map(StoryPoints::get), Ok(100));
        assert_eq!(StoryPoints::new(101), Err(StoryPointsError(101)));
        assert_eq!(StoryPoints::new(-1), Err(StoryPointsError(-1)));
        assert_eq!(
            StoryPoints::new(101).unwrap_err().to_string(),
            "must be between 0 and 100, got 101"
        );
    }

    #[test]
    fn task_keys_parse_and_reject_malformed_input() {
        let key: TaskKey = "WEB-1".parse().unwrap();
        assert_eq!(key.number(), 1);
        assert_eq!(
            "A1B-7".parse::<TaskKey>().unwrap().project_key().as_str(),
            "A1B"
        );
        for bad in [
            "WEB", "WEB-", "WEB-0", "WEB-+1", "WEB--1", "-1", "W-1", "WEB-x",
        ] {
            assert!(bad.parse::<TaskKey>().is_err(), "{bad} should be rejected");
        }
    }
}
