//! Admission webhooks (admissionregistration.k8s.io/v1): every write that matches a
//! MutatingWebhookConfiguration or ValidatingWebhookConfiguration is sent to its webhook as
//! an AdmissionReview, as upstream's admission chain does — mutating webhooks in order
//! (JSONPatch responses, one reinvocation round for `IfNeeded`), validating ones after
//! validation; rules, namespaceSelector and objectSelector decide who is called;
//! failurePolicy, timeoutSeconds and sideEffects/dryRun are honoured.

pub(crate) mod client;
mod matching;

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use krust_api::{ApiError, registry::ResourceDef};
use serde_json::{Value, json};

use crate::{
    authn::User,
    state::{CACHE_WAIT, State},
};

pub use matching::Operation;

/// What is being admitted.
pub struct Attributes<'a> {
    /// The resource as served at the request path.
    pub def: &'a ResourceDef,
    /// Subresource, if any.
    pub subresource: Option<&'a str>,
    /// The operation.
    pub operation: Operation,
    /// Namespace of the object.
    pub namespace: Option<&'a str>,
    /// Name of the object.
    pub name: &'a str,
    /// Who asks.
    pub user: &'a User,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// One webhook of a configuration, with the configuration's name.
struct Hook {
    config: String,
    spec: Value,
}

impl Hook {
    fn name(&self) -> &str {
        self.spec.get("name").and_then(Value::as_str).unwrap_or("")
    }
    fn fail_closed(&self) -> bool {
        self.spec.get("failurePolicy").and_then(Value::as_str) != Some("Ignore")
    }
    fn timeout(&self) -> Duration {
        let secs = self
            .spec
            .get("timeoutSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(10)
            .clamp(1, 30);
        Duration::from_secs(secs)
    }
    fn dry_run_safe(&self) -> bool {
        matches!(
            self.spec.get("sideEffects").and_then(Value::as_str),
            Some("None" | "NoneOnDryRun")
        )
    }
    fn reinvoke(&self) -> bool {
        self.spec.get("reinvocationPolicy").and_then(Value::as_str) == Some("IfNeeded")
    }
}

/// Waits until the watch cache holds the newest write made through this server to a
/// webhook configuration or a namespace (they are read from the cache), so that one made
/// just before this request is in force for it. Free when there is none pending, which is
/// nearly always; other writes never make admission wait. Should the cache lag for longer
/// than a consistent read would wait, admission goes on with what the cache has.
async fn catch_up(state: &State) {
    let rv = state.admission_rv.load(std::sync::atomic::Ordering::Acquire);
    if state.cache.revision() >= rv {
        return;
    }
    if let Err(e) = state.cache.wait_for(rv, CACHE_WAIT).await {
        tracing::warn!(error = %e, "admission: the watch cache lags; webhook configurations may be stale");
    }
}

/// The webhooks of every configuration of a kind, in configuration-name order.
fn hooks(state: &State, plural: &str) -> Vec<Hook> {
    let Some(def) = state.find("admissionregistration.k8s.io", "v1", plural) else {
        return Vec::new();
    };
    let Some(cache) = state.cache.resource(&def.storage_prefix()) else {
        return Vec::new();
    };
    let page = cache.list(&Default::default(), None, 0);
    let mut out = Vec::new();
    for obj in page.items {
        let Ok(cfg) = serde_json::from_slice::<Value>(&obj.stored) else {
            continue;
        };
        for w in cfg
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(Hook {
                config: obj.name.clone(),
                spec: w.clone(),
            });
        }
    }
    out
}

fn namespace_labels(
    state: &State,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
) -> Option<serde_json::Map<String, Value>> {
    if attrs.def.group.is_empty() && attrs.def.kind == "Namespace" {
        return Some(
            obj.and_then(|o| o.pointer("/metadata/labels"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        );
    }
    let ns = attrs.namespace?;
    let def = state.find("", "v1", "namespaces")?;
    let cached = state
        .cache
        .resource(&def.storage_prefix())?
        .get(&def.key(None, ns))
        .0?;
    let v: Value = serde_json::from_slice(&cached.stored).ok()?;
    Some(
        v.pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    )
}

/// Where to send the review.
fn endpoint(state: &State, hook: &Hook) -> Result<String, String> {
    let cc = hook
        .spec
        .get("clientConfig")
        .ok_or("webhook has no clientConfig")?;
    if let Some(url) = cc.get("url").and_then(Value::as_str) {
        return Ok(url.to_string());
    }
    let svc = cc
        .get("service")
        .ok_or("clientConfig has neither url nor service")?;
    let ns = svc.get("namespace").and_then(Value::as_str).unwrap_or("default");
    let name = svc.get("name").and_then(Value::as_str).unwrap_or("");
    let path = svc.get("path").and_then(Value::as_str).unwrap_or("/");
    let port = svc.get("port").and_then(Value::as_u64).unwrap_or(443);
    let port = u16::try_from(port).map_err(|_| format!("invalid port {port}"))?;
    let (host, target) = crate::resolve::service_endpoint(state, ns, name, port).map_err(|e| e.message)?;
    Ok(format!("https://{host}:{target}{path}"))
}

fn review(attrs: &Attributes<'_>, uid: &str, obj: Option<&Value>, old: Option<&Value>) -> Value {
    let d = attrs.def;
    let mut resource = json!({"group": d.group, "version": d.version, "resource": d.plural});
    let kind = json!({"group": d.group, "version": d.version, "kind": d.kind});
    let mut request = json!({
        "uid": uid,
        "kind": kind,
        "resource": resource.take(),
        "requestKind": kind,
        "requestResource": {"group": d.group, "version": d.version, "resource": d.plural},
        "name": attrs.name,
        "operation": attrs.operation.as_str(),
        "userInfo": {"username": attrs.user.name, "uid": attrs.user.uid, "groups": attrs.user.groups},
        "object": obj.cloned().unwrap_or(Value::Null),
        "oldObject": old.cloned().unwrap_or(Value::Null),
        "dryRun": attrs.dry_run,
        "options": Value::Null,
    });
    if let Some(m) = request.as_object_mut() {
        if let Some(ns) = attrs.namespace {
            m.insert("namespace".into(), json!(ns));
        }
        if let Some(sub) = attrs.subresource {
            m.insert("subResource".into(), json!(sub));
        }
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// The outcome of one call.
enum Verdict {
    Allowed {
        patch: Option<Value>,
        warnings: Vec<String>,
    },
    Denied(ApiError),
}

async fn call(
    state: &State,
    hook: &Hook,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
) -> Result<Verdict, ApiError> {
    let name = hook.name().to_string();
    let failed = |why: String| -> Result<Verdict, ApiError> {
        if hook.fail_closed() {
            Err(ApiError::internal(format!(
                "failed calling webhook \"{name}\": {why}"
            )))
        } else {
            tracing::warn!(webhook = %name, error = %why, "webhook failed; ignored (failurePolicy Ignore)");
            Ok(Verdict::Allowed {
                patch: None,
                warnings: Vec::new(),
            })
        }
    };
    if attrs.dry_run && !hook.dry_run_safe() {
        return Err(ApiError::bad_request(format!(
            "admission webhook \"{name}\" does not support dry run (sideEffects must be None or NoneOnDryRun)"
        )));
    }
    let url = match endpoint(state, hook) {
        Ok(u) => u,
        Err(e) => return failed(format!("failed to call webhook: {e}")),
    };
    let ca = hook
        .spec
        .pointer("/clientConfig/caBundle")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    let uid = uuid::Uuid::new_v4().to_string();
    let body = Bytes::from(serde_json::to_vec(&review(attrs, &uid, obj, old)).unwrap_or_default());
    let answer = match client::post(&url, &ca, body, hook.timeout()).await {
        Ok(a) => a,
        Err(e) => return failed(format!("failed to call webhook: Post \"{url}\": {e}")),
    };
    let Some(resp) = answer.get("response") else {
        return failed("the response had no \"response\" field".into());
    };
    let warnings = resp
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| w.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if resp.get("allowed").and_then(Value::as_bool) != Some(true) {
        let status = resp.get("status").cloned().unwrap_or(Value::Null);
        let code = status
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(403);
        let msg = status.get("message").and_then(Value::as_str).unwrap_or("");
        let text = if msg.is_empty() {
            format!("admission webhook \"{name}\" denied the request without explanation")
        } else {
            format!("admission webhook \"{name}\" denied the request: {msg}")
        };
        let reason = if code == 403 { "Forbidden" } else { "BadRequest" };
        let mut e = ApiError::new(code, reason, text);
        if code == 403 {
            e.reason = "Forbidden";
        }
        return Ok(Verdict::Denied(e));
    }
    let patch = match resp.get("patch").and_then(Value::as_str) {
        Some(p) => match base64::engine::general_purpose::STANDARD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(v) => Some(v),
            None => return failed("the webhook's patch is not base64-encoded JSON".into()),
        },
        None => None,
    };
    Ok(Verdict::Allowed { patch, warnings })
}

/// Runs the matching mutating webhooks on `obj` (served version), applying their patches.
pub async fn mutate(
    state: &State,
    attrs: &Attributes<'_>,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<Vec<String>, ApiError> {
    catch_up(state).await;
    let hooks: Vec<Hook> = hooks(state, "mutatingwebhookconfigurations")
        .into_iter()
        .filter(|h| {
            matching::matches(&h.spec, attrs, Some(&*obj), old, || {
                namespace_labels(state, attrs, Some(&*obj))
            })
        })
        .collect();
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let mut warnings = Vec::new();
    let mut changed_after: Vec<bool> = vec![false; hooks.len()];
    for (i, hook) in hooks.iter().enumerate() {
        if run_mutating(state, hook, attrs, obj, old, &mut warnings).await? {
            for c in changed_after.iter_mut().take(i) {
                *c = true;
            }
        }
    }
    // One reinvocation round for webhooks that asked for it and saw later changes.
    for (i, hook) in hooks.iter().enumerate() {
        if hook.reinvoke() && changed_after[i] {
            run_mutating(state, hook, attrs, obj, old, &mut warnings).await?;
        }
    }
    Ok(warnings)
}

async fn run_mutating(
    state: &State,
    hook: &Hook,
    attrs: &Attributes<'_>,
    obj: &mut Value,
    old: Option<&Value>,
    warnings: &mut Vec<String>,
) -> Result<bool, ApiError> {
    match call(state, hook, attrs, Some(&*obj), old).await? {
        Verdict::Denied(e) => Err(e),
        Verdict::Allowed { patch, warnings: w } => {
            warnings.extend(w);
            let Some(patch) = patch else { return Ok(false) };
            let patched = krust_api::patch::json_patch(obj, &patch).map_err(|e| {
                ApiError::internal(format!(
                    "admission webhook \"{}\" ({}) returned an invalid patch: {e}",
                    hook.name(),
                    hook.config
                ))
            })?;
            let changed = patched != *obj;
            *obj = patched;
            Ok(changed)
        }
    }
}

/// Runs the matching validating webhooks (in parallel); the first denial wins.
pub async fn validate(
    state: &State,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
) -> Result<Vec<String>, ApiError> {
    catch_up(state).await;
    let hooks: Vec<Hook> = hooks(state, "validatingwebhookconfigurations")
        .into_iter()
        .filter(|h| {
            matching::matches(&h.spec, attrs, obj, old, || {
                namespace_labels(state, attrs, obj.or(old))
            })
        })
        .collect();
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let results = futures_util::future::join_all(hooks.iter().map(|h| call(state, h, attrs, obj, old))).await;
    let mut warnings = Vec::new();
    for r in results {
        match r? {
            Verdict::Denied(e) => return Err(e),
            Verdict::Allowed { warnings: w, .. } => warnings.extend(w),
        }
    }
    Ok(warnings)
}
