//! Walks the k8s-openapi types of every served kind through schemars once.

use k8s_openapi::{Resource, api, apiextensions_apiserver, apimachinery, kube_aggregator};
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// The root schema name of one served kind, with its group/version/kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSchema {
    /// API group ("" for core).
    pub group: &'static str,
    /// API version ("v1").
    pub version: &'static str,
    /// Kind ("Pod").
    pub kind: &'static str,
    /// Name of the root schema under `components.schemas`.
    pub schema: String,
}

fn add<T: JsonSchema + Resource>(generator: &mut SchemaGenerator, kinds: &mut Vec<KindSchema>) {
    generator.subschema_for::<T>();
    kinds.push(KindSchema {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        schema: T::schema_name().into_owned(),
    });
}

fn add_plain<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}

/// Generates the component schemas of all built-in kinds (and the meta types their
/// operations refer to), each root carrying `x-kubernetes-group-version-kind`.
pub fn built_in() -> (Map<String, Value>, Vec<KindSchema>) {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds = Vec::new();
    macro_rules! kinds {
        ($($t:ty),* $(,)?) => { $( add::<$t>(&mut generator, &mut kinds); )* };
    }
    use api::{
        apps::v1 as apps, autoscaling::v1 as asv1, autoscaling::v2 as asv2, batch::v1 as batch,
        coordination::v1 as coord, core::v1 as core, discovery::v1 as disc, events::v1 as events,
        networking::v1 as net, policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as sched,
        storage::v1 as storage,
    };
    kinds!(
        core::Namespace,
        core::Pod,
        core::Service,
        core::Endpoints,
        core::ConfigMap,
        core::Secret,
        core::ServiceAccount,
        core::Node,
        core::Event,
        core::PersistentVolume,
        core::PersistentVolumeClaim,
        core::ResourceQuota,
        core::LimitRange,
        core::ReplicationController,
        core::Binding,
        apps::Deployment,
        apps::ReplicaSet,
        apps::StatefulSet,
        apps::DaemonSet,
        apps::ControllerRevision,
        batch::Job,
        batch::CronJob,
        net::Ingress,
        net::IngressClass,
        net::NetworkPolicy,
        disc::EndpointSlice,
        coord::Lease,
        api::certificates::v1::CertificateSigningRequest,
        events::Event,
        policy::PodDisruptionBudget,
        asv1::HorizontalPodAutoscaler,
        asv1::Scale,
        asv2::HorizontalPodAutoscaler,
        rbac::Role,
        rbac::RoleBinding,
        rbac::ClusterRole,
        rbac::ClusterRoleBinding,
        sched::PriorityClass,
        storage::StorageClass,
        apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        api::authorization::v1::SelfSubjectAccessReview,
        api::authorization::v1::SelfSubjectRulesReview,
        api::authentication::v1::SelfSubjectReview,
        kube_aggregator::pkg::apis::apiregistration::v1::APIService,
    );
    add_plain::<apimachinery::pkg::apis::meta::v1::Status>(&mut generator);
    add_plain::<apimachinery::pkg::apis::meta::v1::DeleteOptions>(&mut generator);
    add_plain::<apimachinery::pkg::apis::meta::v1::Patch>(&mut generator);

    let mut schemas: Map<String, Value> = generator
        .definitions()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for k in &kinds {
        if let Some(Value::Object(obj)) = schemas.get_mut(&k.schema) {
            let gvk = json!({"group": k.group, "version": k.version, "kind": k.kind});
            match obj.get_mut("x-kubernetes-group-version-kind") {
                Some(Value::Array(list)) => list.push(gvk),
                _ => {
                    obj.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
                }
            }
        }
    }
    crate::patch_meta::apply(&mut schemas, &kinds);
    (schemas, kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump() {
        let (s, k) = built_in();
        assert!(k.iter().any(|k| k.kind == "Deployment"));
        let dep = &s["io.k8s.api.apps.v1.DeploymentSpec"];
        println!("{}", serde_json::to_string_pretty(dep).unwrap());
        println!(
            "{}",
            serde_json::to_string_pretty(&s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]).unwrap()
        );
        println!(
            "{}",
            serde_json::to_string_pretty(&s["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]).unwrap()
        );
        println!(
            "{}",
            serde_json::to_string_pretty(&s["io.k8s.api.core.v1.Pod"]).unwrap()
        );
        println!("{}", s.len());
    }
}
