//! Renders objects and lists in the negotiated representation: JSON (bytes spliced, no
//! re-serialization), YAML, `Table` and `PartialObjectMetadata`.

use bytes::{BufMut, Bytes, BytesMut};
use jiff::Timestamp;
use krust_api::{
    ApiError,
    registry::{PrinterColumn, ResourceDef},
    table,
};
use serde_json::{Map, Value, json};

/// `?includeObject=` of Table requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object in rows.
    None,
    /// `PartialObjectMetadata` in rows (the default).
    #[default]
    Metadata,
    /// The full object in rows.
    Object,
}

impl IncludeObject {
    /// Parses the parameter.
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v {
            None | Some("") | Some("Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(o) => Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: {o:?}: supported values: \"None\", \"Metadata\", \"Object\""
            ))),
        }
    }
}

/// List-level metadata.
#[derive(Debug, Clone, Default)]
pub struct ListMeta {
    /// `resourceVersion`.
    pub resource_version: u64,
    /// `continue` token.
    pub continue_token: Option<String>,
    /// `remainingItemCount`.
    pub remaining: Option<u64>,
}

impl ListMeta {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "resourceVersion".into(),
            Value::String(self.resource_version.to_string()),
        );
        if let Some(c) = &self.continue_token {
            m.insert("continue".into(), Value::String(c.clone()));
        }
        if let Some(r) = self.remaining {
            m.insert("remainingItemCount".into(), Value::from(r));
        }
        Value::Object(m)
    }
}

fn meta_api_version(beta: bool) -> &'static str {
    if beta {
        "meta.k8s.io/v1beta1"
    } else {
        "meta.k8s.io/v1"
    }
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value, beta: bool) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": meta_api_version(beta),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Column definitions of a Table for a resource.
fn column_defs(def: &ResourceDef) -> Vec<Value> {
    if let Some(c) = &def.custom {
        return custom_columns(&c.columns);
    }
    table::columns(&def.group, &def.kind)
        .into_iter()
        .map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect()
}

/// A CRD's columns: Name, then its `additionalPrinterColumns` (or Age when it has none).
fn custom_columns(cols: &[PrinterColumn]) -> Vec<Value> {
    let mut out = vec![json!({"name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0})];
    if cols.is_empty() {
        out.push(json!({"name": "Age", "type": "date", "format": "",
            "description": "The time since the object was created.", "priority": 0}));
    }
    for c in cols {
        out.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
    }
    out
}

/// Cells of a custom resource's row: values found by each column's JSONPath, dates as ages.
fn custom_cells(cols: &[PrinterColumn], obj: &Value, now: Timestamp) -> Vec<Value> {
    let age = |v: &Value| -> Value {
        v.as_str()
            .and_then(|s| s.parse::<Timestamp>().ok())
            .map(|t| Value::String(table::human_duration(now.as_second() - t.as_second())))
            .unwrap_or(Value::Null)
    };
    let mut out = vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
    if cols.is_empty() {
        out.push(
            obj.pointer("/metadata/creationTimestamp")
                .map(age)
                .unwrap_or(Value::Null),
        );
    }
    for c in cols {
        let found = crate::jsonpath::find(obj, &c.json_path);
        let cell = match found.as_slice() {
            [] => Value::Null,
            [one] if c.type_ == "date" => age(one),
            [one] => (*one).clone(),
            many => Value::String(
                many.iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        };
        out.push(cell);
    }
    out
}

/// One Table row.
pub fn table_row(
    def: &ResourceDef,
    obj: &Value,
    include: IncludeObject,
    beta: bool,
    now: Timestamp,
) -> Value {
    let cells = match &def.custom {
        Some(c) => custom_cells(&c.columns, obj, now),
        None => table::cells(&def.group, &def.kind, obj, now),
    };
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells));
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row.insert("object".into(), partial_metadata(obj, beta));
        }
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
    }
    Value::Object(row)
}

/// A whole Table.
pub fn table(
    def: &ResourceDef,
    objs: &[Value],
    meta: &ListMeta,
    include: IncludeObject,
    beta: bool,
    with_columns: bool,
) -> Value {
    let now = Timestamp::now();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| table_row(def, o, include, beta, now))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": meta_api_version(beta),
        "metadata": meta.to_json(),
        "columnDefinitions": if with_columns { column_defs(def) } else { Vec::new() },
        "rows": rows,
    })
}

/// Content type of a Table response.
pub fn table_content_type(beta: bool) -> &'static str {
    if beta {
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
    } else {
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    }
}

/// Content type of a metadata-only response.
pub fn metadata_content_type(beta: bool, list: bool) -> String {
    let v = if beta { "v1beta1" } else { "v1" };
    let as_ = if list {
        "PartialObjectMetadataList"
    } else {
        "PartialObjectMetadata"
    };
    format!("application/json;as={as_};v={v};g=meta.k8s.io")
}

/// A JSON list assembled from already rendered item bytes.
pub fn json_list(def: &ResourceDef, items: &[Bytes], meta: &ListMeta) -> Bytes {
    let size: usize = items.iter().map(Bytes::len).sum::<usize>() + items.len() + 256;
    json_list_with(def, meta, size, items, |out, it| out.put_slice(it))
}

/// A JSON list of objects in their stored form, each rendered with its resourceVersion
/// straight into the list: no buffer per item (a list of 10,000 pods would otherwise
/// allocate and copy every object twice).
pub fn json_list_stored(def: &ResourceDef, items: &[(Bytes, u64)], meta: &ListMeta) -> Bytes {
    let size: usize = items.iter().map(|(b, _)| b.len() + 32).sum::<usize>() + 256;
    json_list_with(def, meta, size, items, |out, (b, rv)| {
        crate::stored::render_into(out, b, *rv);
    })
}

fn json_list_with<T>(
    def: &ResourceDef,
    meta: &ListMeta,
    size: usize,
    items: &[T],
    mut write: impl FnMut(&mut BytesMut, &T),
) -> Bytes {
    let mut out = BytesMut::with_capacity(size);
    out.put_slice(b"{\"kind\":");
    out.put_slice(&serde_json::to_vec(&format!("{}List", def.kind)).unwrap_or_default());
    out.put_slice(b",\"apiVersion\":");
    out.put_slice(&serde_json::to_vec(&def.api_version()).unwrap_or_default());
    out.put_slice(b",\"metadata\":");
    out.put_slice(&serde_json::to_vec(&meta.to_json()).unwrap_or_default());
    out.put_slice(b",\"items\":[");
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        write(&mut out, it);
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// A metadata-only list.
pub fn metadata_list(objs: &[Value], meta: &ListMeta, beta: bool) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": meta_api_version(beta),
        "metadata": meta.to_json(),
        "items": objs.iter().map(|o| partial_metadata(o, beta)).collect::<Vec<_>>(),
    })
}

/// YAML text of a value.
pub fn yaml(v: &Value) -> Result<String, ApiError> {
    serde_saphyr::to_string(v).map_err(|e| ApiError::internal(format!("encoding YAML: {e}")))
}
