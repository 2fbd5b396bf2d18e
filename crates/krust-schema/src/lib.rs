//! OpenAPI v3 component schemas for every built-in kind krust serves.
//!
//! The schemas come from k8s-openapi's schemars implementations (types, descriptions, required
//! fields). Upstream's OpenAPI also carries strategic-merge-patch and list-type extensions that
//! k8s-openapi does not expose; `patch_meta` adds them back so that the same document drives
//! `kubectl explain`, strategic merge patch and unknown-field detection.

mod generate;
mod patch_meta;

pub use generate::{KindSchema, built_in};
