//! Classifying API errors the way controllers need to: a missing object, a name already
//! taken, a refused or unsupported request.

/// The HTTP status of an API error answer, if it was one.
pub fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// 404: the object (or its namespace) does not exist.
pub fn is_not_found(e: &kube::Error) -> bool {
    code(e) == Some(404)
}

/// 409 with reason AlreadyExists.
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

/// 403: e.g. creating in a namespace that is being terminated.
pub fn is_forbidden(e: &kube::Error) -> bool {
    code(e) == Some(403)
}

/// 405: the verb is not supported on the resource.
pub fn is_method_not_supported(e: &kube::Error) -> bool {
    code(e) == Some(405)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn err(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Status::failure("x", reason).with_code(code).boxed())
    }

    #[test]
    fn classification() {
        assert!(is_not_found(&err(404, "NotFound")));
        assert!(is_already_exists(&err(409, "AlreadyExists")));
        assert!(!is_already_exists(&err(409, "Conflict")));
        assert!(is_forbidden(&err(403, "Forbidden")));
        assert!(is_method_not_supported(&err(405, "MethodNotAllowed")));
    }
}
