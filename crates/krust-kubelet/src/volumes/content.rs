//! The files of configMap, secret, downwardAPI and projected volumes: which keys, under
//! which paths, with which modes, as upstream's volume plugins lay them out. Pure: the
//! objects come in fetched.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Pod, Volume};

use super::objects::Fetched;

/// One file of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct File {
    /// Relative path inside the volume.
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// The default file mode of these volumes (upstream's 0644).
const DEFAULT_MODE: i32 = 0o644;

fn mode(m: Option<i32>, default: Option<i32>) -> u32 {
    u32::try_from(m.or(default).unwrap_or(DEFAULT_MODE) & 0o777).unwrap_or(0o644)
}

/// Refuses absolute paths and `..` components, as API validation does.
fn checked_path(p: &str) -> Result<String, String> {
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
        return Err(format!(
            "invalid path {p:?}: must be a relative path without '..'"
        ));
    }
    Ok(p.to_string())
}

/// The files of a key/value source (ConfigMap or Secret data): every key, or the listed
/// `items` under their paths.
fn key_files(
    kind: &str,
    name: &str,
    data: Option<BTreeMap<String, Vec<u8>>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Vec<File>, String> {
    let Some(data) = data else {
        return if optional {
            Ok(Vec::new())
        } else {
            Err(format!("{kind} {name:?} not found"))
        };
    };
    match items {
        None => Ok(data
            .into_iter()
            .map(|(k, v)| File {
                path: k,
                data: v,
                mode: mode(None, default_mode),
            })
            .collect()),
        Some(items) => {
            let mut out = Vec::new();
            for it in items {
                match data.get(&it.key) {
                    Some(v) => out.push(File {
                        path: checked_path(&it.path)?,
                        data: v.clone(),
                        mode: mode(it.mode, default_mode),
                    }),
                    None if optional => {}
                    None => return Err(format!("{kind} references non-existent {kind} key: {}", it.key)),
                }
            }
            Ok(out)
        }
    }
}

/// `key="value"` lines, sorted, as upstream formats whole label and annotation maps.
fn map_lines(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}\n"))
        .collect::<String>()
        .trim_end_matches('\n')
        .to_string()
}

/// The value of one downward API file.
fn downward_value(pod: &Pod, f: &DownwardAPIVolumeFile) -> Result<String, String> {
    if let Some(r) = &f.field_ref {
        let m = &pod.metadata;
        return match r.field_path.as_str() {
            "metadata.labels" => Ok(map_lines(m.labels.as_ref())),
            "metadata.annotations" => Ok(map_lines(m.annotations.as_ref())),
            path => crate::runtime::downward_field(pod, path)
                .ok_or_else(|| format!("unsupported fieldRef {path:?} in the downward API volume")),
        };
    }
    if let Some(r) = &f.resource_field_ref {
        let c = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .find(|c| Some(c.name.as_str()) == r.container_name.as_deref())
            .ok_or_else(|| format!("resourceFieldRef names no container {:?}", r.container_name))?;
        return crate::runtime::resource_field(c, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()))
            .ok_or_else(|| format!("cannot resolve resource {:?}", r.resource));
    }
    Err(format!(
        "downward API file {:?} has neither fieldRef nor resourceFieldRef",
        f.path
    ))
}

fn downward_files(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
) -> Result<Vec<File>, String> {
    items
        .iter()
        .map(|f| {
            Ok(File {
                path: checked_path(&f.path)?,
                data: downward_value(pod, f)?.into_bytes(),
                mode: mode(f.mode, default_mode),
            })
        })
        .collect()
}

/// The kind directory of a content volume (`kubernetes.io~configmap`, ...), or `None`
/// for other volumes.
pub(crate) fn kind_dir(v: &Volume) -> Option<&'static str> {
    if v.config_map.is_some() {
        Some("kubernetes.io~configmap")
    } else if v.secret.is_some() {
        Some("kubernetes.io~secret")
    } else if v.downward_api.is_some() {
        Some("kubernetes.io~downward-api")
    } else if v.projected.is_some() {
        Some("kubernetes.io~projected")
    } else {
        None
    }
}

/// Whether the volume holds secrets and so belongs in memory, not on disk.
pub(crate) fn in_memory(v: &Volume) -> bool {
    v.secret.is_some() || v.projected.is_some()
}

/// The files of content volume `v` of `pod`; `Ok(None)` for other volumes.
pub(crate) fn files(pod: &Pod, v: &Volume, fetched: &Fetched) -> Result<Option<Vec<File>>, String> {
    if let Some(cm) = &v.config_map {
        return key_files(
            "configmap",
            &cm.name,
            fetched.config_map_data(&cm.name),
            cm.items.as_ref(),
            cm.default_mode,
            cm.optional == Some(true),
        )
        .map(Some);
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        return key_files(
            "secret",
            &name,
            fetched.secret_data(&name),
            s.items.as_ref(),
            s.default_mode,
            s.optional == Some(true),
        )
        .map(Some);
    }
    if let Some(d) = &v.downward_api {
        return downward_files(pod, d.items.as_deref().unwrap_or_default(), d.default_mode).map(Some);
    }
    if let Some(p) = &v.projected {
        let mut out = Vec::new();
        for src in p.sources.iter().flatten() {
            if let Some(cm) = &src.config_map {
                out.extend(key_files(
                    "configmap",
                    &cm.name,
                    fetched.config_map_data(&cm.name),
                    cm.items.as_ref(),
                    p.default_mode,
                    cm.optional == Some(true),
                )?);
            }
            if let Some(s) = &src.secret {
                out.extend(key_files(
                    "secret",
                    &s.name,
                    fetched.secret_data(&s.name),
                    s.items.as_ref(),
                    p.default_mode,
                    s.optional == Some(true),
                )?);
            }
            if let Some(d) = &src.downward_api {
                out.extend(downward_files(
                    pod,
                    d.items.as_deref().unwrap_or_default(),
                    p.default_mode,
                )?);
            }
            // serviceAccountToken: bound tokens come with the TokenRequest API; until then
            // the projected volume carries the CA bundle and namespace only.
        }
        return Ok(Some(out));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use serde_json::json;

    use super::*;

    fn pod(volumes: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"b": "2", "a": "1"}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}], "volumes": volumes}
        }))
        .unwrap()
    }

    fn fetched() -> Fetched {
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "cfg"}, "data": {"a.conf": "A", "b.conf": "B"}}),
        )
        .unwrap();
        let s = Secret {
            data: Some([("password".to_string(), ByteString(b"hunter2".to_vec()))].into()),
            ..Default::default()
        };
        Fetched {
            config_maps: [("cfg".to_string(), Some(cm)), ("gone".to_string(), None)].into(),
            secrets: [("creds".to_string(), Some(s))].into(),
            ..Default::default()
        }
    }

    fn vol(p: &Pod, i: usize) -> &Volume {
        &p.spec.as_ref().unwrap().volumes.as_ref().unwrap()[i]
    }

    #[test]
    fn config_map_and_secret_files_with_items_and_modes() {
        let p = pod(json!([
            {"name": "all", "configMap": {"name": "cfg"}},
            {"name": "some", "configMap": {"name": "cfg", "defaultMode": 0o600, "items": [{"key": "b.conf", "path": "conf/b", "mode": 0o400}]}},
            {"name": "sec", "secret": {"secretName": "creds"}},
        ]));
        let f = fetched();
        let all = files(&p, vol(&p, 0), &f).unwrap().unwrap();
        assert_eq!(
            all.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            vec!["a.conf", "b.conf"]
        );
        assert_eq!(all[0].mode, 0o644);
        let some = files(&p, vol(&p, 1), &f).unwrap().unwrap();
        assert_eq!(
            some,
            vec![File {
                path: "conf/b".into(),
                data: b"B".to_vec(),
                mode: 0o400
            }]
        );
        let sec = files(&p, vol(&p, 2), &f).unwrap().unwrap();
        assert_eq!(sec[0].data, b"hunter2");
        assert!(in_memory(vol(&p, 2)));
    }

    #[test]
    fn missing_objects_and_keys() {
        let p = pod(json!([
            {"name": "a", "configMap": {"name": "gone"}},
            {"name": "b", "configMap": {"name": "gone", "optional": true}},
            {"name": "c", "configMap": {"name": "cfg", "items": [{"key": "nope", "path": "x"}]}},
            {"name": "d", "configMap": {"name": "cfg", "items": [{"key": "a.conf", "path": "../x"}]}},
        ]));
        let f = fetched();
        assert_eq!(
            files(&p, vol(&p, 0), &f).unwrap_err(),
            "configmap \"gone\" not found"
        );
        assert_eq!(files(&p, vol(&p, 1), &f).unwrap(), Some(vec![]));
        assert!(files(&p, vol(&p, 2), &f).unwrap_err().contains("nope"));
        assert!(files(&p, vol(&p, 3), &f).is_err());
    }

    #[test]
    fn downward_api_and_projected() {
        let p = pod(json!([
            {"name": "d", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}}
            ]}},
            {"name": "proj", "projected": {"defaultMode": 0o440, "sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"configMap": {"name": "cfg", "items": [{"key": "a.conf", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
            ]}}
        ]));
        let f = fetched();
        let d = files(&p, vol(&p, 0), &f).unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&d[0].data), "a=\"1\"\nb=\"2\"");
        assert_eq!(d[1].data, b"p");
        assert_eq!(d[2].data, b"64");
        let proj = files(&p, vol(&p, 1), &f).unwrap().unwrap();
        assert_eq!(
            proj.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            vec!["ca.crt", "namespace"]
        );
        assert!(proj.iter().all(|f| f.mode == 0o440));
    }
}
