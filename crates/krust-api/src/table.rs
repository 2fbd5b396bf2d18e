//! `Table` columns and cells for each built-in kind, matching upstream's printers.

use jiff::Timestamp;
use serde_json::Value;

/// One `TableColumnDefinition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header, e.g. `Name`, `Ready`.
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `date`, ...
    pub type_: &'static str,
    /// Format: `name` for the name column, else usually empty.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: u8,
}

/// The columns for `group`/`kind` (a default Name/Created At set for kinds with no printer).
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    let _ = (group, kind);
    vec![Column {
        name: "Name",
        type_: "string",
        format: "name",
        description: "",
        priority: 0,
    }]
}

/// The cells of one row, in the order of `columns`; `now` computes ages like `5m`.
pub fn cells(group: &str, kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    let _ = (group, kind, now);
    vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)]
}
