//! The API model of krust, free of I/O: which kinds exist and how they are named, how they
//! are defaulted, validated, patched, selected and printed, and how failures are reported.
//!
//! Objects travel as `serde_json::Value` so that unknown fields, CRDs and every API version
//! take the same path; the OpenAPI schemas (`schema`) supply the structure where needed.

pub mod apply;
pub mod crd;
pub mod defaults;
pub mod field_error;
pub mod fields;
pub mod labels;
pub mod patch;
pub mod podlogs;
pub mod quantity;
pub mod registry;
pub mod schema;
pub mod status;
pub mod table;
pub mod validation;

pub use field_error::{FieldError, FieldErrorKind, FieldPath};
pub use status::{ApiError, Target};
