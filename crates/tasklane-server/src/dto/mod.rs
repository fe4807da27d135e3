//! Request and response bodies of the HTTP API, separate from the domain's types: they carry
//! serde and OpenAPI derives, and convert with `From` (responses) or `into_input` (requests).

mod comments;
mod enums;
mod events;
mod labels;
mod projects;
pub mod rules;
mod tasks;
mod users;

pub use comments::*;
pub use enums::{CategoryDto, DerivedStatusDto, OrderDto, PriorityDto, RoleDto, TaskTypeDto};
pub use events::*;
pub use labels::*;
pub use projects::*;
pub use tasks::*;
pub use users::*;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDto<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// For PATCH bodies: an absent field is `None`, `null` is `Some(None)`, a value `Some(Some(v))`.
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
