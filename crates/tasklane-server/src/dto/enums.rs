//! The closed sets of the API, mirroring the domain's enums with serde and OpenAPI derives.

use serde::{Deserialize, Serialize};
use tasklane_domain::aggregation::DerivedStatus;
use tasklane_domain::ports::TaskOrder;
use tasklane_domain::values::{Priority, Role, StatusCategory, TaskType};
use utoipa::ToSchema;

macro_rules! mirror {
    ($(#[$doc:meta])* $dto:ident <=> $domain:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $dto {
            $($variant),+
        }

        impl From<$dto> for $domain {
            fn from(value: $dto) -> Self {
                match value {
                    $($dto::$variant => $domain::$variant),+
                }
            }
        }

        impl From<$domain> for $dto {
            fn from(value: $domain) -> Self {
                match value {
                    $($domain::$variant => $dto::$variant),+
                }
            }
        }
    };
}

mirror!(
    /// A task's priority.
    PriorityDto <=> Priority { Lowest, Low, Medium, High, Highest }
);
mirror!(
    /// A task's type.
    TaskTypeDto <=> TaskType { Story, Bug, Epic, Subtask, Task }
);
mirror!(
    /// A status's category.
    CategoryDto <=> StatusCategory { Todo, InProgress, InReview, Issue, Done }
);
mirror!(
    /// A member's role.
    RoleDto <=> Role { Owner, Editor, Viewer }
);
mirror!(
    /// A project's derived status.
    DerivedStatusDto <=> DerivedStatus { Todo, InProgress, Issue, Done }
);
mirror!(
    /// The order of a task listing.
    OrderDto <=> TaskOrder { Board, Updated, Due, Priority }
);
