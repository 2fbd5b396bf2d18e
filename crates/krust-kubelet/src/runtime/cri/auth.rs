//! Registry credentials for a pull, from the pod's `imagePullSecrets` (Secrets of type
//! `kubernetes.io/dockerconfigjson` or the older `kubernetes.io/dockercfg`), matched to
//! the image's registry as the kubelet's credential keyring does. Pure.

use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use krust_cri::v1;
use serde_json::Value;

use crate::volumes::Fetched;

/// The registry host an image reference names (`docker.io` when it names none).
pub(crate) fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// A config key's registry host (`https://index.docker.io/v1/` → `index.docker.io`).
fn key_host(key: &str) -> &str {
    let k = key.trim_start_matches("https://").trim_start_matches("http://");
    k.split('/').next().unwrap_or(k)
}

fn same_registry(a: &str, b: &str) -> bool {
    let docker = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    a == b || (docker(a) && docker(b))
}

/// The credentials for pulling `image` for `pod`, from the first of its pull secrets
/// with an entry for the image's registry.
pub(crate) fn pull_auth(image: &str, pod: &Pod, fetched: &Fetched) -> Option<v1::AuthConfig> {
    let registry = registry_of(image);
    for r in pod.spec.as_ref()?.image_pull_secrets.iter().flatten() {
        let Some(data) = fetched.secret_data(&r.name) else {
            continue;
        };
        let auths: Value = if let Some(j) = data.get(".dockerconfigjson") {
            serde_json::from_slice::<Value>(j)
                .ok()?
                .get("auths")
                .cloned()
                .unwrap_or(Value::Null)
        } else if let Some(j) = data.get(".dockercfg") {
            serde_json::from_slice(j).ok()?
        } else {
            continue;
        };
        let Some(map) = auths.as_object() else { continue };
        for (key, entry) in map {
            if !same_registry(key_host(key), registry) {
                continue;
            }
            let s = |f: &str| {
                entry
                    .get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let (mut username, mut password) = (s("username"), s("password"));
            let auth = s("auth");
            if username.is_empty()
                && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&auth)
                && let Some((u, p)) = String::from_utf8_lossy(&decoded).split_once(':')
            {
                username = u.to_string();
                password = p.to_string();
            }
            return Some(v1::AuthConfig {
                username,
                password,
                auth,
                server_address: key.clone(),
                identity_token: s("identitytoken"),
                registry_token: s("registrytoken"),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    use serde_json::json;

    use super::*;

    #[test]
    fn registries_of_images() {
        assert_eq!(registry_of("nginx:1.27"), "docker.io");
        assert_eq!(registry_of("library/nginx"), "docker.io");
        assert_eq!(registry_of("ghcr.io/org/app:v1"), "ghcr.io");
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
    }

    #[test]
    fn credentials_come_from_the_matching_pull_secret() {
        let config = json!({"auths": {
            "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
            "ghcr.io": {"username": "bot", "password": "tok"}
        }});
        let secret = Secret {
            data: Some(
                [(
                    ".dockerconfigjson".to_string(),
                    ByteString(config.to_string().into_bytes()),
                )]
                .into(),
            ),
            ..Default::default()
        };
        let fetched = Fetched {
            secrets: [("regcred".to_string(), Some(secret))].into(),
            ..Default::default()
        };
        let pod: Pod = serde_json::from_value(json!({"spec": {"containers": [], "imagePullSecrets": [{"name": "missing"}, {"name": "regcred"}]}})).unwrap();
        let a = pull_auth("nginx:1.27", &pod, &fetched).unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("user", "pass"));
        let g = pull_auth("ghcr.io/org/app:v1", &pod, &fetched).unwrap();
        assert_eq!(
            (g.username.as_str(), g.server_address.as_str()),
            ("bot", "ghcr.io")
        );
        assert!(pull_auth("quay.io/x/y", &pod, &fetched).is_none());
    }
}
