//! The pods a Job creates: its template with the Job's controller reference, the tracking
//! finalizer, and for Indexed Jobs the completion index (annotation, label, the
//! `JOB_COMPLETION_INDEX` variable from the downward API, hostname `<job>-<index>`), as
//! upstream's job controller builds them.

use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::indexes::{INDEX_FAILURE_COUNT, INDEX_KEY};
use super::pods::TRACKING_FINALIZER;

/// The environment variable holding the index.
pub(crate) const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// Longest generated-name prefix the API server accepts before adding its 5 characters.
const MAX_GENERATE_NAME: usize = 58;

/// What distinguishes one new pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewPod {
    /// The completion index (Indexed Jobs).
    pub index: Option<i32>,
    /// Earlier failures of that index (backoffLimitPerIndex), written as an annotation.
    pub index_failures: Option<i32>,
}

fn generate_name(job: &str, index: Option<i32>) -> String {
    let mut prefix = match index {
        Some(i) => format!("{job}-{i}-"),
        None => format!("{job}-"),
    };
    if prefix.len() > MAX_GENERATE_NAME {
        prefix.truncate(MAX_GENERATE_NAME);
    }
    prefix
}

/// The pod for `new` from `template`.
pub(crate) fn pod(template: &PodTemplateSpec, job: &str, owner: OwnerReference, new: NewPod) -> Pod {
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    let mut finalizers = tmeta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_string());
    }
    if let Some(ix) = new.index {
        annotations.insert(INDEX_KEY.into(), ix.to_string());
        labels.insert(INDEX_KEY.into(), ix.to_string());
        if spec.hostname.as_deref().unwrap_or_default().is_empty() {
            spec.hostname = Some(format!("{job}-{ix}"));
        }
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            add_index_env(c);
        }
    }
    if let Some(n) = new.index_failures {
        annotations.insert(INDEX_FAILURE_COUNT.into(), n.to_string());
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name(job, new.index)),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

fn add_index_env(c: &mut Container) {
    let env = c.env.get_or_insert_with(Vec::new);
    if env.iter().any(|e| e.name == INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: INDEX_ENV.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.annotations['{INDEX_KEY}']"),
            }),
            ..Default::default()
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    fn template() -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "x".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ..Default::default()
                }],
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let p = pod(
            &template(),
            "work",
            OwnerReference::default(),
            NewPod {
                index: Some(3),
                index_failures: Some(1),
            },
        );
        let m = &p.metadata;
        assert_eq!(m.generate_name.as_deref(), Some("work-3-"));
        assert_eq!(m.annotations.as_ref().unwrap()[INDEX_KEY], "3");
        assert_eq!(m.annotations.as_ref().unwrap()[INDEX_FAILURE_COUNT], "1");
        assert_eq!(m.labels.as_ref().unwrap()[INDEX_KEY], "3");
        assert_eq!(m.labels.as_ref().unwrap()["app"], "x");
        assert_eq!(
            m.finalizers.as_deref(),
            Some(&[TRACKING_FINALIZER.to_string()][..])
        );
        let spec = p.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("work-3"));
        let env = spec.containers[0].env.as_ref().unwrap();
        assert_eq!(env[0].name, INDEX_ENV);
    }

    #[test]
    fn non_indexed_pods_are_plain() {
        let p = pod(
            &template(),
            "work",
            OwnerReference::default(),
            NewPod {
                index: None,
                index_failures: None,
            },
        );
        assert_eq!(p.metadata.generate_name.as_deref(), Some("work-"));
        assert!(p.metadata.annotations.is_none());
        assert!(p.spec.unwrap().hostname.is_none());
    }
}
