//! CEL `x-kubernetes-validations` rules: compiled once per schema (parse, then a check that
//! the rule only names `self`, `oldSelf` and its own comprehension variables), evaluated
//! per node with `self` bound to the value and, for transition rules on update, `oldSelf`
//! to its correlated old value, as upstream's `cel.Validator` does.
//!
//! The interpreter is the `cel` crate with Kubernetes' extension libraries (`kube-cel`). It
//! is dynamically typed, so a rule upstream's type checker would refuse (a misspelt field)
//! compiles here and fails when evaluated instead.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use kube_cel::KubeCelExt;
use kube_cel::cel::common::ast::{EntryExpr, Expr};
use kube_cel::cel::objects::OptionalValue;
use kube_cel::cel::parser::{Expression, Parser};
use kube_cel::cel::{Context, ExecutionError, Value as Cel};
use serde_json::Value;

/// Longest rule (or message expression) accepted: the parser and interpreter recurse once
/// per operator in a chain, so length bounds their depth.
pub(crate) const MAX_EXPRESSION: usize = 4096;
/// Nesting limit given to the parser.
const MAX_NESTING: u16 = 64;
/// Upstream's limit on an evaluated `messageExpression`.
const MAX_MESSAGE: usize = 5 * 1024;

/// Identifiers a rule may use besides `self`, `oldSelf` and comprehension variables: type
/// names and the namespaces of extension functions.
const ALLOWED_IDENTS: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
    "math",
    "strings",
    "sets",
    "lists",
    "base64",
    "optional",
    "format",
    "cel",
    "jsonpatch",
];

/// One compiled rule.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    /// The rule object as written (shown in CRD validation errors).
    pub raw: Value,
    pub rule: String,
    pub message: String,
    pub reason: Option<String>,
    pub field_path: String,
    pub optional_old_self: Option<bool>,
    /// The parsed rule, or why it does not compile.
    pub program: Result<Expression, String>,
    /// The parsed `messageExpression`, when there is one.
    pub message_program: Option<Result<Expression, String>>,
    pub uses_old_self: bool,
}

/// Compiles the rules of one node.
pub(crate) fn compile_rules(rules: Option<&Value>) -> Vec<CompiledRule> {
    let Some(Value::Array(rules)) = rules else {
        return Vec::new();
    };
    rules.iter().map(compile_rule).collect()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn compile_rule(raw: &Value) -> CompiledRule {
    let rule = text(raw, "rule");
    let message_expression = text(raw, "messageExpression");
    let program = parse(&rule);
    let uses_old_self = program
        .as_ref()
        .is_ok_and(|e| e.references().has_variable("oldSelf"));
    CompiledRule {
        raw: raw.clone(),
        message: text(raw, "message"),
        reason: raw.get("reason").and_then(Value::as_str).map(str::to_string),
        field_path: text(raw, "fieldPath"),
        optional_old_self: raw.get("optionalOldSelf").and_then(Value::as_bool),
        message_program: (!message_expression.trim().is_empty()).then(|| parse(&message_expression)),
        program,
        uses_old_self,
        rule,
    }
}

/// Parses an expression (on a large stack, catching the parser's panics) and checks the
/// names it uses.
pub(crate) fn parse(src: &str) -> Result<Expression, String> {
    if src.trim().is_empty() {
        return Err("compilation failed: ERROR: <input>:1:1: Syntax error: empty expression".into());
    }
    if src.len() > MAX_EXPRESSION {
        return Err(format!(
            "compilation failed: expression is {} bytes long; at most {MAX_EXPRESSION} are supported",
            src.len()
        ));
    }
    let parsed = super::util::with_big_stack(|| {
        catch_unwind(AssertUnwindSafe(|| {
            Parser::new()
                .enable_optional_syntax(true)
                .max_recursion_depth(MAX_NESTING)
                .parse(src)
        }))
    });
    let expr = match parsed {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return Err(format!("compilation failed: {e}")),
        Err(_) => return Err("compilation failed: the expression could not be parsed".into()),
    };
    let mut bound = Vec::new();
    check_names(&expr, &mut bound, 0).map_err(|e| format!("compilation failed: ERROR: <input>: {e}"))?;
    Ok(expr)
}

/// Refuses constructs the interpreter cannot run and names nothing declares.
fn check_names(e: &Expression, bound: &mut Vec<String>, depth: usize) -> Result<(), String> {
    if depth > usize::from(MAX_NESTING) * 64 {
        return Err("expression nested too deeply".into());
    }
    match &e.expr {
        Expr::Unspecified => Err("unsupported expression".into()),
        Expr::Struct(s) => Err(format!(
            "undeclared reference to '{}' (in container '')",
            s.type_name
        )),
        Expr::Ident(name) => {
            if name.starts_with('@')
                || name == "self"
                || name == "oldSelf"
                || bound.iter().any(|b| b == name)
                || ALLOWED_IDENTS.contains(&name.as_str())
            {
                Ok(())
            } else {
                Err(format!("undeclared reference to '{name}' (in container '')"))
            }
        }
        Expr::Literal(_) => Ok(()),
        Expr::Select(s) => check_names(&s.operand, bound, depth + 1),
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                let namespace = matches!(&t.expr, Expr::Ident(n) if ALLOWED_IDENTS.contains(&n.as_str()));
                if !namespace {
                    check_names(t, bound, depth + 1)?;
                }
            }
            c.args.iter().try_for_each(|a| check_names(a, bound, depth + 1))
        }
        Expr::List(l) => l
            .elements
            .iter()
            .try_for_each(|x| check_names(x, bound, depth + 1)),
        Expr::Map(m) => m.entries.iter().try_for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(me) => {
                check_names(&me.key, bound, depth + 1)?;
                check_names(&me.value, bound, depth + 1)
            }
            EntryExpr::StructField(_) => Err("unsupported message construction".into()),
        }),
        Expr::Comprehension(c) => {
            check_names(&c.iter_range, bound, depth + 1)?;
            check_names(&c.accu_init, bound, depth + 1)?;
            let before = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2.clone());
            }
            bound.push(c.accu_var.clone());
            let r = [&c.loop_cond, &c.loop_step, &c.result]
                .into_iter()
                .try_for_each(|x| check_names(x, bound, depth + 1));
            bound.truncate(before);
            r
        }
    }
}

thread_local! {
    /// The base context with the Kubernetes libraries, built once per thread.
    static ROOT: RefCell<Option<Context<'static>>> = const { RefCell::new(None) };
}

/// The variables of one evaluation.
pub(crate) struct Activation {
    pub this: Cel,
    /// `oldSelf` as a plain value (None when there is no old value).
    pub old: Option<Cel>,
    /// Bind `oldSelf` as an optional (`optionalOldSelf: true`).
    pub optional_old: bool,
}

/// Evaluates a parsed expression; errors are worded as upstream's (`no such key: x`).
pub(crate) fn eval(expr: &Expression, act: &Activation) -> Result<Cel, String> {
    ROOT.with(|root| {
        let mut root = root.borrow_mut();
        let base = root.get_or_insert_with(|| Context::default().with_all());
        let mut ctx = base.new_inner_scope();
        ctx.add_variable_from_value("self", act.this.clone());
        if act.optional_old {
            let opt = match &act.old {
                Some(o) => OptionalValue::of(o.clone()),
                None => OptionalValue::none(),
            };
            ctx.add_variable_from_value("oldSelf", Cel::Opaque(Arc::new(opt)));
        } else if let Some(o) = &act.old {
            ctx.add_variable_from_value("oldSelf", o.clone());
        }
        match catch_unwind(AssertUnwindSafe(|| Cel::resolve(expr, &ctx))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(describe(&e)),
            Err(_) => Err("internal error evaluating the expression".into()),
        }
    })
}

fn describe(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::NoSuchOverload => "no such overload".into(),
        ExecutionError::DivisionByZero(_) => "division by zero".into(),
        ExecutionError::UndeclaredReference(r) => format!("undeclared reference to '{r}'"),
        other => other.to_string(),
    }
}

/// Evaluates a `messageExpression` as upstream: it must give a non-empty single-line string
/// of at most 5 KiB, else the static message is used.
pub(crate) fn message(expr: &Expression, act: &Activation) -> Option<String> {
    match eval(expr, act) {
        Ok(Cel::String(s)) => {
            let t = s.trim();
            (!t.is_empty() && t.len() <= MAX_MESSAGE && !t.contains('\n')).then(|| t.to_string())
        }
        _ => None,
    }
}
