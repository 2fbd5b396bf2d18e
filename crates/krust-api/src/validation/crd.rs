//! CustomResourceDefinitions: the checks themselves live in [`crate::crd`] (names, versions,
//! structural schemas, CEL rules, printer columns, subresources, conversion, update rules);
//! this module plugs them into [`super::validate`] and lends `crate::crd` the ObjectMeta
//! checks it needs for embedded resources.

use serde_json::{Value, json};

use super::meta::{MetaOpts, object_meta};
use super::names::NameRule;
use super::util::Errs;
use crate::field_error::{FieldError, FieldPath};

/// Everything upstream checks on a CRD create (`old` is None) or update.
pub(crate) fn custom_resource_definition(errs: &mut Errs, obj: &Value, old: Option<&Value>) {
    errs.extend(crate::crd::validate_crd(obj, old));
}

/// ObjectMeta checks of a resource embedded in a custom resource (at `path`): upstream
/// validates its names as path segments and its finalizers as qualified names.
pub(crate) fn embedded_object_meta(meta: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let obj = json!({ "metadata": meta });
    object_meta(
        &mut errs,
        &obj,
        MetaOpts {
            rule: NameRule::PathSegment,
            kube_finalizers: false,
        },
    );
    if !path.as_str().is_empty() {
        for e in &mut errs {
            e.field = format!("{}.{}", path.as_str(), e.field);
        }
    }
    errs
}
