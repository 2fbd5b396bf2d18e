//! Authentication for the API server: client certificates signed by the cluster CA and
//! bearer tokens from a static token file.

use krust_apiserver::{Authenticator, User};
use krust_pki::{Identity, TokenFile, identity_from_cert};

/// Certificates (already verified by TLS against the cluster CA) and static tokens.
pub struct ClusterAuthenticator {
    tokens: Option<TokenFile>,
}

impl ClusterAuthenticator {
    /// An authenticator with an optional token file.
    pub fn new(tokens: Option<TokenFile>) -> Self {
        Self { tokens }
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
        self.tokens.as_ref()?.lookup(token).map(user)
    }
}
