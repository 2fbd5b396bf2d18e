use serde_json::{Map, Value, json};

use super::*;

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn sel(s: &str) -> Selector {
    match Selector::parse(s) {
        Ok(s) => s,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

fn err(s: &str) -> String {
    match Selector::parse(s) {
        Ok(v) => panic!("{s:?} parsed as {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn parses_every_operator() {
    let s = sel("a=b, c==d ,e!=f,g in (y,x),h notin (z),i,!j,k>3,l<2");
    let ops: Vec<(&str, Operator, Vec<&str>)> = s
        .requirements()
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.op,
                r.values.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            ("a", Operator::Equals, vec!["b"]),
            ("c", Operator::Equals, vec!["d"]),
            ("e", Operator::NotEquals, vec!["f"]),
            ("g", Operator::In, vec!["x", "y"]),
            ("h", Operator::NotIn, vec!["z"]),
            ("i", Operator::Exists, vec![]),
            ("j", Operator::DoesNotExist, vec![]),
            ("k", Operator::GreaterThan, vec!["3"]),
            ("l", Operator::LessThan, vec!["2"]),
        ]
    );
}

#[test]
fn empty_and_whitespace_select_everything() {
    for s in ["", "   ", "\t\n"] {
        let parsed = sel(s);
        assert!(parsed.is_empty());
        assert!(parsed.matches(None));
    }
}

#[test]
fn sorts_by_key_and_prints_canonically() {
    assert_eq!(sel("tier in (b,a),app=web").to_string(), "app=web,tier in (a,b)");
    assert_eq!(sel("!canary,app").to_string(), "app,!canary");
    assert_eq!(sel("x notin (c, a ,b)").to_string(), "x notin (a,b,c)");
    assert_eq!(sel("n>5").to_string(), "n>5");
    assert_eq!(sel("a!=").to_string(), "a!=");
    assert_eq!(sel("a in (,x)").to_string(), "a in (,x)");
}

#[test]
fn keywords_are_plain_words_in_key_and_value_positions() {
    let s = sel("in=notin,notin in (in)");
    assert_eq!(s.to_string(), "in=notin,notin in (in)");
}

#[test]
fn empty_values_in_sets() {
    assert_eq!(sel("a in ()").requirements()[0].values, vec![""]);
    assert_eq!(sel("a in (,)").requirements()[0].values, vec![""]);
    assert_eq!(sel("a in (x,,y)").requirements()[0].values, vec!["", "x", "y"]);
    assert_eq!(sel("a=").requirements()[0].values, vec![""]);
    assert_eq!(sel("a=,b").requirements().len(), 2);
}

#[test]
fn syntax_errors_say_what_was_found() {
    assert_eq!(err("a=b,"), "found '', expected: identifier after ','");
    assert_eq!(
        err("a b"),
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(err("a=b c"), "found 'c', expected: ',' or 'end of string'");
    assert!(err("a<-2").contains("values[0][a]: Invalid value: \"-2\""));
    assert_eq!(
        err(",a"),
        "found ',', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(
        err("a in x"),
        "unable to parse requirement: found 'x' expected: '('"
    );
    assert_eq!(
        err("a in (x"),
        "unable to parse requirement: found '', expected: ',' or ')'"
    );
    assert_eq!(
        err("a in (x y)"),
        "unable to parse requirement: found 'y', expected: ',' or ')'"
    );
    assert_eq!(
        err("a in (=)"),
        "unable to parse requirement: found '=', expected: ',', ')' or identifier"
    );
    assert_eq!(
        err("a=(b)"),
        "unable to parse requirement: found '(', expected: identifier"
    );
    assert_eq!(
        err("!=a"),
        "found '!=', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(
        err("!,a"),
        "unable to parse requirement: found ',', expected: identifier"
    );
    assert_eq!(
        err("a (b)"),
        "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(err("!a=b"), "found '=', expected: ',' or 'end of string'");
}

#[test]
fn validation_errors_name_the_bad_part() {
    let e = err("-a=b");
    assert!(
        e.starts_with("unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of"),
        "{e}"
    );
    let e = err("a=b/c");
    assert!(
        e.starts_with(
            "unable to parse requirement: values[0][a]: Invalid value: \"b/c\": a valid label must be"
        ),
        "{e}"
    );
    let e = err("a>b");
    assert_eq!(
        e,
        "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    let e = err(&format!("a={}", "x".repeat(64)));
    assert!(e.contains("must be no more than 63 characters"), "{e}");
    let e = err("Example.com/a=b");
    assert!(e.contains("prefix part a lowercase RFC 1123 subdomain"), "{e}");
    let e = err("a/b/c");
    assert!(e.contains("a qualified name must consist of"), "{e}");
}

#[test]
fn matching_semantics() {
    let web = labels(json!({"app": "web", "tier": "front", "n": "7"}));
    let m = |s: &str, l: Option<&Map<String, Value>>| sel(s).matches(l);
    assert!(m("app=web", Some(&web)));
    assert!(m("app==web,tier=front", Some(&web)));
    assert!(!m("app=db", Some(&web)));
    assert!(!m("app=web", None));
    // != and notin match objects without the key.
    assert!(m("missing!=x", Some(&web)));
    assert!(m("missing notin (x)", None));
    assert!(!m("app!=web", Some(&web)));
    assert!(!m("app notin (web,db)", Some(&web)));
    assert!(m("app in (db,web)", Some(&web)));
    assert!(!m("missing in (x)", Some(&web)));
    assert!(m("app", Some(&web)));
    assert!(!m("missing", Some(&web)));
    assert!(m("!missing", Some(&web)));
    assert!(m("!missing", None));
    assert!(!m("!app", Some(&web)));
    assert!(m("n>5", Some(&web)));
    assert!(!m("n>7", Some(&web)));
    assert!(m("n<8", Some(&web)));
    assert!(!m("app>1", Some(&web)));
    assert!(!m("missing<1", Some(&web)));
    // The empty value is a value.
    let empty = labels(json!({"e": ""}));
    assert!(m("e=", Some(&empty)));
    assert!(m("e in ()", Some(&empty)));
}

#[test]
fn label_selector_objects() {
    let s = Selector::from_label_selector(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "zone", "operator": "Exists"}
        ]
    }))
    .unwrap();
    assert_eq!(
        s.to_string(),
        "app=web,!canary,env notin (prod),tier in (a,b),zone"
    );
    let ok = labels(json!({"app": "web", "tier": "a", "zone": "z1"}));
    assert!(s.matches(Some(&ok)));
    let bad = labels(json!({"app": "web", "tier": "a", "zone": "z1", "canary": "1"}));
    assert!(!s.matches(Some(&bad)));
}

#[test]
fn label_selector_objects_everything_and_nothing() {
    let all = Selector::from_label_selector(&json!({})).unwrap();
    assert!(all.is_empty() && all.matches(None));
    let all = Selector::from_label_selector(&json!({"matchLabels": {}, "matchExpressions": []})).unwrap();
    assert!(all.is_empty());
    let none = Selector::from_label_selector(&Value::Null).unwrap();
    assert!(none.matches_nothing() && !none.is_empty());
    assert!(!none.matches(Some(&labels(json!({"a": "b"})))));
    assert_eq!(none.to_string(), "");
}

#[test]
fn label_selector_object_errors() {
    let e = Selector::from_label_selector(
        &json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
    )
    .unwrap_err();
    assert_eq!(e, "\"Gt\" is not a valid label selector operator");
    let e = Selector::from_label_selector(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]}))
        .unwrap_err();
    assert_eq!(
        e,
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    );
    let e = Selector::from_label_selector(
        &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
    );
    let e = Selector::from_label_selector(&json!({"matchLabels": {"a b": "c"}})).unwrap_err();
    assert!(
        e.starts_with("key: Invalid value: \"a b\": name part must consist"),
        "{e}"
    );
    assert!(Selector::from_label_selector(&json!({"matchLabels": {"a": 1}})).is_err());
    assert!(Selector::from_label_selector(&json!("app=web")).is_err());
}

#[test]
fn from_set_and_formatting() {
    let set = labels(json!({"tier": "front", "app": "web"}));
    let s = Selector::from_set(&set);
    assert_eq!(s.to_string(), "app=web,tier=front");
    assert!(s.matches(Some(&set)));
    assert!(Selector::from_set(&Map::new()).is_empty());
    assert_eq!(format_labels(Some(&set)), "app=web,tier=front");
    assert_eq!(format_labels(None), "<none>");
    assert_eq!(
        format_label_selector(Some(&json!({"matchLabels": {"app": "web"}}))),
        "app=web"
    );
    assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
    assert_eq!(format_label_selector(None), "<none>");
    assert_eq!(
        format_label_selector(Some(
            &json!({"matchExpressions": [{"key": "a", "operator": "X"}]})
        )),
        "<error>"
    );
}

#[test]
fn requirement_new_validates_counts() {
    assert!(Requirement::new("a", Operator::Equals, vec![]).is_err());
    assert!(Requirement::new("a", Operator::GreaterThan, vec!["1".into(), "2".into()]).is_err());
    let e = Requirement::new("-", Operator::In, vec![]).unwrap_err();
    assert!(e.starts_with("[key: Invalid value"), "{e}");
}
