//! API failures sorted by what the node agent does about them: a missing object is
//! recreated or forgotten, a conflict waits for the watch to bring the newer version, the
//! rest is retried later.

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 404: the object is gone.
    #[error("not found")]
    NotFound,
    /// 409 AlreadyExists on create.
    #[error("already exists")]
    AlreadyExists,
    /// 409 Conflict: a resourceVersion or uid precondition failed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else (unreachable server, 5xx, invalid object).
    #[error("{0}")]
    Other(String),
}

impl From<kube::Error> for ApiError {
    fn from(e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(s) if s.code == 404 => Self::NotFound,
            kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists" => Self::AlreadyExists,
            kube::Error::Api(s) if s.code == 409 => Self::Conflict(s.message.clone()),
            _ => Self::Other(e.to_string()),
        }
    }
}
