//! The name and format checks of `validation::names`.

use crate::validation::names::*;

#[test]
fn upstream_wording() {
    assert_eq!(
        is_dns1123_subdomain("Foo")[0],
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    assert_eq!(
        is_dns1123_label("a_b")[0],
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    );
    assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
    assert_eq!(
        is_dns1123_label(&"a".repeat(64))[0],
        "must be no more than 63 characters"
    );
    assert!(is_dns1035_label("1abc")[0].starts_with("a DNS-1035 label"));
    assert!(is_dns1035_label("abc-1").is_empty());
    assert_eq!(
        is_qualified_name("example.com/Foo_")[0],
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    );
    assert_eq!(is_qualified_name("/a"), vec!["prefix part must be non-empty"]);
    assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
    assert!(is_qualified_name("app.kubernetes.io/name").is_empty());
    assert!(is_label_value("").is_empty());
    assert!(!is_label_value("-x").is_empty());
    assert!(is_config_map_key("tls.crt").is_empty());
    assert_eq!(is_config_map_key(".."), vec!["must not be '..'"]);
    assert_eq!(
        is_valid_port_name("http--x"),
        vec!["must not contain consecutive hyphens"]
    );
    assert_eq!(
        is_valid_port_name("8080"),
        vec!["must contain at least one letter (a-z)"]
    );
    assert_eq!(
        is_valid_port_num(0),
        vec!["must be between 1 and 65535, inclusive"]
    );
    assert!(is_valid_percent("25%").is_empty());
    assert!(!is_valid_percent("25").is_empty());
    assert_eq!(is_env_var_name("A=B").len(), 1);
    assert!(is_env_var_name("my.env-name").is_empty());
}

#[test]
fn names_by_kind() {
    assert_eq!(name_rule("", "Service"), NameRule::Dns1035Label);
    assert!(validate_name(NameRule::DnsSubdomain, "web-", true).is_empty());
    assert!(!validate_name(NameRule::DnsSubdomain, "web-", false).is_empty());
    assert_eq!(
        validate_name(NameRule::PathSegment, "..", false),
        vec!["may not be '..'"]
    );
    assert_eq!(
        validate_name(NameRule::PathSegment, "a/b%", false),
        vec!["may not contain '/'", "may not contain '%'"]
    );
    assert!(validate_name(NameRule::PathSegment, "system:node", false).is_empty());
    assert!(is_valid_ip("010.1.2.3").is_empty());
    assert!(!is_valid_ip("1.2.3").is_empty());
    assert!(is_valid_cidr("10.0.0.0/8").is_empty());
    assert!(!is_valid_cidr("10.0.0.0/33").is_empty());
}
