//! Resource amounts as the scheduler counts them: milli-CPU, bytes, pods and extended
//! resources, and the effective requests of a pod (app containers summed, init containers
//! as a running maximum, restartable sidecars alongside, plus pod overhead), as upstream's
//! `resourcehelper.PodRequests` computes them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// CPU assumed for a container without a CPU request when scoring (upstream: 100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container without a memory request when scoring (upstream: 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Resource names with their own fields.
pub const CPU: &str = "cpu";
/// Memory.
pub const MEMORY: &str = "memory";
/// Ephemeral storage.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Pod count.
pub const PODS: &str = "pods";

/// An amount of every resource the scheduler tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pods (only meaningful for a node's allocatable).
    pub allowed_pods: i64,
    /// Extended and hugepage resources (`example.com/gpu`, `hugepages-2Mi`), sorted by name.
    pub scalar: Vec<(String, i64)>,
}

/// Whether `name` is counted as a scalar resource: extended resources (a domain-qualified
/// name outside `kubernetes.io/`), hugepages and attachable volumes, as upstream's
/// `IsScalarResourceName`.
pub fn is_scalar_resource_name(name: &str) -> bool {
    is_extended_resource_name(name)
        || name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || name.starts_with("requests.hugepages-")
}

/// A domain-qualified resource name outside the `kubernetes.io/` namespace.
pub fn is_extended_resource_name(name: &str) -> bool {
    match name.split_once('/') {
        Some((domain, _)) => {
            !(domain == "kubernetes.io"
                || domain.ends_with(".kubernetes.io")
                || name.starts_with("requests."))
        }
        None => false,
    }
}

/// The quantity in thousandths, rounded up, saturating at `i64`.
pub fn milli_value(q: &Quantity) -> i64 {
    match krust_api::quantity::Quantity::parse(&q.0) {
        Ok(v) => i64::try_from(v.milli_value()).unwrap_or(if v.is_negative() { i64::MIN } else { i64::MAX }),
        Err(_) => 0,
    }
}

/// The quantity rounded up to a whole number, saturating at `i64`.
pub fn value(q: &Quantity) -> i64 {
    let m = milli_value(q);
    if m == i64::MAX || m == i64::MIN {
        return m;
    }
    m.div_euclid(1000) + i64::from(m.rem_euclid(1000) != 0)
}

impl Resource {
    /// The resources of a `ResourceList` (a node's allocatable, a container's requests).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut r = Resource::default();
        r.add_list(list);
        r
    }

    /// Adds every entry of a `ResourceList`.
    pub fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, q) in list {
            match name.as_str() {
                CPU => self.milli_cpu = self.milli_cpu.saturating_add(milli_value(q)),
                MEMORY => self.memory = self.memory.saturating_add(value(q)),
                EPHEMERAL_STORAGE => self.ephemeral_storage = self.ephemeral_storage.saturating_add(value(q)),
                PODS => self.allowed_pods = self.allowed_pods.saturating_add(value(q)),
                other if is_scalar_resource_name(other) => self.add_scalar(other, value(q)),
                _ => {}
            }
        }
    }

    /// The amount of one extended resource.
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map(|i| self.scalar[i].1)
            .unwrap_or(0)
    }

    /// Adds to one extended resource.
    pub fn add_scalar(&mut self, name: &str, v: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = self.scalar[i].1.saturating_add(v),
            Err(i) => self.scalar.insert(i, (name.to_string(), v)),
        }
    }

    fn set_scalar_max(&mut self, name: &str, v: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = self.scalar[i].1.max(v),
            Err(i) => self.scalar.insert(i, (name.to_string(), v)),
        }
    }

    /// Adds `other` to `self` (all fields).
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_add(other.allowed_pods);
        for (n, v) in &other.scalar {
            self.add_scalar(n, *v);
        }
    }

    /// Subtracts `other` from `self` (all fields).
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_sub(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_sub(other.allowed_pods);
        for (n, v) in &other.scalar {
            self.add_scalar(n, v.saturating_neg());
        }
    }

    /// Takes the larger value of every resource.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (n, v) in &other.scalar {
            self.set_scalar_max(n, *v);
        }
    }

    /// The amount of a resource by its API name (0 when unknown).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pods,
            other => self.scalar(other),
        }
    }

    /// Whether nothing is requested.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

fn container_requests(c: &Container, non_missing: bool) -> Resource {
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let mut r = requests.map(Resource::from_list).unwrap_or_default();
    if non_missing {
        // Scoring counts a container without a CPU or memory request as a small one, so a
        // node full of such containers does not look empty.
        if requests.is_none_or(|m| !m.contains_key(CPU)) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if requests.is_none_or(|m| !m.contains_key(MEMORY)) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

fn is_restartable(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The effective requests of a pod: app containers and restartable init containers
/// (sidecars) run together and are summed; every other init container runs alone (next to
/// the sidecars started before it), so the pod needs the larger of the two; pod overhead is
/// added on top. With `non_missing`, a missing CPU or memory request of a container counts
/// as the scoring defaults (100m, 200Mi).
pub fn pod_requests(spec: &PodSpec, non_missing: bool) -> Resource {
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_missing));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let mut r = container_requests(c, non_missing);
        if is_restartable(c) {
            reqs.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init_max.set_max(&r);
    }
    reqs.set_max(&init_max);
    if let Some(overhead) = &spec.overhead {
        reqs.add_list(overhead);
    }
    reqs.allowed_pods = 0;
    reqs
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ResourceRequirements;

    use super::*;

    fn c(cpu: &str, mem: &str) -> Container {
        let mut req = BTreeMap::new();
        if !cpu.is_empty() {
            req.insert(CPU.to_string(), Quantity(cpu.into()));
        }
        if !mem.is_empty() {
            req.insert(MEMORY.to_string(), Quantity(mem.into()));
        }
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(req),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(milli_value(&Quantity("100m".into())), 100);
        assert_eq!(milli_value(&Quantity("1.5".into())), 1500);
        assert_eq!(value(&Quantity("1Gi".into())), 1 << 30);
        assert_eq!(value(&Quantity("500m".into())), 1);
        assert_eq!(value(&Quantity("bogus".into())), 0);
    }

    #[test]
    fn init_containers_are_a_running_maximum() {
        let spec = PodSpec {
            containers: vec![c("2", "1G"), c("1", "1G")],
            init_containers: Some(vec![c("2", "1G"), c("2", "3G")]),
            ..Default::default()
        };
        let r = pod_requests(&spec, false);
        assert_eq!(r.milli_cpu, 3000);
        assert_eq!(r.memory, 3_000_000_000);
    }

    #[test]
    fn sidecars_add_to_app_containers_and_later_init_containers() {
        let mut sidecar = c("1", "");
        sidecar.restart_policy = Some("Always".into());
        let spec = PodSpec {
            containers: vec![c("1", "")],
            init_containers: Some(vec![sidecar, c("3", "")]),
            overhead: Some(BTreeMap::from([(CPU.to_string(), Quantity("250m".into()))])),
            ..Default::default()
        };
        // app: 1 + sidecar 1 = 2; init after the sidecar: 3 + 1 = 4 → max 4, + overhead.
        assert_eq!(pod_requests(&spec, false).milli_cpu, 4250);
    }

    #[test]
    fn non_missing_defaults_apply_only_to_missing_requests() {
        let spec = PodSpec {
            containers: vec![c("", ""), c("0", "")],
            ..Default::default()
        };
        let r = pod_requests(&spec, true);
        assert_eq!(r.milli_cpu, 100);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
        assert!(pod_requests(&spec, false).is_zero());
    }

    #[test]
    fn extended_resources() {
        let mut r = Resource::default();
        r.add_list(&BTreeMap::from([
            ("example.com/gpu".to_string(), Quantity("2".into())),
            ("hugepages-2Mi".to_string(), Quantity("4Mi".into())),
            ("kubernetes.io/something".to_string(), Quantity("1".into())),
        ]));
        assert_eq!(r.scalar("example.com/gpu"), 2);
        assert_eq!(r.scalar("hugepages-2Mi"), 4 << 20);
        assert_eq!(r.scalar("kubernetes.io/something"), 0);
    }
}
