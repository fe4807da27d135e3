//! Value types with validating constructors. A value that exists is valid: constructors trim where
//! the rule says so, count Unicode scalar values (not bytes), and return errors that say what was
//! wrong and what is allowed.

mod enums;
mod label;
mod project;
mod status;
mod task;
mod text;
mod user;

pub use enums::{ParseEnumError, Priority, Role, StatusCategory, TaskType};
pub use label::{LabelColor, LabelColorError, LabelName};
pub use project::{ProjectDescription, ProjectKey, ProjectKeyError, ProjectName};
pub use status::StatusName;
pub use task::{
    CommentBody, DueDateError, StoryPoints, StoryPointsError, TaskDescription, TaskKey,
    TaskKeyError, TaskTitle, check_due_date,
};
pub use text::{Lines, TextError, check_controls, forbidden_control};
pub use user::{
    AvatarUrl, AvatarUrlError, DisplayName, Email, EmailError, Password, PasswordError,
};
