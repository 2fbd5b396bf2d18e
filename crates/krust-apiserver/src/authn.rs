//! Authentication: who is making a request, from a client certificate or a bearer token.
//! The binary supplies the real authenticator (x509 against the cluster CA, token file);
//! tests supply fakes.

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name (`admin`, `system:serviceaccount:ns:name`).
    pub name: String,
    /// Stable id, may be empty.
    pub uid: String,
    /// Groups, including `system:authenticated`.
    pub groups: Vec<String>,
}

/// Turns credentials into a user.
pub trait Authenticator: Send + Sync + 'static {
    /// A verified client certificate (DER) → user. The TLS layer has already checked the
    /// chain against the cluster CA.
    fn authenticate_certificate(&self, der: &[u8]) -> Option<User>;
    /// A bearer token → user.
    fn authenticate_token(&self, token: &str) -> Option<User>;
}

/// An authenticator that accepts nothing (every request is anonymous).
pub struct Nobody;

impl Authenticator for Nobody {
    fn authenticate_certificate(&self, _der: &[u8]) -> Option<User> {
        None
    }
    fn authenticate_token(&self, _token: &str) -> Option<User> {
        None
    }
}

/// Extracts the token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let t = token.trim();
        (!t.is_empty()).then_some(t)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
