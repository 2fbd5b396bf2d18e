//! Number keywords of kube-openapi's validator: `minimum`/`maximum` (exclusive or not),
//! `multipleOf`, and the range check of `int32`/`float` formats, compared natively for
//! integers and as floats otherwise, with kube-openapi's messages.

use serde_json::Value;

use super::model::Node;
use super::openapi::{Code, Outcome};
use super::util::{Num, go_float, is_json_integer};

/// kube-openapi's `IsValueValidAgainstRange`: does `v` fit the node's type and format?
fn range_error(v: f64, is_int: bool, ty: &str, format: &str, what: &str, path: &str) -> Option<String> {
    let fits = match ty {
        "integer" => {
            let integral = is_int || is_json_integer(v);
            match format {
                "int32" => integral && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX),
                _ => integral && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v),
            }
        }
        _ => match format {
            "float" => v.abs() <= f64::from(f32::MAX),
            _ => true,
        },
    };
    if fits {
        None
    } else if format.is_empty() {
        Some(format!(
            "{what} value must be of type {ty} (default format) in {path}"
        ))
    } else {
        Some(format!(
            "{what} value must be of type {ty} with format {format} in {path}"
        ))
    }
}

pub(super) fn check(s: &Node, n: Num, data: &Value, path: &str, out: &mut Outcome) {
    let ty = if s.int_or_string { "" } else { s.ty.as_str() };
    let ty = if matches!(ty, "integer" | "number") {
        ty
    } else {
        ""
    };
    let format = s.format.as_str();
    let is_int = matches!(n, Num::Int(_));
    if let Some(e) = range_error(n.as_f64(), is_int, ty, format, "Checked", path) {
        out.push_plain(e);
    }
    let value = Some(data.clone());
    if let Some(factor) = s.multiple_of {
        let range = range_error(factor, false, ty, format, "MultipleOf", path);
        let native = range.is_none();
        if let Some(e) = range {
            out.push_plain(e);
        }
        let positive = |f: String| format!("factor MultipleOf declared for {path} must be positive: {f}");
        match n {
            Num::Int(d) if native => {
                let f = factor as i64;
                if f <= 0 {
                    out.push(path, Code::Other, Some(Value::from(f)), positive(f.to_string()));
                } else if d % f != 0 {
                    let msg = format!("{path} in body should be a multiple of {f}");
                    out.push(path, Code::Other, value.clone(), msg);
                }
            }
            _ => {
                let d = n.as_f64();
                if factor <= 0.0 {
                    out.push(
                        path,
                        Code::Other,
                        Some(Value::from(factor)),
                        positive(go_float(factor)),
                    );
                } else {
                    let mult = if factor < 1.0 {
                        1.0 / factor * d
                    } else {
                        d / factor
                    };
                    if !is_json_integer(mult) {
                        let msg = format!("{path} in body should be a multiple of {}", go_float(factor));
                        out.push(path, Code::Other, value.clone(), msg);
                    }
                }
            }
        }
    }
    bound(
        s.minimum,
        s.exclusive_minimum,
        false,
        n,
        ty,
        format,
        path,
        &value,
        out,
    );
    bound(
        s.maximum,
        s.exclusive_maximum,
        true,
        n,
        ty,
        format,
        path,
        &value,
        out,
    );
}

#[allow(clippy::too_many_arguments)]
fn bound(
    limit: Option<f64>,
    exclusive: bool,
    is_max: bool,
    n: Num,
    ty: &str,
    format: &str,
    path: &str,
    value: &Option<Value>,
    out: &mut Outcome,
) {
    let Some(limit) = limit else { return };
    let what = if is_max {
        "Maximum boundary"
    } else {
        "Minimum boundary"
    };
    let range = range_error(limit, false, ty, format, what, path);
    let native = range.is_none();
    if let Some(e) = range {
        out.push_plain(e);
    }
    let (fails, shown) = match n {
        Num::Int(d) if native => {
            let l = limit as i64;
            let fails = if is_max {
                if exclusive { d >= l } else { d > l }
            } else if exclusive {
                d <= l
            } else {
                d < l
            };
            (fails, l.to_string())
        }
        _ => {
            let d = n.as_f64();
            let fails = if is_max {
                if exclusive { d >= limit } else { d > limit }
            } else if exclusive {
                d <= limit
            } else {
                d < limit
            };
            (fails, go_float(limit))
        }
    };
    if fails {
        let relation = match (is_max, exclusive) {
            (true, false) => "less than or equal to",
            (true, true) => "less than",
            (false, false) => "greater than or equal to",
            (false, true) => "greater than",
        };
        out.push(
            path,
            Code::Other,
            value.clone(),
            format!("{path} in body should be {relation} {shown}"),
        );
    }
}
