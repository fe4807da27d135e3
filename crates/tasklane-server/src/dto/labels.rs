//! Label bodies.

use serde::{Deserialize, Serialize};
use tasklane_domain::model::Label;
use utoipa::ToSchema;
use uuid::Uuid;

use super::rules;

/// A label.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabelDto {
    /// The label's id.
    pub id: Uuid,
    /// Its name, unique in its project ignoring case.
    pub name: String,
    /// Its colour, `#rrggbb` in lower case.
    pub color: String,
}

impl From<&Label> for LabelDto {
    fn from(label: &Label) -> Self {
        Self {
            id: label.id.as_uuid(),
            name: label.name.as_str().to_owned(),
            color: label.color.as_str().to_owned(),
        }
    }
}

/// `POST /projects/{id}/labels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLabelRequest {
    /// 1 to 50 characters, unique in the project ignoring case.
    #[schema(schema_with = rules::label_name)]
    pub name: String,
    /// `#rrggbb`.
    #[schema(schema_with = rules::label_color)]
    pub color: String,
}

/// `PATCH /labels/{id}`: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateLabelRequest {
    /// A new name.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::label_name)]
    pub name: Option<String>,
    /// A new colour.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::label_color)]
    pub color: Option<String>,
}
