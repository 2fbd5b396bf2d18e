//! `metadata.managedFields`: decoding the entries into per-manager field sets, encoding them
//! back in upstream's order, and the bookkeeping upstream does around every write (strip
//! server-owned metadata, cap the number of Update entries).

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use super::path::PathElement;
use super::set::FieldSet;
use super::value::write_go_string;

/// The operation a managedFields entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (create, update, patch).
    Update,
}

impl Operation {
    /// The wire name (`Apply`, `Update`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who an entry belongs to. Apply entries are identified without their apiVersion (an
/// applier keeps one entry whatever version it applies with); Update entries with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ManagerKey {
    pub(crate) manager: String,
    pub(crate) operation: Operation,
    /// Empty for Apply.
    pub(crate) api_version: String,
    /// Empty for the main resource.
    pub(crate) subresource: String,
}

impl ManagerKey {
    pub(crate) fn apply(manager: &str, subresource: Option<&str>) -> Self {
        Self::new(manager, Operation::Apply, "", subresource)
    }

    pub(crate) fn update(manager: &str, api_version: &str, subresource: Option<&str>) -> Self {
        Self::new(manager, Operation::Update, api_version, subresource)
    }

    /// A key for a new write: an empty manager name is recorded as `unknown`.
    fn new(manager: &str, operation: Operation, api_version: &str, sub: Option<&str>) -> Self {
        ManagerKey {
            manager: if manager.is_empty() { "unknown" } else { manager }.to_owned(),
            operation,
            api_version: if operation == Operation::Apply {
                String::new()
            } else {
                api_version.to_owned()
            },
            subresource: sub.unwrap_or_default().to_owned(),
        }
    }

    /// Upstream's manager identifier (the JSON of the identifying fields), which orders
    /// conflicts.
    pub(crate) fn identifier(&self) -> String {
        let mut out = String::from("{\"manager\":");
        write_go_string(&self.manager, &mut out);
        out.push_str(",\"operation\":\"");
        out.push_str(self.operation.as_str());
        out.push('"');
        if !self.api_version.is_empty() {
            out.push_str(",\"apiVersion\":");
            write_go_string(&self.api_version, &mut out);
        }
        if !self.subresource.is_empty() {
            out.push_str(",\"subresource\":");
            write_go_string(&self.subresource, &mut out);
        }
        out.push('}');
        out
    }
}

/// What a manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) set: FieldSet,
    /// The version the set was recorded in.
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
}

/// All managers of an object.
pub(crate) type Managers = BTreeMap<ManagerKey, Entry>;

/// `[]` or `[{}]`: a client asking for managedFields to be cleared.
pub(crate) fn is_reset(value: &Value) -> bool {
    match value.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([one]) => one.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// Decodes `metadata.managedFields`, with upstream's checks on each entry.
pub(crate) fn decode(value: &Value) -> Result<Managers, String> {
    let mut managers = Managers::new();
    let Some(entries) = value.as_array() else {
        return match value {
            Value::Null => Ok(managers),
            _ => Err("managedFields must be a list".into()),
        };
    };
    for (i, entry) in entries.iter().enumerate() {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".into()),
        };
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ));
            }
        }
        let set = match entry.get("fieldsV1") {
            Some(fields) => FieldSet::from_fields_v1(fields)?,
            None => FieldSet::new(),
        };
        let key = ManagerKey {
            manager: text("manager").to_owned(),
            operation,
            api_version: match operation {
                Operation::Apply => String::new(),
                Operation::Update => api_version.to_owned(),
            },
            subresource: text("subresource").to_owned(),
        };
        let time = entry.get("time").and_then(Value::as_str).map(str::to_owned);
        managers.insert(
            key,
            Entry {
                set,
                api_version: api_version.to_owned(),
                time,
            },
        );
    }
    Ok(managers)
}

/// Seconds since the epoch of an RFC 3339 time (0 when absent or unparsable), the
/// resolution upstream sorts entries by.
pub(crate) fn seconds(time: Option<&str>) -> i64 {
    time.and_then(|t| jiff::Timestamp::from_str(t).ok())
        .map_or(0, |t| t.as_second())
}

/// Encodes the managers as `metadata.managedFields` (none when there are no managers),
/// sorted as upstream: Apply before Update, then oldest first, then by manager, version
/// and subresource.
pub(crate) fn encode(managers: &Managers) -> Option<Value> {
    if managers.is_empty() {
        return None;
    }
    let mut entries: Vec<(&ManagerKey, &Entry)> = managers.iter().collect();
    entries.sort_by(|(ka, ea), (kb, eb)| {
        ka.operation
            .cmp(&kb.operation)
            .then_with(|| seconds(ea.time.as_deref()).cmp(&seconds(eb.time.as_deref())))
            .then_with(|| ka.manager.cmp(&kb.manager))
            .then_with(|| ea.api_version.cmp(&eb.api_version))
            .then_with(|| ka.subresource.cmp(&kb.subresource))
    });
    let list = entries
        .into_iter()
        .map(|(key, entry)| {
            encode_entry(
                key,
                &entry.api_version,
                entry.time.as_deref(),
                entry.set.to_fields_v1(),
            )
        })
        .collect();
    Some(Value::Array(list))
}

/// One managedFields entry.
pub(crate) fn encode_entry(
    key: &ManagerKey,
    api_version: &str,
    time: Option<&str>,
    fields_v1: Value,
) -> Value {
    let mut out = Map::new();
    out.insert("manager".into(), json!(key.manager));
    out.insert("operation".into(), json!(key.operation.as_str()));
    out.insert("apiVersion".into(), json!(api_version));
    if let Some(time) = time {
        out.insert("time".into(), json!(time));
    }
    out.insert("fieldsType".into(), json!("FieldsV1"));
    out.insert("fieldsV1".into(), fields_v1);
    if !key.subresource.is_empty() {
        out.insert("subresource".into(), json!(key.subresource));
    }
    Value::Object(out)
}

/// Metadata the server owns, which no manager is recorded as owning.
fn strip_set() -> &'static FieldSet {
    static SET: std::sync::OnceLock<FieldSet> = std::sync::OnceLock::new();
    SET.get_or_init(build_strip_set)
}

fn build_strip_set() -> FieldSet {
    let mut set = FieldSet::new();
    for top in ["apiVersion", "kind", "metadata"] {
        set.insert(&[PathElement::field(top)]);
    }
    for meta in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.insert(&[PathElement::field("metadata"), PathElement::field(meta)]);
    }
    set
}

/// Removes server-owned metadata from a manager's set; a manager left owning nothing is
/// dropped (upstream's strip-meta step, run after each write for the writing manager).
pub(crate) fn strip(managers: &mut Managers, key: &ManagerKey) {
    let Some(entry) = managers.get_mut(key) else {
        return;
    };
    entry.set = entry.set.difference(strip_set());
    if entry.set.is_empty() {
        managers.remove(key);
    }
}

/// Upstream keeps at most this many Update entries.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT: &str = "ancient-changes";

/// Folds the oldest Update entries into an `ancient-changes` entry per version once there
/// are more than ten, as upstream does after every update.
pub(crate) fn cap_update_managers(managers: &mut Managers) {
    let mut updaters: Vec<ManagerKey> = managers
        .keys()
        .filter(|k| k.operation == Operation::Update)
        .cloned()
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    let time = |m: &Managers, k: &ManagerKey| seconds(m.get(k).and_then(|e| e.time.as_deref()));
    updaters.sort_by(|a, b| {
        time(managers, a)
            .cmp(&time(managers, b))
            .then_with(|| a.identifier().cmp(&b.identifier()))
    });
    let mut first_of_version: BTreeMap<String, ManagerKey> = BTreeMap::new();
    let mut length = updaters.len();
    for key in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(entry) = managers.get(&key).cloned() else {
            continue;
        };
        let version = entry.api_version.clone();
        let Some(first) = first_of_version.get(&version).cloned() else {
            first_of_version.insert(version, key);
            continue;
        };
        let bucket = ManagerKey::update(ANCIENT, &version, None);
        if !managers.contains_key(&bucket)
            && let Some(moved) = managers.remove(&first)
        {
            managers.insert(bucket.clone(), moved);
        }
        let merged = match managers.get(&bucket) {
            Some(existing) => existing.set.union(&entry.set),
            None => entry.set.clone(),
        };
        managers.remove(&key);
        managers.insert(
            bucket,
            Entry {
                set: merged,
                api_version: version,
                time: entry.time,
            },
        );
        length -= 1;
    }
}
