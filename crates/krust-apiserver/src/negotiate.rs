//! Content negotiation: which representation a client asked for (`Accept`) and which one
//! it sent (`Content-Type`).

/// A parsed media type with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower case.
    pub essence: String,
    /// Parameters (keys lower case).
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// A parameter's value.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one media type (`application/json;as=Table;v=v1;g=meta.k8s.io`).
pub fn parse_media_type(s: &str) -> MediaType {
    let mut parts = s.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            ))
        })
        .collect();
    MediaType { essence, params }
}

/// Parses an `Accept` header into media types in preference order (by `q`, stable).
pub fn parse_accept(header: Option<&str>) -> Vec<MediaType> {
    let Some(h) = header else { return Vec::new() };
    let mut items: Vec<(f32, MediaType)> = h
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let mt = parse_media_type(s);
            let q = mt.param("q").and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            (q, mt)
        })
        .collect();
    items.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    items
        .into_iter()
        .filter(|(q, _)| *q > 0.0)
        .map(|(_, m)| m)
        .collect()
}

/// The representation of an object or list in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Plain JSON.
    Json,
    /// YAML.
    Yaml,
    /// `meta.k8s.io` Table (`v1` or `v1beta1`).
    Table {
        /// True for `meta.k8s.io/v1beta1`.
        beta: bool,
    },
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    Metadata {
        /// True for `meta.k8s.io/v1beta1`.
        beta: bool,
    },
}

fn is_json(essence: &str) -> bool {
    matches!(essence, "application/json" | "*/*" | "application/*" | "")
}

/// Chooses the response representation for a resource request; `None` when nothing the
/// client accepts can be produced (406).
pub fn choose_output(accept: &[MediaType]) -> Option<Output> {
    if accept.is_empty() {
        return Some(Output::Json);
    }
    for m in accept {
        let beta = m.param("v") == Some("v1beta1");
        match (m.essence.as_str(), m.param("as"), m.param("g")) {
            (e, Some("Table"), Some("meta.k8s.io"))
                if is_json(e) && matches!(m.param("v"), Some("v1" | "v1beta1")) =>
            {
                return Some(Output::Table { beta });
            }
            (e, Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io"))
                if is_json(e) && matches!(m.param("v"), Some("v1" | "v1beta1")) =>
            {
                return Some(Output::Metadata { beta });
            }
            (_, Some(_), _) => continue,
            (e, None, _) if is_json(e) => return Some(Output::Json),
            ("application/yaml" | "application/x-yaml" | "text/yaml", None, _) => return Some(Output::Yaml),
            _ => continue,
        }
    }
    None
}

/// Which aggregated discovery version a client asked for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Legacy `APIGroupList` / `APIVersions`.
    Legacy,
    /// `apidiscovery.k8s.io/v2`.
    V2,
    /// `apidiscovery.k8s.io/v2beta1`.
    V2Beta1,
}

/// Picks the discovery format: the first aggregated entry the client lists (in its order),
/// else legacy JSON.
pub fn choose_discovery(accept: &[MediaType]) -> Discovery {
    for m in accept {
        if m.param("g") == Some("apidiscovery.k8s.io") && m.param("as") == Some("APIGroupDiscoveryList") {
            match m.param("v") {
                Some("v2") => return Discovery::V2,
                Some("v2beta1") => return Discovery::V2Beta1,
                _ => continue,
            }
        }
        if m.param("as").is_none() && is_json(&m.essence) {
            return Discovery::Legacy;
        }
    }
    Discovery::Legacy
}

/// The format of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// Kubernetes protobuf envelope.
    Protobuf,
    /// RFC 6902.
    JsonPatch,
    /// RFC 7386.
    MergePatch,
    /// Strategic merge patch.
    StrategicMergePatch,
    /// Server-side apply.
    ApplyPatch,
}

/// Classifies a `Content-Type`; `None` for unsupported types (415).
pub fn body_format(content_type: Option<&str>) -> Option<BodyFormat> {
    let essence = parse_media_type(content_type.unwrap_or("application/json")).essence;
    Some(match essence.as_str() {
        "application/json" | "" => BodyFormat::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => BodyFormat::Yaml,
        "application/vnd.kubernetes.protobuf" => BodyFormat::Protobuf,
        "application/json-patch+json" => BodyFormat::JsonPatch,
        "application/merge-patch+json" => BodyFormat::MergePatch,
        "application/strategic-merge-patch+json" => BodyFormat::StrategicMergePatch,
        "application/apply-patch+yaml" | "application/apply-patch+json" | "application/apply-patch+cbor" => {
            BodyFormat::ApplyPatch
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_table() {
        let a = parse_accept(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        ));
        assert_eq!(choose_output(&a), Some(Output::Table { beta: false }));
        assert_eq!(
            choose_output(&parse_accept(Some("application/json"))),
            Some(Output::Json)
        );
        assert_eq!(choose_output(&parse_accept(None)), Some(Output::Json));
        assert_eq!(
            choose_output(&parse_accept(Some("application/yaml"))),
            Some(Output::Yaml)
        );
        assert_eq!(
            choose_output(&parse_accept(Some(
                "application/vnd.kubernetes.protobuf,application/json"
            ))),
            Some(Output::Json)
        );
        assert_eq!(
            choose_output(&parse_accept(Some("application/vnd.kubernetes.protobuf"))),
            None
        );
        assert_eq!(choose_output(&parse_accept(Some("text/html"))), None);
    }

    #[test]
    fn discovery_negotiation_follows_client_order() {
        let new = parse_accept(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        ));
        assert_eq!(choose_discovery(&new), Discovery::V2);
        let old = parse_accept(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        ));
        assert_eq!(choose_discovery(&old), Discovery::V2Beta1);
        assert_eq!(
            choose_discovery(&parse_accept(Some("application/json"))),
            Discovery::Legacy
        );
    }

    #[test]
    fn body_formats() {
        assert_eq!(
            body_format(Some("application/json; charset=utf-8")),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            body_format(Some("application/strategic-merge-patch+json")),
            Some(BodyFormat::StrategicMergePatch)
        );
        assert_eq!(body_format(Some("text/plain")), None);
    }
}
