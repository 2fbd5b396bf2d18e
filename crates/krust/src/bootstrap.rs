//! Bootstrap tokens, as upstream's (kubeadm's) and k3s's join tokens: what they look like,
//! the Secret that holds one, and the pure decision whether a presented token is valid.
//!
//! - A bootstrap token is `<id>.<secret>`: 6 and 16 characters of `[a-z0-9]`. It lives in
//!   the Secret `kube-system/bootstrap-token-<id>` of type `bootstrap.kubernetes.io/token`,
//!   and authenticates as `system:bootstrap:<id>` in `system:bootstrappers` plus the
//!   Secret's extra groups, until its expiration.
//! - A join token, which `krust token create` prints, is `K10<ca-hash>::<id>.<secret>`:
//!   the hash (SHA-256 of the CA certificate's DER) lets the joining agent check the CA it
//!   downloads before it trusts the server with anything.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

/// Namespace of bootstrap token Secrets.
pub const NAMESPACE: &str = "kube-system";
/// Name prefix of a bootstrap token Secret (the token id follows).
pub const SECRET_PREFIX: &str = "bootstrap-token-";
/// Secret type of a bootstrap token.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// Group every bootstrap token user is in.
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";
/// Extra group of the tokens `krust token create` makes (k3s-like name, kubeadm-like form).
pub const DEFAULT_EXTRA_GROUP: &str = "system:bootstrappers:krust:default-node-token";
/// User name prefix of a bootstrap token (the token id follows).
pub const USER_PREFIX: &str = "system:bootstrap:";
/// Prefix of a join token (k3s's: version 10 of its token format).
const JOIN_PREFIX: &str = "K10";

const ID_LEN: usize = 6;
const SECRET_LEN: usize = 16;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Secret data keys (upstream's).
pub mod keys {
    /// The token id.
    pub const TOKEN_ID: &str = "token-id";
    /// The token secret.
    pub const TOKEN_SECRET: &str = "token-secret";
    /// RFC 3339 time after which the token is invalid.
    pub const EXPIRATION: &str = "expiration";
    /// Free text.
    pub const DESCRIPTION: &str = "description";
    /// `"true"`: the token may authenticate to the API server.
    pub const USAGE_AUTHENTICATION: &str = "usage-bootstrap-authentication";
    /// `"true"`: the token may sign the `cluster-info` ConfigMap (kept for compatibility).
    pub const USAGE_SIGNING: &str = "usage-bootstrap-signing";
    /// Comma-separated extra groups, each starting with `system:bootstrappers:`.
    pub const EXTRA_GROUPS: &str = "auth-extra-groups";
}

fn well_formed(part: &str, len: usize) -> bool {
    part.len() == len && part.bytes().all(|b| ALPHABET.contains(&b))
}

/// A bootstrap token: `<id>.<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// The public part: names the Secret and the user.
    pub id: String,
    /// The private part.
    pub secret: String,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("BootstrapToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl BootstrapToken {
    /// Parses `<id>.<secret>`; `None` when it does not have that shape (then it is some
    /// other kind of bearer token).
    pub fn parse(s: &str) -> Option<Self> {
        let (id, secret) = s.split_once('.')?;
        (well_formed(id, ID_LEN) && well_formed(secret, SECRET_LEN)).then(|| Self {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// A new random token.
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let mut pick = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        };
        Self {
            id: pick(ID_LEN),
            secret: pick(SECRET_LEN),
        }
    }

    /// The Secret's name.
    pub fn secret_name(&self) -> String {
        format!("{SECRET_PREFIX}{}", self.id)
    }

    /// `<id>.<secret>`, the bearer token.
    pub fn bearer(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

/// A join token: the CA hash and the bootstrap token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Lower-case hex SHA-256 of the CA certificate's DER.
    pub ca_hash: String,
    /// The bootstrap token.
    pub token: BootstrapToken,
}

impl JoinToken {
    /// Parses `K10<hash>::<id>.<secret>`; the error says what is wrong (without echoing
    /// the secret).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let Some(rest) = s.strip_prefix(JOIN_PREFIX) else {
            return Err(format!(
                "the token does not start with {JOIN_PREFIX}: expected K10<sha256 of the CA>::<id>.<secret> \
                 as `krust token create` prints (a bare <id>.<secret> token cannot verify the server)"
            ));
        };
        let Some((hash, token)) = rest.split_once("::") else {
            return Err("the token has no `::` between the CA hash and <id>.<secret>".into());
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the CA hash in the token is not 64 hex digits (a SHA-256)".into());
        }
        let token = BootstrapToken::parse(token).ok_or_else(|| {
            "the token's <id>.<secret> part is malformed: expected 6 and 16 characters of [a-z0-9]"
                .to_string()
        })?;
        Ok(Self {
            ca_hash: hash.to_ascii_lowercase(),
            token,
        })
    }
}

impl std::fmt::Display for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{JOIN_PREFIX}{}::{}", self.ca_hash, self.token.bearer())
    }
}

/// Time as RFC 3339 (UTC, seconds), as upstream writes `expiration`.
pub fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The data of the Secret for `token` (plain strings; the API stores them base64).
pub fn secret_data(
    token: &BootstrapToken,
    expires: Option<SystemTime>,
    description: Option<&str>,
) -> BTreeMap<String, String> {
    let mut data = BTreeMap::from([
        (keys::TOKEN_ID.to_string(), token.id.clone()),
        (keys::TOKEN_SECRET.to_string(), token.secret.clone()),
        (keys::USAGE_AUTHENTICATION.to_string(), "true".to_string()),
        (keys::USAGE_SIGNING.to_string(), "true".to_string()),
        (keys::EXTRA_GROUPS.to_string(), DEFAULT_EXTRA_GROUP.to_string()),
    ]);
    if let Some(t) = expires {
        data.insert(keys::EXPIRATION.into(), rfc3339(t));
    }
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        data.insert(keys::DESCRIPTION.into(), d.to_string());
    }
    data
}

/// A Secret as the authenticator needs it: its type, decoded data, and whether it is
/// being deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSecret {
    /// `type`.
    pub type_: String,
    /// `data`, base64-decoded (values that are not UTF-8 are left out).
    pub data: BTreeMap<String, String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

impl TokenSecret {
    /// Reads a Secret object (JSON as the API serves it).
    pub fn from_json(secret: &Value) -> Self {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut data = BTreeMap::new();
        if let Some(map) = secret.get("data").and_then(Value::as_object) {
            for (k, v) in map {
                if let Some(text) = v
                    .as_str()
                    .and_then(|s| b64.decode(s).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                {
                    data.insert(k.clone(), text);
                }
            }
        }
        Self {
            type_: secret
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            data,
            deleting: secret
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null()),
        }
    }
}

/// Why a well-formed bootstrap token is refused (logged at debug level; the client only
/// ever sees 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The Secret is not a bootstrap token Secret.
    #[error("secret has type {0:?}, not {SECRET_TYPE}")]
    WrongType(String),
    /// The Secret is being deleted.
    #[error("the token's secret is being deleted")]
    Deleting,
    /// Id or secret differ.
    #[error("the token does not match its secret")]
    Mismatch,
    /// Not allowed to authenticate.
    #[error(
        "the token is not for authentication ({} is not \"true\")",
        keys::USAGE_AUTHENTICATION
    )]
    NotForAuthentication,
    /// Past its expiration.
    #[error("the token expired at {0}")]
    Expired(String),
    /// The expiration is unreadable.
    #[error("the token's expiration {0:?} is not an RFC 3339 time")]
    BadExpiration(String),
    /// An extra group outside `system:bootstrappers:`.
    #[error("extra group {0:?} does not start with system:bootstrappers:")]
    BadGroup(String),
}

/// Constant-time equality, so the time a comparison takes says nothing about the secret.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decides whether `token` authenticates against `secret` at `now`: the user name and
/// groups (without `system:authenticated`), or why not. Upstream's rules: the right type,
/// not being deleted, matching id and secret, authentication usage, not expired, extra
/// groups only under `system:bootstrappers:`.
pub fn authenticate(
    token: &BootstrapToken,
    secret: &TokenSecret,
    now: SystemTime,
) -> Result<(String, Vec<String>), Rejection> {
    if secret.type_ != SECRET_TYPE {
        return Err(Rejection::WrongType(secret.type_.clone()));
    }
    if secret.deleting {
        return Err(Rejection::Deleting);
    }
    let get = |k: &str| secret.data.get(k).map(String::as_str).unwrap_or_default();
    if !same(get(keys::TOKEN_ID), &token.id) || !same(get(keys::TOKEN_SECRET), &token.secret) {
        return Err(Rejection::Mismatch);
    }
    if get(keys::USAGE_AUTHENTICATION) != "true" {
        return Err(Rejection::NotForAuthentication);
    }
    if let Some(exp) = secret.data.get(keys::EXPIRATION) {
        let at: jiff::Timestamp = exp.parse().map_err(|_| Rejection::BadExpiration(exp.clone()))?;
        let now = jiff::Timestamp::try_from(now).map_err(|_| Rejection::Expired(exp.clone()))?;
        if now >= at {
            return Err(Rejection::Expired(exp.clone()));
        }
    }
    let mut groups = vec![BOOTSTRAPPERS_GROUP.to_string()];
    for g in get(keys::EXTRA_GROUPS)
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        if !g.starts_with("system:bootstrappers:") {
            return Err(Rejection::BadGroup(g.to_string()));
        }
        if !groups.iter().any(|x| x == g) {
            groups.push(g.to_string());
        }
    }
    Ok((format!("{USER_PREFIX}{}", token.id), groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn token() -> BootstrapToken {
        BootstrapToken::parse("abcdef.0123456789abcdef").unwrap()
    }

    fn secret(token: &BootstrapToken, expires: Option<SystemTime>) -> TokenSecret {
        TokenSecret {
            type_: SECRET_TYPE.into(),
            data: secret_data(token, expires, Some("test")),
            deleting: false,
        }
    }

    #[test]
    fn token_shapes() {
        assert!(BootstrapToken::parse("abcdef.0123456789abcdef").is_some());
        for bad in [
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde",
            "ABCDEF.0123456789abcdef",
            "abcdef0123456789abcdef",
            "abcdef.0123456789abcdef.x",
            "",
        ] {
            assert!(BootstrapToken::parse(bad).is_none(), "{bad}");
        }
        let t = BootstrapToken::generate();
        assert_eq!(BootstrapToken::parse(&t.bearer()), Some(t.clone()));
        assert_eq!(t.secret_name(), format!("bootstrap-token-{}", t.id));
        assert!(!format!("{t:?}").contains(&t.secret));
    }

    #[test]
    fn join_token_round_trips_and_explains_errors() {
        let hash = "ab".repeat(32);
        let j = JoinToken {
            ca_hash: hash.clone(),
            token: token(),
        };
        let text = j.to_string();
        assert_eq!(text, format!("K10{hash}::abcdef.0123456789abcdef"));
        assert_eq!(JoinToken::parse(&text), Ok(j));
        assert!(
            JoinToken::parse("abcdef.0123456789abcdef")
                .unwrap_err()
                .contains("K10")
        );
        assert!(
            JoinToken::parse("K10abc::abcdef.0123456789abcdef")
                .unwrap_err()
                .contains("64 hex")
        );
        assert!(
            JoinToken::parse(&format!("K10{hash}abcdef.0123456789abcdef"))
                .unwrap_err()
                .contains("::")
        );
        let bad = JoinToken::parse(&format!("K10{hash}::abcdef.SECRETSECRETSECR")).unwrap_err();
        assert!(bad.contains("malformed") && !bad.contains("SECRET"));
        // Upper-case hex is accepted and normalized.
        let upper =
            JoinToken::parse(&format!("K10{}::abcdef.0123456789abcdef", hash.to_uppercase())).unwrap();
        assert_eq!(upper.ca_hash, hash);
    }

    #[test]
    fn valid_token_authenticates_with_groups() {
        let t = token();
        let now = SystemTime::now();
        let s = secret(&t, Some(now + Duration::from_secs(3600)));
        let (user, groups) = authenticate(&t, &s, now).unwrap();
        assert_eq!(user, "system:bootstrap:abcdef");
        assert_eq!(groups, [BOOTSTRAPPERS_GROUP, DEFAULT_EXTRA_GROUP]);
        // No expiration: valid until deleted.
        assert!(authenticate(&t, &secret(&t, None), now).is_ok());
    }

    #[test]
    fn invalid_tokens_are_refused() {
        let t = token();
        let now = SystemTime::now();
        let good = secret(&t, Some(now + Duration::from_secs(60)));
        let expired = secret(&t, Some(now - Duration::from_secs(1)));
        assert!(matches!(
            authenticate(&t, &expired, now),
            Err(Rejection::Expired(_))
        ));
        let wrong = BootstrapToken::parse("abcdef.fedcba9876543210").unwrap();
        assert_eq!(authenticate(&wrong, &good, now), Err(Rejection::Mismatch));
        let mut no_auth = good.clone();
        no_auth
            .data
            .insert(keys::USAGE_AUTHENTICATION.into(), "false".into());
        assert_eq!(
            authenticate(&t, &no_auth, now),
            Err(Rejection::NotForAuthentication)
        );
        no_auth.data.remove(keys::USAGE_AUTHENTICATION);
        assert_eq!(
            authenticate(&t, &no_auth, now),
            Err(Rejection::NotForAuthentication)
        );
        let mut opaque = good.clone();
        opaque.type_ = "Opaque".into();
        assert!(matches!(
            authenticate(&t, &opaque, now),
            Err(Rejection::WrongType(_))
        ));
        let mut deleting = good.clone();
        deleting.deleting = true;
        assert_eq!(authenticate(&t, &deleting, now), Err(Rejection::Deleting));
        let mut group = good.clone();
        group
            .data
            .insert(keys::EXTRA_GROUPS.into(), "system:masters".into());
        assert!(matches!(
            authenticate(&t, &group, now),
            Err(Rejection::BadGroup(_))
        ));
        let mut garbled = good;
        garbled.data.insert(keys::EXPIRATION.into(), "tomorrow".into());
        assert!(matches!(
            authenticate(&t, &garbled, now),
            Err(Rejection::BadExpiration(_))
        ));
    }

    #[test]
    fn secret_is_read_from_api_json() {
        let v = serde_json::json!({
            "metadata": {"name": "bootstrap-token-abcdef"},
            "type": SECRET_TYPE,
            "data": {"token-id": "YWJjZGVm", "token-secret": "MDEyMzQ1Njc4OWFiY2RlZg==",
                     "usage-bootstrap-authentication": "dHJ1ZQ==", "junk": 7},
        });
        let s = TokenSecret::from_json(&v);
        assert_eq!(s.type_, SECRET_TYPE);
        assert_eq!(s.data.get("token-id").map(String::as_str), Some("abcdef"));
        assert!(!s.deleting && !s.data.contains_key("junk"));
        assert!(authenticate(&token(), &s, SystemTime::now()).is_ok());
    }

    #[test]
    fn expiration_is_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
    }
}
