//! What a Service's endpoints need to know about a pod, shared by the Endpoints and
//! EndpointSlice controllers (upstream's `endpointsliceutil` and `podutil` helpers): whether
//! the Service selects it, whether it belongs in the endpoints at all, whether it is ready,
//! which of its IPs to use, which port a service port means on it, and its DNS hostname.

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether the pod has finished (Succeeded or Failed).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether the pod is being deleted.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod belongs in a Service's endpoints at all: not finished, has an IP, and
/// (unless `include_terminating`) is not being deleted.
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_terminal(pod) || all_ips(pod).is_empty() {
        return false;
    }
    include_terminating || !is_terminating(pod)
}

/// The service's selector, if it has one (a Service without one is managed by hand).
pub fn selector(svc: &Service) -> Option<&std::collections::BTreeMap<String, String>> {
    svc.spec.as_ref().and_then(|s| s.selector.as_ref())
}

/// Whether the service selects the pod: same namespace, every selector label matches.
pub fn selects(svc: &Service, pod: &Pod) -> bool {
    let Some(sel) = selector(svc) else {
        return false;
    };
    if svc.metadata.namespace != pod.metadata.namespace {
        return false;
    }
    let labels = pod.metadata.labels.as_ref();
    sel.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether the service has a cluster IP (upstream's `IsServiceIPSet`): not headless.
pub fn has_cluster_ip(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// Whether the service is headless (`clusterIP: None`).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Whether the service is of type ExternalName (no endpoints).
pub fn is_external_name(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
}

fn all_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty()
        && let Some(ip) = status.pod_ip.as_deref().filter(|ip| !ip.is_empty())
    {
        ips.push(ip);
    }
    ips
}

fn is_v6(ip: &str) -> bool {
    ip.contains(':')
}

/// The pod's IPs of one family (`IPv4` or `IPv6`).
pub fn ips_of_family<'a>(pod: &'a Pod, family: &str) -> Vec<&'a str> {
    let want_v6 = family == "IPv6";
    all_ips(pod)
        .into_iter()
        .filter(|ip| is_v6(ip) == want_v6)
        .collect()
}

/// The IP family of the service's endpoints: its first `ipFamilies` entry, else its
/// cluster IP's family, else (headless, old objects) the pod's own.
pub fn service_family(svc: &Service, pod: &Pod) -> &'static str {
    let spec = svc.spec.as_ref();
    let fam = spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
        .map(String::as_str);
    let v6 = match fam {
        Some(f) => f == "IPv6",
        None if has_cluster_ip(svc) => spec.and_then(|s| s.cluster_ip.as_deref()).is_some_and(is_v6),
        None => all_ips(pod).first().is_some_and(|ip| is_v6(ip)),
    };
    if v6 { "IPv6" } else { "IPv4" }
}

/// The address families the service's endpoint slices carry.
pub fn service_address_types(svc: &Service) -> Vec<&'static str> {
    let spec = svc.spec.as_ref();
    let families: Vec<&'static str> = spec
        .and_then(|s| s.ip_families.as_ref())
        .map(|f| {
            f.iter()
                .filter_map(|f| match f.as_str() {
                    "IPv4" => Some("IPv4"),
                    "IPv6" => Some("IPv6"),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !families.is_empty() {
        return families;
    }
    if has_cluster_ip(svc) {
        let v6 = spec.and_then(|s| s.cluster_ip.as_deref()).is_some_and(is_v6);
        return vec![if v6 { "IPv6" } else { "IPv4" }];
    }
    // Headless without families (objects from before dual stack): both, as upstream.
    vec!["IPv4", "IPv6"]
}

/// Whether the pod's hostname is published for this service (a pod whose subdomain names
/// the service, as DNS for headless services expects).
pub fn hostname_for<'a>(pod: &'a Pod, svc: &Service) -> Option<&'a str> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same_ns = pod.metadata.namespace == svc.metadata.namespace;
    (same_ns && spec.subdomain.as_deref() == svc.metadata.name.as_deref()).then_some(hostname)
}

/// The container port a service port means on this pod: a number as given, a name looked
/// up among the pod's container ports of the same protocol (restartable init containers
/// included, as they run beside the app). `None` when a name is not found.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use std::collections::BTreeMap;

    /// A running pod in `default` with labels `app=web`, an IP, and a named port `http`.
    pub(crate) fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.labels = Some(BTreeMap::from([("app".to_string(), "web".to_string())]));
        p.spec = Some(PodSpec {
            node_name: Some("node-a".into()),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: (!ip.is_empty()).then(|| ip.into()),
            pod_ips: (!ip.is_empty()).then(|| vec![PodIP { ip: ip.into() }]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    /// A ClusterIP service `web` in `default` selecting `app=web`, port 80 → `http`.
    pub(crate) fn service() -> Service {
        let mut s = Service::default();
        s.metadata.name = Some("web".into());
        s.metadata.namespace = Some("default".into());
        s.metadata.uid = Some("svc-uid".into());
        s.spec = Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            cluster_ip: Some("10.43.0.20".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(vec![ServicePort {
                name: Some("web".into()),
                port: 80,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        });
        s
    }

    #[test]
    fn membership() {
        let svc = service();
        let p = pod("a", "10.42.0.5", true);
        assert!(selects(&svc, &p));
        let mut other = p.clone();
        other.metadata.namespace = Some("other".into());
        assert!(!selects(&svc, &other));
        assert!(should_be_in_endpoints(&p, false));
        assert!(!should_be_in_endpoints(&pod("b", "", true), true), "no IP yet");
        let mut done = p.clone();
        if let Some(s) = done.status.as_mut() {
            s.phase = Some("Succeeded".into());
        }
        assert!(!should_be_in_endpoints(&done, true));
        let mut going = p.clone();
        going.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!should_be_in_endpoints(&going, false));
        assert!(should_be_in_endpoints(&going, true));
    }

    #[test]
    fn ports_resolve_per_pod() {
        let p = pod("a", "10.42.0.5", true);
        let mut port = ServicePort {
            port: 80,
            target_port: Some(IntOrString::String("http".into())),
            ..Default::default()
        };
        assert_eq!(find_port(&p, &port), Some(8080));
        port.protocol = Some("UDP".into());
        assert_eq!(find_port(&p, &port), None, "protocol must match");
        port.protocol = None;
        port.target_port = Some(IntOrString::String("grpc".into()));
        assert_eq!(find_port(&p, &port), None);
        port.target_port = Some(IntOrString::Int(9000));
        assert_eq!(find_port(&p, &port), Some(9000));
        port.target_port = None;
        assert_eq!(find_port(&p, &port), Some(80));
    }

    #[test]
    fn hostnames_need_the_subdomain() {
        let svc = service();
        let mut p = pod("a", "10.42.0.5", true);
        assert_eq!(hostname_for(&p, &svc), None);
        if let Some(s) = p.spec.as_mut() {
            s.hostname = Some("a-host".into());
            s.subdomain = Some("web".into());
        }
        assert_eq!(hostname_for(&p, &svc), Some("a-host"));
        if let Some(s) = p.spec.as_mut() {
            s.subdomain = Some("other".into());
        }
        assert_eq!(hostname_for(&p, &svc), None);
    }

    #[test]
    fn families() {
        let mut svc = service();
        let p = pod("a", "10.42.0.5", true);
        assert_eq!(service_family(&svc, &p), "IPv4");
        assert_eq!(service_address_types(&svc), ["IPv4"]);
        if let Some(s) = svc.spec.as_mut() {
            s.ip_families = None;
            s.cluster_ip = Some("None".into());
        }
        assert!(is_headless(&svc) && !has_cluster_ip(&svc));
        assert_eq!(service_address_types(&svc), ["IPv4", "IPv6"]);
        assert_eq!(ips_of_family(&p, "IPv4"), ["10.42.0.5"]);
        assert!(ips_of_family(&p, "IPv6").is_empty());
    }
}
