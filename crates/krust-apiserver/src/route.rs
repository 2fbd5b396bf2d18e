//! Maps a request path onto what it names: a fixed endpoint, a discovery document, an
//! OpenAPI document, or a resource (collection, object or subresource).

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/livez`, `/readyz` (and their sub-checks)
    Health(HealthCheck),
    /// `/cacerts`: the cluster CA bundle, unauthenticated (k3s's join discovery).
    CaCerts,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion(String, String),
    /// `/openapi/v2`
    OpenApiV2,
    /// `/openapi/v3`
    OpenApiV3Root,
    /// `/openapi/v3/<api/v1 | apis/g/v>`
    OpenApiV3(String),
    /// A resource path.
    Resource(ResourcePath),
    /// Anything else.
    NotFound,
}

/// Which health endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheck {
    /// Process is up and serving.
    Healthz,
    /// Process is alive.
    Livez,
    /// Ready to serve the API.
    Readyz,
}

/// A path under `/api/v1` or `/apis/<group>/<version>` naming resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcePath {
    /// API group ("" for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Resource plural.
    pub plural: String,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource, if any.
    pub subresource: Option<String>,
    /// True for the deprecated `/watch/` prefix form.
    pub watch_prefix: bool,
}

fn decode(seg: &str) -> Option<String> {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Parses a request path.
pub fn parse(path: &str) -> Route {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["cacerts"] => Route::CaCerts,
        ["healthz", ..] => Route::Health(HealthCheck::Healthz),
        ["livez", ..] => Route::Health(HealthCheck::Livez),
        ["readyz", ..] => Route::Health(HealthCheck::Readyz),
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group((*g).to_string()),
        ["api", v] => Route::GroupVersion(String::new(), (*v).to_string()),
        ["apis", g, v] => Route::GroupVersion((*g).to_string(), (*v).to_string()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3(rest.join("/")),
        ["api", v, rest @ ..] => resource("", v, rest),
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let Some(rest) = rest.iter().map(|s| decode(s)).collect::<Option<Vec<String>>>() else {
        return Route::NotFound;
    };
    let mut p = ResourcePath {
        group: group.into(),
        version: version.into(),
        watch_prefix,
        ..Default::default()
    };
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    match r.as_slice() {
        // A namespace object and its own subresources.
        ["namespaces", ns, sub @ ("status" | "finalize")] => {
            p.plural = "namespaces".into();
            p.name = Some((*ns).into());
            p.subresource = Some((*sub).into());
        }
        ["namespaces", ns, plural, tail @ ..] => {
            p.namespace = Some((*ns).into());
            p.plural = (*plural).into();
            match tail {
                [] => {}
                [name] => p.name = Some((*name).into()),
                [name, sub] => {
                    p.name = Some((*name).into());
                    p.subresource = Some((*sub).into());
                }
                _ => return Route::NotFound,
            }
        }
        [plural] => p.plural = (*plural).into(),
        [plural, name] => {
            p.plural = (*plural).into();
            p.name = Some((*name).into());
        }
        [plural, name, sub] => {
            p.plural = (*plural).into();
            p.name = Some((*name).into());
            p.subresource = Some((*sub).into());
        }
        _ => return Route::NotFound,
    }
    if p.plural.is_empty() || p.name.as_deref() == Some("") {
        return Route::NotFound;
    }
    Route::Resource(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Route::Resource(p) => p,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn fixed() {
        assert_eq!(parse("/version"), Route::Version);
        assert_eq!(parse("/readyz/ping"), Route::Health(HealthCheck::Readyz));
        assert_eq!(parse("/api"), Route::CoreVersions);
        assert_eq!(parse("/apis/"), Route::Groups);
        assert_eq!(parse("/api/v1"), Route::GroupVersion("".into(), "v1".into()));
        assert_eq!(
            parse("/apis/apps/v1"),
            Route::GroupVersion("apps".into(), "v1".into())
        );
        assert_eq!(
            parse("/openapi/v3/apis/apps/v1"),
            Route::OpenApiV3("apis/apps/v1".into())
        );
        assert_eq!(parse("/nope"), Route::NotFound);
    }

    #[test]
    fn resources() {
        let p = res("/api/v1/namespaces/default/pods/web-1/log");
        assert_eq!(p.namespace.as_deref(), Some("default"));
        assert_eq!(
            (p.plural.as_str(), p.name.as_deref(), p.subresource.as_deref()),
            ("pods", Some("web-1"), Some("log"))
        );
        let n = res("/api/v1/namespaces/kube-system");
        assert_eq!(
            (n.plural.as_str(), n.name.as_deref(), n.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let f = res("/api/v1/namespaces/x/finalize");
        assert_eq!(
            (f.plural.as_str(), f.name.as_deref(), f.subresource.as_deref()),
            ("namespaces", Some("x"), Some("finalize"))
        );
        let l = res("/apis/apps/v1/namespaces/d/deployments");
        assert_eq!(
            (l.group.as_str(), l.plural.as_str(), l.name),
            ("apps", "deployments", None)
        );
        let all = res("/apis/apps/v1/deployments");
        assert_eq!(all.namespace, None);
        let w = res("/api/v1/watch/namespaces/d/pods");
        assert!(w.watch_prefix);
        let enc = res("/api/v1/namespaces/d/configmaps/a%2Eb");
        assert_eq!(enc.name.as_deref(), Some("a.b"));
        assert_eq!(parse("/api/v1/namespaces/d/pods/a/b/c"), Route::NotFound);
    }
}
