//! `validate_crd`: names, versions, printer columns, subresources, conversion, stored
//! versions and update rules.

use serde_json::json;

use super::{crd_with, exactly, has, ok, widget_schema};
use crate::crd::validate_crd;
use crate::field_error::FieldErrorKind::*;

#[test]
fn a_valid_crd_passes() {
    ok(&validate_crd(&crd_with(widget_schema()), None));
}

#[test]
fn names_group_scope_and_versions() {
    let mut c = crd_with(widget_schema());
    c["metadata"]["name"] = json!("widget.example.com");
    c["spec"]["group"] = json!("example");
    c["spec"]["scope"] = json!("Global");
    c["spec"]["names"]["kind"] = json!("Wid_get");
    c["spec"]["names"]["shortNames"] = json!(["ok", "Bad"]);
    c["spec"]["names"]["categories"] = json!(["all"]);
    c["spec"]["versions"][0]["name"] = json!("V1");
    c["status"]["storedVersions"] = json!(["V1"]);
    let errs = validate_crd(&c, None);
    has(
        &errs,
        "metadata.name",
        Invalid,
        "must be spec.names.plural+\".\"+spec.group",
    );
    has(
        &errs,
        "spec.group",
        Invalid,
        "should be a domain with at least one dot",
    );
    has(
        &errs,
        "spec.scope",
        NotSupported,
        "supported values: \"Cluster\", \"Namespaced\"",
    );
    has(
        &errs,
        "spec.names.kind",
        Invalid,
        "may have mixed case, but should otherwise match: a DNS-1035 label",
    );
    has(
        &errs,
        "spec.names.shortNames[1]",
        Invalid,
        "a DNS-1035 label must consist of lower case",
    );
    has(&errs, "spec.versions[0].name", Invalid, "a DNS-1035 label");
}

#[test]
fn versions_need_one_storage_unique_names_and_schemas() {
    let mut c = crd_with(widget_schema());
    c["spec"]["versions"] = json!([
        {"name": "v1", "served": true, "storage": true},
        {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]);
    let errs = validate_crd(&c, None);
    has(
        &errs,
        "spec.versions[0].schema.openAPIV3Schema",
        Required,
        "Required value",
    );
    has(
        &errs,
        "spec.versions",
        Invalid,
        "must contain unique version names",
    );
    has(
        &errs,
        "spec.versions",
        Invalid,
        "must have exactly one version marked as storage version",
    );
}

#[test]
fn printer_columns_and_scale_paths() {
    let mut c = crd_with(widget_schema());
    c["spec"]["versions"][0]["additionalPrinterColumns"] = json!([
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "", "type": "float", "format": "percent", "jsonPath": "spec.size"}]);
    c["spec"]["versions"][0]["subresources"] = json!({"status": {},
        "scale": {"specReplicasPath": ".status.size", "statusReplicasPath": "status.replicas", "labelSelectorPath": ".metadata.labels"}});
    exactly(
        &validate_crd(&c, None),
        &[
            "spec.subresources.scale.specReplicasPath: Invalid value: \".status.size\": should be a json path under .spec",
            "spec.subresources.scale.statusReplicasPath: Invalid value: \"status.replicas\": must be a simple json path starting with .",
            "spec.subresources.scale.labelSelectorPath: Invalid value: \".metadata.labels\": should be a json path under either .spec or .status",
            "spec.additionalPrinterColumns[1].name: Required value",
            "spec.additionalPrinterColumns[1].type: Invalid value: \"float\": must be one of boolean,date,integer,number,string",
            "spec.additionalPrinterColumns[1].format: Invalid value: \"percent\": must be one of byte,date,date-time,double,float,int32,int64,password",
            "spec.additionalPrinterColumns[1].JSONPath: Invalid value: \"spec.size\": must be a simple json path starting with .",
        ],
    );
}

#[test]
fn per_version_paths_when_versions_differ() {
    let mut c = crd_with(widget_schema());
    c["spec"]["versions"] = json!([
        {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}},
         "additionalPrinterColumns": [{"name": "A", "type": "nope", "jsonPath": ".a"}]},
        {"name": "v2", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {}}}}}]);
    let errs = validate_crd(&c, None);
    has(
        &errs,
        "spec.versions[0].additionalPrinterColumns[0].type",
        Invalid,
        "must be one of",
    );
    has(
        &errs,
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].type",
        Required,
        "must not be empty for specified object fields",
    );
}

#[test]
fn conversion_strategy_and_webhook() {
    let mut c = crd_with(widget_schema());
    c["spec"]["conversion"] = json!({"strategy": "Magic"});
    has(
        &validate_crd(&c, None),
        "spec.conversion.strategy",
        NotSupported,
        "\"None\", \"Webhook\"",
    );
    c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {"clientConfig": {"url": "http://x/convert?a=b"}, "conversionReviewVersions": ["v3"]}});
    let errs = validate_crd(&c, None);
    has(
        &errs,
        "spec.conversion.webhookClientConfig.url",
        Invalid,
        "'https' is the only allowed URL scheme",
    );
    has(
        &errs,
        "spec.conversion.webhookClientConfig.url",
        Invalid,
        "query parameters are not permitted in the URL",
    );
    has(
        &errs,
        "spec.conversion.conversionReviewVersions",
        Invalid,
        "must include at least one of v1, v1beta1",
    );
    c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"name": "conv", "namespace": "default", "path": "/convert"}}, "conversionReviewVersions": ["v1"]}});
    ok(&validate_crd(&c, None));
    c["spec"]["conversion"] = json!({"strategy": "None", "webhook": {"clientConfig": {"url": "https://x"}}});
    has(
        &validate_crd(&c, None),
        "spec.conversion.webhookClientConfig",
        Forbidden,
        "should not be set when strategy is not set to Webhook",
    );
}

#[test]
fn stored_versions_and_update_rules() {
    let old = {
        let mut o = crd_with(widget_schema());
        o["status"]["conditions"] = json!([{"type": "Established", "status": "True"}]);
        o
    };
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["names"]["kind"] = json!("Gadget");
    new["spec"]["group"] = json!("other.com");
    let errs = validate_crd(&new, Some(&old));
    has(&errs, "spec.scope", Invalid, "field is immutable");
    has(&errs, "spec.names.kind", Invalid, "field is immutable");
    has(&errs, "spec.group", Invalid, "field is immutable");

    // Dropping a version that objects may still be stored in.
    let mut two = crd_with(widget_schema());
    two["spec"]["versions"] = json!([
        {"name": "v1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
        {"name": "v2", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]);
    two["status"]["storedVersions"] = json!(["v1", "v2"]);
    ok(&validate_crd(&two, None));
    let mut dropped = two.clone();
    dropped["spec"]["versions"] = json!([{"name": "v2", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]);
    has(
        &validate_crd(&dropped, Some(&two)),
        "status.storedVersions[0]",
        Invalid,
        "missing from spec.versions; v1 was previously a storage version",
    );
    let mut none = two.clone();
    none["status"]["storedVersions"] = json!([]);
    has(
        &validate_crd(&none, None),
        "status.storedVersions",
        Invalid,
        "must have at least one stored version",
    );
}

#[test]
fn protected_groups_need_approval() {
    let mut c = crd_with(widget_schema());
    c["metadata"]["name"] = json!("widgets.x.k8s.io");
    c["spec"]["group"] = json!("x.k8s.io");
    has(
        &validate_crd(&c, None),
        "metadata.annotations[api-approved.kubernetes.io]",
        Required,
        "protected groups must have approval annotation",
    );
    c["metadata"]["annotations"] =
        json!({"api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111"});
    ok(&validate_crd(&c, None));
    c["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": "yes"});
    has(
        &validate_crd(&c, None),
        "metadata.annotations[api-approved.kubernetes.io]",
        Invalid,
        "with either a URL",
    );
}

#[test]
fn selectable_fields() {
    let mut c = crd_with(widget_schema());
    c["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.mode"}, {"jsonPath": ".spec.nope"}, {"jsonPath": ".spec"}, {"jsonPath": ".spec.mode"}]);
    exactly(
        &validate_crd(&c, None),
        &[
            "spec.selectableFields[1].jsonPath: Invalid value: \".spec.nope\": is an invalid path: does not refer to a valid field",
            "spec.selectableFields[2].jsonPath: Invalid value: \".spec\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            "spec.selectableFields[3].jsonPath: Duplicate value: \".spec.mode\"",
        ],
    );
}

#[test]
fn validation_module_delegates_here() {
    let mut c = crd_with(json!({"type": "object", "properties": {"spec": {"properties": {}}}}));
    c["metadata"]["name"] = json!("widgets.example.com");
    let errs = crate::validation::validate("apiextensions.k8s.io", "CustomResourceDefinition", &c, None);
    has(
        &errs,
        "spec.validation.openAPIV3Schema.properties[spec].type",
        Required,
        "must not be empty for specified object fields",
    );
}
