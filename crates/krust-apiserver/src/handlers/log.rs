//! `GET pods/<name>/log`: checks the request against the pod (which container, is there
//! a log to show yet), finds the node agent the pod runs on, and streams the container's
//! log from it (see `kubelet_client`). The decisions are pure functions on the pod and
//! node JSON, tested below; upstream's messages are kept because users search for them.

use krust_api::ApiError;
use krust_api::podlogs::PodLogOptions;
use serde_json::Value;

use super::Ctx;
use crate::respond::Resp;

/// The kubelet port a node reports when it reports none (upstream's default).
const DEFAULT_KUBELET_PORT: u16 = 10250;

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The container whose log is asked for: the one named, else the pod's only container.
pub(crate) fn choose_container(pod: &Value, name: &str, requested: Option<&str>) -> Result<String, ApiError> {
    let containers = names(pod, "containers");
    let init = names(pod, "initContainers");
    let ephemeral = names(pod, "ephemeralContainers");
    let Some(requested) = requested else {
        return match containers.as_slice() {
            [only] => Ok(only.clone()),
            _ if init.is_empty() => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            ))),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}] or one of the init containers: [{}]",
                containers.join(" "),
                init.join(" ")
            ))),
        };
    };
    if containers
        .iter()
        .chain(&init)
        .chain(&ephemeral)
        .any(|c| c == requested)
    {
        Ok(requested.to_string())
    } else {
        Err(ApiError::bad_request(format!(
            "container {requested} is not valid for pod {name}"
        )))
    }
}

/// Whether the container has a log to show, from the pod's status (as upstream's kubelet
/// decides): a container still waiting for its first start has none, and `previous`
/// needs a terminated earlier instance.
pub(crate) fn check_status(pod: &Value, name: &str, container: &str, previous: bool) -> Result<(), ApiError> {
    let status = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|list| pod.pointer(&format!("/status/{list}")).and_then(Value::as_array))
    .flatten()
    .find(|s| s.get("name").and_then(Value::as_str) == Some(container));
    let Some(status) = status else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    };
    let has_previous = status
        .pointer("/lastState/terminated")
        .is_some_and(Value::is_object);
    if previous {
        return if has_previous {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )))
        };
    }
    if let Some(waiting) = status.pointer("/state/waiting").filter(|w| w.is_object())
        && !has_previous
    {
        let reason = waiting
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    Ok(())
}

/// Where the node's agent serves: its InternalIP (else another address) and the port
/// in `daemonEndpoints`.
pub(crate) fn kubelet_address(node: &Value) -> Option<(String, u16)> {
    let addresses = node.pointer("/status/addresses").and_then(Value::as_array)?;
    let of_type = |t: &str| {
        addresses
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(t))
            .and_then(|a| a.get("address").and_then(Value::as_str))
    };
    let ip = of_type("InternalIP")
        .or_else(|| of_type("ExternalIP"))
        .or_else(|| of_type("Hostname"))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Some((ip.to_string(), port))
}

/// Serves `pods/<name>/log`.
pub async fn get(ctx: Ctx) -> Result<Resp, ApiError> {
    let opts = PodLogOptions::parse(|k| ctx.query.get(k)).map_err(ApiError::bad_request)?;
    let name = ctx.name().to_string();
    let namespace = ctx.namespace().unwrap_or_default().to_string();
    let pod = ctx
        .state
        .read(&ctx.key())
        .await?
        .ok_or_else(|| ApiError::not_found(ctx.def.target(), &name))?
        .value;
    let container = choose_container(&pod, &name, opts.container.as_deref())?;
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("pod {name} does not have a host assigned")))?
        .to_string();
    check_status(&pod, &name, &container, opts.previous)?;
    let nodes = ctx
        .state
        .find("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not registered"))?;
    let node = ctx
        .state
        .read(&nodes.key(None, &node_name))
        .await?
        .ok_or_else(|| ApiError::not_found(nodes.target(), &node_name))?
        .value;
    let (host, port) = kubelet_address(&node).ok_or_else(|| {
        ApiError::internal(format!(
            "node {node_name} reports no address to reach its kubelet at"
        ))
    })?;
    let tls = ctx.state.kubelet_client.clone().ok_or_else(|| {
        ApiError::internal("this API server has no client certificate for node agents; logs cannot be read")
    })?;
    let mut path = format!("/containerLogs/{namespace}/{name}/{container}");
    let query = opts.to_query();
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query);
    }
    crate::kubelet_client::get_stream(tls, &host, port, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        json!({"spec": {"containers": list(containers), "initContainers": list(init)}})
    }

    #[test]
    fn the_only_container_is_the_default() {
        assert_eq!(choose_container(&pod(&["a"], &[]), "p", None).unwrap(), "a");
        assert_eq!(
            choose_container(&pod(&["a", "b"], &["i"]), "p", Some("i")).unwrap(),
            "i"
        );
    }

    #[test]
    fn several_containers_need_a_name_and_it_must_exist() {
        let e = choose_container(&pod(&["a", "b"], &[]), "p", None).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "a container name must be specified for pod p, choose one of: [a b]"
        );
        let e = choose_container(&pod(&["a", "b"], &["i"]), "p", None).unwrap_err();
        assert!(
            e.message.ends_with("or one of the init containers: [i]"),
            "{}",
            e.message
        );
        let e = choose_container(&pod(&["a"], &[]), "p", Some("c")).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "container c is not valid for pod p")
        );
    }

    #[test]
    fn waiting_and_previous_follow_the_status() {
        let with = |status: Value| json!({"status": {"containerStatuses": [status]}});
        let running = with(json!({"name": "a", "state": {"running": {}}, "restartCount": 0}));
        assert!(check_status(&running, "p", "a", false).is_ok());
        let e = check_status(&running, "p", "a", true).unwrap_err();
        assert_eq!(
            e.message,
            "previous terminated container \"a\" in pod \"p\" not found"
        );
        let creating = with(json!({"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}));
        let e = check_status(&creating, "p", "a", false).unwrap_err();
        assert_eq!(
            e.message,
            "container \"a\" in pod \"p\" is waiting to start: ContainerCreating"
        );
        assert!(check_status(&json!({}), "p", "a", false).is_err());
        let crashed = with(
            json!({"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1}}, "restartCount": 1}),
        );
        assert!(check_status(&crashed, "p", "a", false).is_ok());
        assert!(check_status(&crashed, "p", "a", true).is_ok());
    }

    #[test]
    fn the_kubelet_is_reached_at_the_internal_ip_and_reported_port() {
        let node = json!({"status": {"addresses": [
            {"type": "Hostname", "address": "box"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 12345}}}});
        assert_eq!(kubelet_address(&node), Some(("10.0.0.5".into(), 12345)));
        let bare = json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.6"}]}});
        assert_eq!(kubelet_address(&bare), Some(("10.0.0.6".into(), 10250)));
        assert_eq!(kubelet_address(&json!({})), None);
    }
}
