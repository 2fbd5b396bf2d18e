//! Authentication for the API server: client certificates signed by the cluster CA, bearer
//! tokens from a static token file, and bootstrap tokens (Secrets in kube-system) that
//! joining agents use until they have a certificate of their own.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use krust_apiserver::{Authenticator, User};
use krust_pki::{AUTHENTICATED_GROUP, Identity, TokenFile, identity_from_cert};
use serde_json::Value;

use crate::bootstrap::{self, BootstrapToken, TokenSecret};

/// Reads one Secret synchronously. The server implements it over the API server's watch
/// cache; tests over a map.
pub trait SecretLookup: Send + Sync {
    /// The Secret `namespace/name` as JSON, if it exists.
    fn secret(&self, namespace: &str, name: &str) -> Option<Value>;
}

impl SecretLookup for krust_apiserver::reader::ObjectReader {
    fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.get("", "secrets", Some(namespace), name)
    }
}

/// A [`SecretLookup`] connected after construction: the authenticator is built before the
/// API server (which owns the cache it reads), so the server plugs the cache in once it
/// exists. Until then, and without it, bootstrap tokens authenticate nobody.
#[derive(Clone, Default)]
pub struct LateSecrets(Arc<OnceLock<Box<dyn SecretLookup>>>);

impl LateSecrets {
    /// Connects the lookup (the first call wins).
    pub fn connect(&self, lookup: impl SecretLookup + 'static) {
        let _ = self.0.set(Box::new(lookup));
    }
}

impl SecretLookup for LateSecrets {
    fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.0.get()?.secret(namespace, name)
    }
}

/// Certificates (already verified by TLS against the cluster CA), static tokens and
/// bootstrap tokens.
pub struct ClusterAuthenticator {
    tokens: Option<TokenFile>,
    secrets: Option<Box<dyn SecretLookup>>,
}

impl ClusterAuthenticator {
    /// An authenticator with an optional token file.
    pub fn new(tokens: Option<TokenFile>) -> Self {
        Self {
            tokens,
            secrets: None,
        }
    }

    /// Also accepts bootstrap tokens, reading their Secrets through `secrets`.
    pub fn with_bootstrap_tokens(mut self, secrets: impl SecretLookup + 'static) -> Self {
        self.secrets = Some(Box::new(secrets));
        self
    }

    fn bootstrap_user(&self, token: &str) -> Option<User> {
        let secrets = self.secrets.as_ref()?;
        let token = BootstrapToken::parse(token)?;
        let secret = secrets.secret(bootstrap::NAMESPACE, &token.secret_name())?;
        match bootstrap::authenticate(&token, &TokenSecret::from_json(&secret), SystemTime::now()) {
            Ok((name, mut groups)) => {
                groups.push(AUTHENTICATED_GROUP.to_string());
                Some(User {
                    name,
                    uid: String::new(),
                    groups,
                })
            }
            Err(e) => {
                tracing::debug!(token_id = %token.id, reason = %e, "bootstrap token refused");
                None
            }
        }
    }
}

fn user(id: Identity) -> User {
    User {
        name: id.user,
        uid: id.uid,
        groups: id.groups,
    }
}

impl Authenticator for ClusterAuthenticator {
    fn authenticate_certificate(&self, der: &[u8]) -> Option<User> {
        identity_from_cert(der)
            .ok()
            .filter(|i| !i.user.is_empty())
            .map(user)
    }

    fn authenticate_token(&self, token: &str) -> Option<User> {
        if let Some(u) = self.tokens.as_ref().and_then(|t| t.lookup(token)) {
            return Some(user(u));
        }
        self.bootstrap_user(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    struct Map(BTreeMap<String, Value>);

    impl SecretLookup for Map {
        fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
            self.0.get(&format!("{namespace}/{name}")).cloned()
        }
    }

    fn secret_json(token: &BootstrapToken, expires: SystemTime) -> Value {
        use base64::Engine as _;
        let data: serde_json::Map<String, Value> = bootstrap::secret_data(token, Some(expires), None)
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
                )
            })
            .collect();
        serde_json::json!({"type": bootstrap::SECRET_TYPE, "data": data})
    }

    #[test]
    fn bootstrap_tokens_authenticate_through_the_lookup() {
        let good = BootstrapToken::generate();
        let old = BootstrapToken::generate();
        let now = SystemTime::now();
        let late = LateSecrets::default();
        let authn = ClusterAuthenticator::new(None).with_bootstrap_tokens(late.clone());
        // Not connected yet: nobody.
        assert!(authn.authenticate_token(&good.bearer()).is_none());
        late.connect(Map(BTreeMap::from([
            (
                format!("kube-system/{}", good.secret_name()),
                secret_json(&good, now + Duration::from_secs(600)),
            ),
            (
                format!("kube-system/{}", old.secret_name()),
                secret_json(&old, now - Duration::from_secs(1)),
            ),
        ])));
        let u = authn.authenticate_token(&good.bearer()).unwrap();
        assert_eq!(u.name, format!("system:bootstrap:{}", good.id));
        assert_eq!(
            u.groups,
            [
                bootstrap::BOOTSTRAPPERS_GROUP,
                bootstrap::DEFAULT_EXTRA_GROUP,
                AUTHENTICATED_GROUP
            ]
        );
        assert!(authn.authenticate_token(&old.bearer()).is_none(), "expired");
        let wrong = format!("{}.{}", good.id, "x".repeat(16));
        assert!(authn.authenticate_token(&wrong).is_none(), "wrong secret");
        assert!(authn.authenticate_token("not-a-bootstrap-token").is_none());
    }
}
