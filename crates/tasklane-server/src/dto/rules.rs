//! The input rules of the API written as schema constraints, so that the OpenAPI document is the
//! contract exactly: a value the schema accepts is accepted by the domain's validation, and a
//! value it refuses is refused. The lengths come from the domain's value types; the patterns
//! spell out, in the regular-expression syntax JSON Schema, Python and Rust share, what the
//! domain checks in code (trimming of Unicode whitespace, no control characters). A property
//! test in this module holds each pattern against its domain type.
//!
//! Also here: the deserializers that make request bodies as strict and as lenient as their
//! schemas — whole numbers written as `4.0` are integers (JSON Schema says so), and an optional
//! field that the schema does not let be `null` refuses it.

use serde::{Deserialize, Deserializer};
use tasklane_domain::services::events::EVENT_PAGE_LIMITS;
use tasklane_domain::services::labels::MAX_TASK_LABELS;
use tasklane_domain::services::{MAX_SEARCH_CHARS, PAGE_LIMITS};
use tasklane_domain::values::{
    AvatarUrl, CommentBody, DisplayName, Email, LabelName, ProjectDescription, ProjectName,
    StatusName, StoryPoints, TaskDescription, TaskTitle,
};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Array, ArrayBuilder, RefOr};

/// Control characters (Unicode category Cc), refused in every text.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";
/// Control characters but line feed, carriage return and tab, refused in multi-line text.
const CONTROL_BUT_LINES: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f";
/// Unicode `White_Space`, what trimming removes (Rust's `str::trim`).
const SPACE: &str =
    r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// A UUID in its hyphenated form.
const UUID: &str = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}";

/// One line of text that is trimmed and must not be blank: optional whitespace around a core
/// that starts and ends with a visible character and holds no control character.
pub fn line_pattern() -> String {
    format!(r"^[{SPACE}]*[^{SPACE}{CONTROL}]([^{CONTROL}]*[^{SPACE}{CONTROL}])?[{SPACE}]*$")
}

/// Text of any number of lines, kept as sent: no control character but line breaks and tabs.
pub fn lines_pattern() -> String {
    format!("^[^{CONTROL_BUT_LINES}]*$")
}

/// Text of any number of lines that is trimmed and must not be blank: like [`line_pattern`],
/// with line breaks and tabs allowed inside.
pub fn trimmed_lines_pattern() -> String {
    format!(
        r"^[{SPACE}]*[^{SPACE}{CONTROL}]([^{CONTROL_BUT_LINES}]*[^{SPACE}{CONTROL}])?[{SPACE}]*$"
    )
}

/// Search text: like [`line_pattern`], but blank is allowed (no filter).
pub fn search_pattern() -> String {
    format!(r"^[{SPACE}]*([^{SPACE}{CONTROL}]([^{CONTROL}]*[^{SPACE}{CONTROL}])?)?[{SPACE}]*$")
}

/// An email address as the domain accepts it: one `@`, a dotted domain without empty labels,
/// no whitespace or control character inside, whitespace around trimmed.
pub fn email_pattern() -> String {
    let part = format!("[^@.{SPACE}{CONTROL}]+");
    format!(r"^[{SPACE}]*[^@{SPACE}{CONTROL}]+@{part}(\.{part})+[{SPACE}]*$")
}

/// An avatar URL: `http://` or `https://` and something, no whitespace or control character
/// inside, whitespace around trimmed.
pub fn avatar_pattern() -> String {
    format!(r"^[{SPACE}]*https?://[^{SPACE}{CONTROL}]+[{SPACE}]*$")
}

/// A project key, upper-cased by the server (`web` is `WEB`), whitespace around trimmed.
pub fn project_key_pattern() -> String {
    format!("^[{SPACE}]*[A-Za-z][A-Za-z0-9]{{1,9}}[{SPACE}]*$")
}

/// A cursor of `GET /projects`.
pub fn project_cursor_pattern() -> String {
    format!(r"^p1\.-?[0-9]{{1,16}}\.{UUID}$")
}

/// A cursor of `GET /tasks/{{id}}/comments`.
pub fn comment_cursor_pattern() -> String {
    format!(r"^c1\.-?[0-9]{{1,16}}\.{UUID}$")
}

/// A cursor of `GET /projects/{{id}}/tasks`, of any order.
pub fn task_cursor_pattern() -> String {
    format!(
        r"^(b1\.[0-9]{{1,9}}\.[0-9A-Za-z]{{1,64}}|u1\.-?[0-9]{{1,16}}|d1\.([0-9]{{1,7}}|n)|r1\.[0-4])\.{UUID}$"
    )
}

/// `assignee_id` of a listing: a UUID, or `none`.
pub fn assignee_filter_pattern() -> String {
    format!("^(none|{UUID})$")
}

/// `If-Match`: a `row_version` as the `ETag` gives it (`"3"`, `W/"3"`, `3`) or `*`.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]{1,19}"|[0-9]{1,19})$"#;

/// A label colour.
pub const LABEL_COLOR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";

/// `Idempotency-Key`: 1 to 128 visible ASCII characters (spaces inside).
pub const IDEMPOTENCY_KEY_PATTERN: &str = r"^[!-~]([ -~]{0,126}[!-~])?$";

fn text(min: usize, max: usize, pattern: String, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .description(Some(description))
}

fn nullable(builder: ObjectBuilder, kind: Type) -> ObjectBuilder {
    builder.schema_type(SchemaType::from_iter([kind, Type::Null]))
}

macro_rules! schemas {
    ($($(#[$doc:meta])* $name:ident => $body:expr;)+) => {
        $(
            $(#[$doc])*
            pub fn $name() -> RefOr<Schema> {
                RefOr::T(Schema::Object($body.build()))
            }
        )+
    };
}

schemas! {
    /// A task title.
    title => text(1, TaskTitle::MAX_CHARS, line_pattern(),
        "1 to 500 characters, trimmed; no control characters");
    /// A task title to change to.
    new_title => text(1, TaskTitle::MAX_CHARS, line_pattern(),
        "New title: 1 to 500 characters, trimmed; no control characters");
    /// A task description (`null`: none).
    task_description => nullable(text(0, TaskDescription::MAX_CHARS, lines_pattern(),
        "At most 100,000 characters; line breaks and tabs but no other control characters"), Type::String);
    /// A label name.
    label_name => text(1, LabelName::MAX_CHARS, line_pattern(),
        "1 to 50 characters, trimmed, unique in the project ignoring case");
    /// A label colour.
    label_color => ObjectBuilder::new().schema_type(Type::String).pattern(Some(LABEL_COLOR_PATTERN))
        .description(Some("`#rrggbb`: six hexadecimal digits of either case"));
    /// A comment's text.
    comment_body => text(1, CommentBody::MAX_CHARS, trimmed_lines_pattern(),
        "Markdown, 1 to 10,000 characters, trimmed; line breaks and tabs but no other control characters");
    /// A cursor of a task's comments.
    comment_cursor => ObjectBuilder::new().schema_type(Type::String).pattern(Some(comment_cursor_pattern()))
        .description(Some("The previous page's `next_cursor`"));
    /// A project name.
    project_name => text(1, ProjectName::MAX_CHARS, line_pattern(),
        "1 to 255 characters, trimmed; no control characters");
    /// A project description (`null`: empty).
    project_description => nullable(text(0, ProjectDescription::MAX_CHARS, lines_pattern(),
        "At most 10,000 characters; line breaks and tabs but no other control characters"), Type::String);
    /// A project description to change to.
    new_project_description => text(0, ProjectDescription::MAX_CHARS, lines_pattern(),
        "At most 10,000 characters; line breaks and tabs but no other control characters");
    /// A project key.
    project_key => ObjectBuilder::new().schema_type(Type::String).pattern(Some(project_key_pattern()))
        .description(Some("2 to 10 letters and digits, a letter first; lower case is upper-cased"));
    /// A status name.
    status_name => text(1, StatusName::MAX_CHARS, line_pattern(),
        "1 to 50 characters, trimmed, unique in the project ignoring case");
    /// A display name.
    display_name => text(1, DisplayName::MAX_CHARS, line_pattern(),
        "1 to 100 characters, trimmed; no control characters");
    /// A display name to change to.
    new_display_name => text(1, DisplayName::MAX_CHARS, line_pattern(),
        "New name: 1 to 100 characters, trimmed; no control characters");
    /// An avatar URL (`null`: none).
    avatar_url => nullable(text(0, AvatarUrl::MAX_CHARS, avatar_pattern(),
        "An http:// or https:// URL of at most 500 characters, without spaces inside"), Type::String);
    /// An email address to register.
    email => text(1, Email::MAX_CHARS, email_pattern(),
        "An email address, unique ignoring case; at most 254 characters");
    /// A new password.
    password => ObjectBuilder::new().schema_type(Type::String).min_length(Some(8)).max_length(Some(128))
        .description(Some("8 to 128 characters"));
    /// Story points (`null`: none).
    story_points => nullable(ObjectBuilder::new().minimum(Some(0.0))
        .maximum(Some(f64::from(StoryPoints::MAX))), Type::Integer)
        .description(Some("0 to 100"));
    /// A status position (`null`: last).
    position => nullable(ObjectBuilder::new().minimum(Some(0.0)).maximum(Some(f64::from(u32::MAX))), Type::Integer)
        .description(Some("0-based board position; default last"));
    /// A status position to move to.
    new_position => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0.0))
        .maximum(Some(f64::from(u32::MAX))).description(Some("New 0-based board position"));
    /// A page size.
    limit => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(f64::from(*PAGE_LIMITS.start())))
        .maximum(Some(f64::from(*PAGE_LIMITS.end())));
    /// A page size of the event log.
    event_limit => ObjectBuilder::new().schema_type(Type::Integer)
        .minimum(Some(f64::from(*EVENT_PAGE_LIMITS.start())))
        .maximum(Some(f64::from(*EVENT_PAGE_LIMITS.end())))
        .description(Some("Page size, 1 to 1000 (default 100)"));
    /// An event-log cursor.
    event_after => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0.0))
        .maximum(Some(i64::MAX as f64))
        .description(Some("The last `seq` seen (default 0: from the start); past the project's last event is 400 `bad_since`"));
    /// Search text.
    search => text(0, MAX_SEARCH_CHARS, search_pattern(),
        "Case-insensitive substring; at most 200 characters, no control characters");
    /// A cursor of the project listing.
    project_cursor => ObjectBuilder::new().schema_type(Type::String).pattern(Some(project_cursor_pattern()))
        .description(Some("The previous page's `next_cursor`"));
    /// A cursor of the task listing.
    task_cursor => ObjectBuilder::new().schema_type(Type::String).pattern(Some(task_cursor_pattern()))
        .description(Some("The previous page's `next_cursor`; it continues in the order it was made in"));
    /// A user's id, or `none`.
    assignee_filter => ObjectBuilder::new().schema_type(Type::String).pattern(Some(assignee_filter_pattern()))
        .description(Some("A user's id, or `none` for unassigned tasks"));
    /// A date bound of a listing.
    date => ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .description(Some("`YYYY-MM-DD`, years 0001 to 9999, inclusive"));
    /// A UUID that must not be `null` when given.
    uuid => ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
    /// A date of years 1 to 9999, or `null`.
    due_date => nullable(ObjectBuilder::new().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))), Type::String)
        .description(Some("`YYYY-MM-DD`, years 0001 to 9999"));
}

/// A task's labels: at most 20 label ids.
pub fn label_ids() -> Array {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))))
        .max_items(Some(MAX_TASK_LABELS))
        .description(Some("Ids of labels of the task's project, at most 20 (a repeated id counts once, but is counted as sent)"))
        .build()
}

/// A batch: 1 to 500 tasks.
pub fn batch_tasks() -> Array {
    ArrayBuilder::new()
        .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "CreateTaskRequest",
        )))
        .min_items(Some(1))
        .max_items(Some(tasklane_domain::services::tasks::MAX_BATCH))
        .build()
}

/// For an optional field whose schema does not allow `null`: absent is `None`, `null` is refused.
pub(crate) fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A JSON number that is a whole number (`4` or `4.0`) within `T`'s range.
fn whole_number<'de, T: TryFrom<i64>, D: Deserializer<'de>>(
    number: serde_json::Number,
) -> Result<T, D::Error> {
    use serde::de::Error;
    let whole = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64)
            .map(|f| f as i64)
    });
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number in range, got {number}")))
}

/// An optional integer that may be `null` (`None` either way), written as any whole number.
pub(crate) fn whole_or_null<'de, T: TryFrom<i64>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?
        .map(whole_number::<T, D>)
        .transpose()
}

/// An optional integer that must not be `null` when given.
pub(crate) fn whole_present<'de, T: TryFrom<i64>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    whole_number::<T, D>(serde_json::Number::deserialize(d)?).map(Some)
}

/// A PATCH integer: absent `None`, `null` `Some(None)`, a whole number `Some(Some(n))`.
pub(crate) fn whole_nullable<'de, T: TryFrom<i64>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    whole_or_null::<T, D>(d).map(Some)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;
    use tasklane_domain::values::ProjectKey;

    use super::*;

    /// Characters that matter to the rules: letters, digits, `@` and `.`, every kind of
    /// whitespace, control characters, and some other Unicode.
    fn interesting_char() -> impl Strategy<Value = char> {
        prop::sample::select(vec![
            'a', 'Z', 'é', '0', '9', '@', '.', '-', '_', ' ', '\t', '\n', '\r', '\u{b}', '\u{c}',
            '\u{0}', '\u{1}', '\u{1b}', '\u{1c}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}',
            '\u{1680}', '\u{2003}', '\u{2028}', '\u{202f}', '\u{3000}', '\u{200b}', '\u{feff}',
            '😀', '"', '\\',
        ])
    }

    fn text_up_to(n: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(interesting_char(), 0..n).prop_map(|c| c.into_iter().collect())
    }

    /// What the schema says of `value`: its pattern and its lengths.
    fn schema_accepts(pattern: &Regex, min: usize, max: usize, value: &str) -> bool {
        let length = value.chars().count();
        pattern.is_match(value) && (min..=max).contains(&length)
    }

    fn regex(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn a_single_line_text_is_accepted_exactly_when_its_schema_accepts_it(value in text_up_to(8)) {
            let pattern = regex(&line_pattern());
            // Short maxima so that the length rule is exercised too.
            let domain = tasklane_domain::values::TaskTitle::new(&value).is_ok() && value.chars().count() <= 5;
            prop_assert_eq!(domain, schema_accepts(&pattern, 1, 5, &value), "{:?}", value);
        }

        #[test]
        fn a_multi_line_text_is_accepted_exactly_when_its_schema_accepts_it(value in text_up_to(8)) {
            let pattern = regex(&lines_pattern());
            let domain = TaskDescription::new(&value).is_ok();
            prop_assert_eq!(domain, schema_accepts(&pattern, 0, usize::MAX, &value), "{:?}", value);
        }

        #[test]
        fn an_email_is_accepted_exactly_when_its_schema_accepts_it(value in text_up_to(10)) {
            let pattern = regex(&email_pattern());
            let domain = Email::new(&value).is_ok();
            prop_assert_eq!(domain, schema_accepts(&pattern, 1, 254, &value), "{:?}", value);
        }

        #[test]
        fn a_project_key_is_accepted_exactly_when_its_schema_accepts_it(
            value in prop::collection::vec(prop::sample::select(vec!['a', 'Q', '7', ' ', '\t', '\u{3000}', '-', 'é', '\u{0}']), 0..14)
                .prop_map(|c| c.into_iter().collect::<String>())
        ) {
            let pattern = regex(&project_key_pattern());
            prop_assert_eq!(ProjectKey::new(&value).is_ok(), pattern.is_match(&value), "{:?}", value);
        }

        #[test]
        fn an_avatar_url_is_accepted_exactly_when_its_schema_accepts_it(
            before in text_up_to(2),
            scheme in prop::sample::select(vec!["https://", "http://", "HTTPS://", "ftp://", "http:/", ""]),
            rest in text_up_to(6),
        ) {
            let value = format!("{before}{scheme}{rest}");
            let pattern = regex(&avatar_pattern());
            let domain = tasklane_domain::values::AvatarUrl::new(&value).is_ok();
            prop_assert_eq!(domain, schema_accepts(&pattern, 0, AvatarUrl::MAX_CHARS, &value), "{:?}", value);
        }

        #[test]
        fn a_comment_is_accepted_exactly_when_its_schema_accepts_it(value in text_up_to(8)) {
            let pattern = regex(&trimmed_lines_pattern());
            let domain = CommentBody::new(&value).is_ok() && value.chars().count() <= 5;
            prop_assert_eq!(domain, schema_accepts(&pattern, 1, 5, &value), "{:?}", value);
        }

        #[test]
        fn search_text_is_accepted_exactly_when_its_schema_accepts_it(value in text_up_to(8)) {
            let pattern = regex(&search_pattern());
            let mut errors = tasklane_domain::validation::ValidationErrors::new();
            let _ = tasklane_domain::services::search_text(&mut errors, Some(&value));
            prop_assert_eq!(errors.is_empty(), schema_accepts(&pattern, 0, MAX_SEARCH_CHARS, &value), "{:?}", value);
        }
    }

    #[test]
    fn the_patterns_accept_the_obvious_and_refuse_the_obviously_wrong() {
        let line = regex(&line_pattern());
        assert!(line.is_match("Write the landing page"));
        assert!(line.is_match("  padded\t"));
        assert!(!line.is_match("   "));
        assert!(!line.is_match("nul\u{0}inside"));
        assert!(regex(&email_pattern()).is_match("ada.lovelace+x@example.co.uk"));
        assert!(!regex(&email_pattern()).is_match("ada@example..com"));
        let cursor = regex(&task_cursor_pattern());
        assert!(cursor.is_match("b1.3.b42.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"));
        assert!(cursor.is_match("u1.1764000000000000.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"));
        assert!(cursor.is_match("d1.739586.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"));
        assert!(cursor.is_match("d1.n.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"));
        assert!(cursor.is_match("r1.4.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"));
        assert!(!cursor.is_match("r1.5.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"));
        assert!(!cursor.is_match("garbage"));
        for version in [r#""3""#, r#"W/"3""#, "3", "*"] {
            assert!(regex(IF_MATCH_PATTERN).is_match(version), "{version}");
        }
        assert!(regex(IDEMPOTENCY_KEY_PATTERN).is_match("a key-1"));
        assert!(!regex(IDEMPOTENCY_KEY_PATTERN).is_match(" padded"));
    }

    #[test]
    fn integers_may_be_written_as_whole_floats_but_not_as_fractions_or_out_of_range() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "whole_or_null")]
            n: Option<u32>,
        }
        let parse = |json: &str| serde_json::from_str::<Body>(json).map(|b| b.n);
        assert_eq!(parse(r#"{"n": 4}"#).unwrap(), Some(4));
        assert_eq!(parse(r#"{"n": 4.0}"#).unwrap(), Some(4));
        assert_eq!(parse(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(parse("{}").unwrap(), None);
        assert!(parse(r#"{"n": 4.5}"#).is_err());
        assert!(parse(r#"{"n": -1}"#).is_err());
        assert!(parse(r#"{"n": 1e30}"#).is_err());
    }
}
