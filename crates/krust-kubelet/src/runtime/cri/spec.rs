//! A pod's spec as CRI configurations: the sandbox (metadata, hostname, log directory,
//! host ports, namespaces, labels the runtime is asked to keep) and each container
//! (image, command and args with `$(VAR)` expanded, env, mounts, security context,
//! resources). Pure: paths and addresses come in, configurations go out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod, SecurityContext};
use krust_api::quantity::Quantity;
use krust_cri::v1;

use crate::volumes::Fetched;

/// Labels and annotations the runtime keeps on sandboxes and containers, so the agent can
/// find a pod's containers again after a restart (upstream kubelet's names).
pub(crate) const POD_UID: &str = "io.kubernetes.pod.uid";
pub(crate) const POD_NAME: &str = "io.kubernetes.pod.name";
pub(crate) const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub(crate) const CONTAINER_NAME: &str = "io.kubernetes.container.name";
pub(crate) const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";

/// Where a node keeps what its pods write.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// Pod log directories (`<root>/<namespace>_<name>_<uid>/<container>/<attempt>.log`).
    pub logs: PathBuf,
    /// Per-pod volume directories (`<root>/<uid>/volumes/...`).
    pub pods: PathBuf,
}

impl Paths {
    /// The log directory of `pod`.
    pub fn pod_logs(&self, pod: &Pod) -> PathBuf {
        let m = &pod.metadata;
        self.logs.join(format!(
            "{}_{}_{}",
            m.namespace.as_deref().unwrap_or_default(),
            m.name.as_deref().unwrap_or_default(),
            m.uid.as_deref().unwrap_or_default()
        ))
    }

    /// The log directories of pod `uid` (by its suffix: the name is not known any more
    /// when a pod is removed).
    pub fn log_dirs_of(&self, uid: &str) -> Vec<PathBuf> {
        let suffix = format!("_{uid}");
        std::fs::read_dir(&self.logs)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
            .map(|e| e.path())
            .collect()
    }

    /// The directory of pod `uid`'s volumes.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods.join(uid)
    }

    /// The host file container `name`'s instance `attempt` writes its termination
    /// message to (mounted at its `terminationMessagePath`).
    pub fn termination_log(&self, uid: &str, name: &str, attempt: u32) -> PathBuf {
        self.pod_dir(uid)
            .join("containers")
            .join(name)
            .join(format!("{attempt}-termination-log"))
    }

    /// The host directory of an emptyDir volume.
    pub fn empty_dir(&self, uid: &str, volume: &str) -> PathBuf {
        self.pod_dir(uid)
            .join("volumes/kubernetes.io~empty-dir")
            .join(volume)
    }
}

fn meta_str(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// The sandbox configuration of `pod`.
pub(crate) fn sandbox_config(pod: &Pod, paths: &Paths, dns: &super::dns::ClusterDns) -> v1::PodSandboxConfig {
    let m = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let mut labels: HashMap<String, String> = m.labels.clone().unwrap_or_default().into_iter().collect();
    labels.insert(POD_UID.into(), meta_str(&m.uid));
    labels.insert(POD_NAME.into(), meta_str(&m.name));
    labels.insert(POD_NAMESPACE.into(), meta_str(&m.namespace));
    let hostname = spec
        .hostname
        .clone()
        .or_else(|| m.name.clone())
        .unwrap_or_default();
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let host_port = p.host_port.filter(|&h| h > 0)?;
            Some(v1::PortMapping {
                protocol: protocol(p.protocol.as_deref()) as i32,
                container_port: p.container_port,
                host_port,
                host_ip: p.host_ip.clone().unwrap_or_default(),
            })
        })
        .collect();
    let namespaces = namespace_options(pod);
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: meta_str(&m.name),
            uid: meta_str(&m.uid),
            namespace: meta_str(&m.namespace),
            attempt: 0,
        }),
        hostname,
        log_directory: paths.pod_logs(pod).display().to_string(),
        dns_config: super::dns::dns_config(pod, dns),
        port_mappings,
        labels,
        annotations: m.annotations.clone().unwrap_or_default().into_iter().collect(),
        linux: Some(v1::LinuxPodSandboxConfig {
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces),
                run_as_user: pod_sc.run_as_user.map(|value| v1::Int64Value { value }),
                run_as_group: pod_sc.run_as_group.map(|value| v1::Int64Value { value }),
                supplemental_groups: pod_sc.supplemental_groups.clone().unwrap_or_default(),
                privileged: spec
                    .containers
                    .iter()
                    .chain(spec.init_containers.iter().flatten())
                    .any(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true)),
                ..Default::default()
            }),
            sysctls: pod_sc
                .sysctls
                .iter()
                .flatten()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect(),
            ..Default::default()
        }),
        windows: None,
    }
}

fn protocol(p: Option<&str>) -> v1::Protocol {
    match p {
        Some("UDP") => v1::Protocol::Udp,
        Some("SCTP") => v1::Protocol::Sctp,
        _ => v1::Protocol::Tcp,
    }
}

fn namespace_options(pod: &Pod) -> v1::NamespaceOption {
    let spec = pod.spec.as_ref();
    let mode = |host: Option<bool>, otherwise: v1::NamespaceMode| {
        if host == Some(true) {
            v1::NamespaceMode::Node as i32
        } else {
            otherwise as i32
        }
    };
    v1::NamespaceOption {
        network: mode(spec.and_then(|s| s.host_network), v1::NamespaceMode::Pod),
        pid: mode(
            spec.and_then(|s| s.host_pid),
            if spec.and_then(|s| s.share_process_namespace) == Some(true) {
                v1::NamespaceMode::Pod
            } else {
                v1::NamespaceMode::Container
            },
        ),
        ipc: mode(spec.and_then(|s| s.host_ipc), v1::NamespaceMode::Pod),
        ..Default::default()
    }
}

/// Addresses a container's env may refer to (`status.podIP`, `status.hostIP`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Addresses {
    pub pod_ip: String,
    pub host_ip: String,
}

/// Why a container cannot be configured (upstream's `CreateContainerConfigError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ConfigError(pub String);

/// The env of container `c`: `envFrom` sources first, then `env` in order (later entries
/// override earlier ones), each value expanded against the ones before it. ConfigMaps and
/// Secrets come from `fetched`.
pub(crate) fn env(
    pod: &Pod,
    c: &Container,
    addrs: &Addresses,
    fetched: &Fetched,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, name: String, value: String| match out
        .iter_mut()
        .find(|(k, _)| *k == name)
    {
        Some(slot) => slot.1 = value,
        None => out.push((name, value)),
    };
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (kind, name, optional, data) = if let Some(r) = &from.config_map_ref {
            (
                "configmap",
                r.name.clone(),
                r.optional == Some(true),
                fetched.config_map_data(&r.name),
            )
        } else if let Some(r) = &from.secret_ref {
            (
                "secret",
                r.name.clone(),
                r.optional == Some(true),
                fetched.secret_data(&r.name),
            )
        } else {
            continue;
        };
        match data {
            Some(data) => {
                for (k, v) in data {
                    let key = format!("{prefix}{k}");
                    // Keys that are not valid variable names are skipped, as upstream does.
                    if is_env_name(&key) {
                        set(&mut out, key, String::from_utf8_lossy(&v).into_owned());
                    }
                }
            }
            None if optional => {}
            None => return Err(ConfigError(format!("{kind} \"{name}\" not found"))),
        }
    }
    for var in c.env.iter().flatten() {
        if let Some(value) = env_value(pod, c, var, addrs, &out, fetched)? {
            set(&mut out, var.name.clone(), value);
        }
    }
    Ok(out)
}

/// Whether `s` may be an environment variable name (printable, no `=`, not starting
/// with a digit).
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_graphic() && c != '=')
}

/// The value of one `env` entry; `None` when it refers to an optional key that is absent.
fn env_value(
    pod: &Pod,
    c: &Container,
    var: &EnvVar,
    addrs: &Addresses,
    before: &[(String, String)],
    fetched: &Fetched,
) -> Result<Option<String>, ConfigError> {
    if let Some(v) = &var.value {
        return Ok(Some(super::expand::expand(v, |name| lookup(before, name))));
    }
    let Some(from) = &var.value_from else {
        return Ok(Some(String::new()));
    };
    if let Some(f) = &from.field_ref {
        return field_value(pod, &f.field_path, addrs).map(Some).ok_or_else(|| {
            ConfigError(format!(
                "env {}: unsupported fieldRef {:?}",
                var.name, f.field_path
            ))
        });
    }
    if let Some(r) = &from.resource_field_ref {
        return resource_value(c, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()))
            .map(Some)
            .ok_or_else(|| {
                ConfigError(format!(
                    "env {}: cannot resolve resource {:?}",
                    var.name, r.resource
                ))
            });
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let (kind, title, name, key, optional, data) = if let Some(r) = &from.config_map_key_ref {
        (
            "configmap",
            "ConfigMap",
            &r.name,
            &r.key,
            r.optional == Some(true),
            fetched.config_map_data(&r.name),
        )
    } else if let Some(r) = &from.secret_key_ref {
        (
            "secret",
            "Secret",
            &r.name,
            &r.key,
            r.optional == Some(true),
            fetched.secret_data(&r.name),
        )
    } else {
        return Ok(Some(String::new()));
    };
    match data {
        None if optional => Ok(None),
        None => Err(ConfigError(format!("{kind} \"{name}\" not found"))),
        Some(data) => match data.get(key) {
            Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
            None if optional => Ok(None),
            None => Err(ConfigError(format!(
                "couldn't find key {key} in {title} {ns}/{name}"
            ))),
        },
    }
}

fn lookup(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The value of a downward-API field path.
pub(crate) fn field_value(pod: &Pod, path: &str, addrs: &Addresses) -> Option<String> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let bracket = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix("['"))
            .and_then(|r| r.strip_suffix("']"))
            .map(str::to_string)
    };
    Some(match path {
        "metadata.name" => meta_str(&m.name),
        "metadata.namespace" => meta_str(&m.namespace),
        "metadata.uid" => meta_str(&m.uid),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => addrs.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => addrs.host_ip.clone(),
        _ => {
            if let Some(key) = bracket("metadata.labels") {
                return Some(
                    m.labels
                        .as_ref()
                        .and_then(|l| l.get(&key).cloned())
                        .unwrap_or_default(),
                );
            }
            if let Some(key) = bracket("metadata.annotations") {
                return Some(
                    m.annotations
                        .as_ref()
                        .and_then(|l| l.get(&key).cloned())
                        .unwrap_or_default(),
                );
            }
            return None;
        }
    })
}

/// `limits.cpu`, `requests.memory`, ... of container `c` divided by `divisor` (default
/// 1), rounded up as upstream does.
pub(crate) fn resource_value(c: &Container, resource: &str, divisor: Option<&str>) -> Option<String> {
    let (kind, name) = resource.split_once('.')?;
    let res = c.resources.as_ref();
    let map = match kind {
        "limits" => res.and_then(|r| r.limits.as_ref()),
        "requests" => res.and_then(|r| r.requests.as_ref()),
        _ => return None,
    };
    let milli = match map.and_then(|m| m.get(name)) {
        Some(q) => Quantity::parse(&q.0).ok()?.milli_value(),
        None => 0,
    };
    let divisor = match divisor {
        Some(d) => Quantity::parse(d).ok()?.milli_value(),
        None => 1000,
    };
    if divisor <= 0 {
        return None;
    }
    Some(((milli + divisor - 1) / divisor).to_string())
}

/// Where each of `c`'s volume mounts comes from on the host, for the volume kinds this
/// node supports; the host directories of emptyDirs are made by the caller.
pub(crate) fn mounts(
    pod: &Pod,
    c: &Container,
    paths: &Paths,
    fetched: &Fetched,
) -> Result<Vec<v1::Mount>, ConfigError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    let mut out = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        let Some(vol) = volumes.and_then(|vs| vs.iter().find(|v| v.name == vm.name)) else {
            return Err(ConfigError(format!(
                "volume mount {:?} names no volume of the pod",
                vm.name
            )));
        };
        let mut host: PathBuf = if vol.empty_dir.is_some() {
            paths.empty_dir(uid, &vol.name)
        } else if let Some(h) = &vol.host_path {
            PathBuf::from(&h.path)
        } else if let Some(kind) = crate::volumes::kind_dir(vol) {
            crate::volumes::volume_dir(&paths.pods, uid, kind, &vol.name)
        } else if let Some(claim) = &vol.persistent_volume_claim {
            let path = fetched.claims.get(&claim.claim_name).ok_or_else(|| {
                ConfigError(format!(
                    "persistentvolumeclaim {:?} is not resolved",
                    claim.claim_name
                ))
            })?;
            PathBuf::from(path)
        } else {
            return Err(ConfigError(format!(
                "volume {:?}: this node agent supports emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim volumes so far",
                vol.name
            )));
        };
        if let Some(sub) = vm.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if Path::new(sub).is_absolute() || sub.split('/').any(|p| p == "..") {
                return Err(ConfigError(format!(
                    "subPath {sub:?} must be a relative path inside the volume"
                )));
            }
            host = host.join(sub);
        }
        out.push(v1::Mount {
            container_path: vm.mount_path.clone(),
            host_path: host.display().to_string(),
            // Content volumes are read-only in the container, as upstream mounts them.
            readonly: vm.read_only == Some(true) || crate::volumes::kind_dir(vol).is_some(),
            ..Default::default()
        });
    }
    Ok(out)
}

/// The container configuration of `c`, instance `attempt`.
pub(crate) fn container_config(
    pod: &Pod,
    c: &Container,
    attempt: u32,
    addrs: &Addresses,
    paths: &Paths,
    fetched: &Fetched,
) -> Result<v1::ContainerConfig, ConfigError> {
    let m = &pod.metadata;
    let envs = env(pod, c, addrs, fetched)?;
    let expand = |s: &String| super::expand::expand(s, |name| lookup(&envs, name));
    let labels = HashMap::from([
        (POD_UID.to_string(), meta_str(&m.uid)),
        (POD_NAME.to_string(), meta_str(&m.name)),
        (POD_NAMESPACE.to_string(), meta_str(&m.namespace)),
        (CONTAINER_NAME.to_string(), c.name.clone()),
    ]);
    let annotations = HashMap::from([(RESTART_COUNT.to_string(), attempt.to_string())]);
    Ok(v1::ContainerConfig {
        metadata: Some(v1::ContainerMetadata {
            name: c.name.clone(),
            attempt,
        }),
        image: Some(v1::ImageSpec {
            image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: c.command.iter().flatten().map(expand).collect(),
        args: c.args.iter().flatten().map(expand).collect(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        mounts: mounts(pod, c, paths, fetched)?,
        envs: envs
            .iter()
            .map(|(key, value)| v1::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        labels,
        annotations,
        log_path: format!("{}/{attempt}.log", c.name),
        stdin: c.stdin == Some(true),
        stdin_once: c.stdin_once == Some(true),
        tty: c.tty == Some(true),
        linux: Some(v1::LinuxContainerConfig {
            resources: Some(resources(c)),
            security_context: Some(security_context(pod, c.security_context.as_ref())),
        }),
        ..Default::default()
    })
}

/// CPU shares and quota and the memory limit from requests and limits, as the kubelet
/// computes them (shares = millicores × 1024 / 1000, at least 2; quota over a 100 ms
/// period).
pub(crate) fn resources(c: &Container) -> v1::LinuxContainerResources {
    const PERIOD: i64 = 100_000;
    let res = c.resources.as_ref();
    let get = |map: Option<
        &std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
               name: &str| {
        map.and_then(|m| m.get(name))
            .and_then(|q| Quantity::parse(&q.0).ok())
            .map(|q| i64::try_from(q.milli_value()).unwrap_or(i64::MAX))
    };
    let limits = res.and_then(|r| r.limits.as_ref());
    let requests = res.and_then(|r| r.requests.as_ref());
    let cpu_request = get(requests, "cpu").or(get(limits, "cpu"));
    let cpu_shares = cpu_request.map_or(2, |m| (m.saturating_mul(1024) / 1000).max(2));
    let cpu_quota = get(limits, "cpu").map_or(0, |m| (m.saturating_mul(PERIOD) / 1000).max(1000));
    let memory = get(limits, "memory").map_or(0, |m| m / 1000);
    v1::LinuxContainerResources {
        cpu_period: if cpu_quota > 0 { PERIOD } else { 0 },
        cpu_quota,
        cpu_shares,
        memory_limit_in_bytes: memory,
        ..Default::default()
    }
}

fn security_context(pod: &Pod, sc: Option<&SecurityContext>) -> v1::LinuxContainerSecurityContext {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = sc.cloned().unwrap_or_default();
    let run_as_user = sc.run_as_user.or(pod_sc.and_then(|p| p.run_as_user));
    let run_as_group = sc.run_as_group.or(pod_sc.and_then(|p| p.run_as_group));
    let caps = sc.capabilities.as_ref();
    v1::LinuxContainerSecurityContext {
        capabilities: caps.map(|c| v1::Capability {
            add_capabilities: c.add.clone().unwrap_or_default(),
            drop_capabilities: c.drop.clone().unwrap_or_default(),
            ..Default::default()
        }),
        privileged: sc.privileged == Some(true),
        namespace_options: Some(namespace_options(pod)),
        run_as_user: run_as_user.map(|value| v1::Int64Value { value }),
        run_as_group: run_as_group.map(|value| v1::Int64Value { value }),
        readonly_rootfs: sc.read_only_root_filesystem == Some(true),
        supplemental_groups: pod_sc
            .and_then(|p| p.supplemental_groups.clone())
            .unwrap_or_default(),
        no_new_privs: sc.allow_privilege_escalation == Some(false),
        seccomp: seccomp(
            sc.seccomp_profile
                .as_ref()
                .or(pod_sc.and_then(|p| p.seccomp_profile.as_ref())),
        ),
        ..Default::default()
    }
}

/// The seccomp profile of a container (its own, else the pod's); none means Unconfined,
/// as upstream's default.
fn seccomp(p: Option<&k8s_openapi::api::core::v1::SeccompProfile>) -> Option<v1::SecurityProfile> {
    let p = p?;
    let (profile_type, localhost_ref) = match p.type_.as_str() {
        "RuntimeDefault" => (v1::security_profile::ProfileType::RuntimeDefault, String::new()),
        "Localhost" => (
            v1::security_profile::ProfileType::Localhost,
            p.localhost_profile.clone().unwrap_or_default(),
        ),
        _ => (v1::security_profile::ProfileType::Unconfined, String::new()),
    };
    Some(v1::SecurityProfile {
        profile_type: profile_type as i32,
        localhost_ref,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths() -> Paths {
        Paths {
            logs: "/var/log/pods".into(),
            pods: "/var/lib/krust/pods".into(),
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "labels": {"app": "web"}},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn sandbox_carries_identity_ports_and_namespaces() {
        let p = pod(json!({
            "hostNetwork": true,
            "containers": [{"name": "c", "image": "i", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "protocol": "UDP"}
            ]}]
        }));
        let s = sandbox_config(&p, &paths(), &Default::default());
        let meta = s.metadata.unwrap();
        assert_eq!(
            (meta.name.as_str(), meta.namespace.as_str(), meta.uid.as_str()),
            ("web", "shop", "u1")
        );
        assert_eq!(s.hostname, "web");
        assert_eq!(s.log_directory, "/var/log/pods/shop_web_u1");
        assert_eq!(s.labels[POD_UID], "u1");
        assert_eq!(s.labels["app"], "web");
        assert_eq!(s.port_mappings.len(), 1, "only ports with a hostPort are mapped");
        assert_eq!(
            (s.port_mappings[0].container_port, s.port_mappings[0].host_port),
            (80, 8080)
        );
        let ns = s
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap();
        assert_eq!(ns.network, v1::NamespaceMode::Node as i32);
        assert_eq!(ns.pid, v1::NamespaceMode::Container as i32);
    }

    #[test]
    fn env_is_expanded_in_order_and_reaches_command_and_args() {
        let p = pod(json!({"nodeName": "n1", "containers": [{
            "name": "c", "image": "busybox",
            "command": ["sh", "-c"],
            "args": ["echo $(GREETING) from $(POD) on $(NODE) $$(GREETING) $(MISSING)"],
            "env": [
                {"name": "WHO", "value": "world"},
                {"name": "GREETING", "value": "hello $(WHO)"},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "LATER", "value": "$(AFTER)"},
                {"name": "AFTER", "value": "x"}
            ]
        }]}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let addrs = Addresses {
            pod_ip: "10.42.0.5".into(),
            host_ip: "192.168.1.2".into(),
        };
        let cfg = container_config(&p, c, 2, &addrs, &paths(), &Fetched::default()).unwrap();
        assert_eq!(cfg.command, vec!["sh", "-c"]);
        assert_eq!(
            cfg.args,
            vec!["echo hello world from web on n1 $(GREETING) $(MISSING)"]
        );
        let env: HashMap<_, _> = cfg
            .envs
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(env["IP"], "10.42.0.5");
        assert_eq!(env["APP"], "web");
        assert_eq!(
            env["LATER"], "$(AFTER)",
            "only variables defined before are expanded"
        );
        assert_eq!(cfg.log_path, "c/2.log");
        assert_eq!(cfg.annotations[RESTART_COUNT], "2");
        assert_eq!(cfg.labels[CONTAINER_NAME], "c");
    }

    #[test]
    fn env_from_config_maps_and_secrets() {
        use k8s_openapi::ByteString;
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "cfg"}, "data": {"MODE": "fast", "LEVEL": "3", "1BAD": "x"}}),
        )
        .unwrap();
        let secret = Secret {
            data: Some([("pw".to_string(), ByteString(b"s3cret".to_vec()))].into()),
            ..Default::default()
        };
        let fetched = Fetched {
            config_maps: [("cfg".to_string(), Some(cm)), ("gone".to_string(), None)].into(),
            secrets: [("creds".to_string(), Some(secret))].into(),
            ..Default::default()
        };
        let p = pod(json!({"containers": [{"name": "c", "image": "i",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "APP_"}, {"configMapRef": {"name": "gone", "optional": true}}],
        "env": [
            {"name": "APP_MODE", "value": "slow"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
            {"name": "MAYBE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": true}}}
        ]}]}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let vars: HashMap<String, String> = env(&p, c, &Addresses::default(), &fetched)
            .unwrap()
            .into_iter()
            .collect();
        let env_of = |p: &Pod| {
            let c = &p.spec.as_ref().unwrap().containers[0];
            env(p, c, &Addresses::default(), &fetched)
        };
        let env = vars;
        assert_eq!(env["APP_MODE"], "slow", "env overrides envFrom");
        assert_eq!(env["APP_LEVEL"], "3");
        assert_eq!(env["PW"], "s3cret");
        assert!(!env.contains_key("MAYBE"), "an optional missing key sets nothing");
        assert_eq!(env["APP_1BAD"], "x", "the prefixed name is what must be valid");
        let missing = pod(json!({"containers": [{"name": "c", "image": "i", "env": [
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope"}}}
        ]}]}));
        let err = env_of(&missing).unwrap_err();
        assert_eq!(err.0, "couldn't find key nope in ConfigMap shop/cfg");
        let gone = pod(
            json!({"containers": [{"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "nothere"}}]}]}),
        );
        assert_eq!(env_of(&gone).unwrap_err().0, "secret \"nothere\" not found");
    }

    #[test]
    fn mounts_for_empty_dir_and_host_path() {
        let p = pod(json!({
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "host", "hostPath": {"path": "/srv/data"}},
                {"name": "token", "projected": {"sources": []}}
            ],
            "containers": [{"name": "c", "image": "i", "volumeMounts": [
                {"name": "scratch", "mountPath": "/scratch"},
                {"name": "host", "mountPath": "/data", "subPath": "x", "readOnly": true},
                {"name": "token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
            ]}]
        }));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let m = mounts(&p, c, &paths(), &Fetched::default()).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[2].host_path,
            "/var/lib/krust/pods/u1/volumes/kubernetes.io~projected/token"
        );
        assert!(m[2].readonly);
        assert_eq!(
            m[0].host_path,
            "/var/lib/krust/pods/u1/volumes/kubernetes.io~empty-dir/scratch"
        );
        assert_eq!((m[1].host_path.as_str(), m[1].readonly), ("/srv/data/x", true));
        let bad = pod(json!({
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": [{"name": "c", "image": "i", "volumeMounts": [
                {"name": "v", "mountPath": "/v", "subPath": "../etc"}
            ]}]
        }));
        let c = &bad.spec.as_ref().unwrap().containers[0];
        assert!(mounts(&bad, c, &paths(), &Fetched::default()).is_err());
    }

    #[test]
    fn cpu_and_memory_become_cgroup_settings() {
        let c: Container = serde_json::from_value(json!({"name": "c", "resources": {
            "requests": {"cpu": "250m"},
            "limits": {"cpu": "500m", "memory": "64Mi"}
        }}))
        .unwrap();
        let r = resources(&c);
        assert_eq!(r.cpu_shares, 256);
        assert_eq!((r.cpu_quota, r.cpu_period), (50_000, 100_000));
        assert_eq!(r.memory_limit_in_bytes, 64 << 20);
        let none = resources(&Container::default());
        assert_eq!(
            (none.cpu_shares, none.cpu_quota, none.memory_limit_in_bytes),
            (2, 0, 0)
        );
    }
}
