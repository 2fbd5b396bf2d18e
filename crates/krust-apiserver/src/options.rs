//! Query parameters of API requests, parsed and checked once, with 400s that say what is
//! wrong.

use krust_api::{ApiError, fields::FieldSelector, labels::Selector};

/// The raw query pairs.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a query string (without `?`).
    pub fn parse(q: Option<&str>) -> Self {
        let pairs = q
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The first value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean parameter (`true`, `1`, `false`, `0`; absent = false).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("true" | "1" | "True") => Ok(true),
            Some("false" | "0" | "False") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {other:?}; expected true or false"
            ))),
        }
    }

    /// A non-negative integer parameter.
    pub fn uint(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: {v:?}; expected a non-negative integer"
                ))
            }),
        }
    }

    /// A signed integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {v:?}; expected an integer"))
            }),
        }
    }
}

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RvMatch {
    /// At least this new.
    NotOlderThan,
    /// Exactly this revision.
    Exact,
}

/// Options of list and watch requests.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Label selector.
    pub labels: Selector,
    /// Field selector.
    pub fields: FieldSelector,
    /// `resourceVersion` as sent.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub rv_match: Option<RvMatch>,
    /// `limit` (0 = none).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `watch`.
    pub watch: bool,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
}

impl ListOptions {
    /// Parses and checks list/watch parameters.
    pub fn parse(q: &Query) -> Result<Self, ApiError> {
        let labels = Selector::parse(q.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse labelSelector: {e}")))?;
        let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse fieldSelector: {e}")))?;
        let rv_match = match q.get("resourceVersionMatch") {
            None | Some("") => None,
            Some("NotOlderThan") => Some(RvMatch::NotOlderThan),
            Some("Exact") => Some(RvMatch::Exact),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "invalid resourceVersionMatch {other:?}: supported values are \"NotOlderThan\" and \"Exact\""
                )));
            }
        };
        let send_initial_events = match q.get("sendInitialEvents") {
            None | Some("") => None,
            Some(_) => Some(q.flag("sendInitialEvents")?),
        };
        let opts = Self {
            labels,
            fields,
            resource_version: q
                .get("resourceVersion")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            rv_match,
            limit: q.uint("limit")?.unwrap_or(0).min(usize::MAX as u64) as usize,
            continue_token: q.get("continue").filter(|s| !s.is_empty()).map(str::to_string),
            watch: q.flag("watch")?,
            bookmarks: q.flag("allowWatchBookmarks")?,
            timeout_seconds: q.uint("timeoutSeconds")?,
            send_initial_events,
        };
        if opts.watch {
            // Watch lists (client-go's WatchListClient) start from a consistent snapshot.
            match opts.send_initial_events {
                Some(_) if !opts.bookmarks => {
                    return Err(ApiError::bad_request(
                        "sendInitialEvents requires setting allowWatchBookmarks to true",
                    ));
                }
                Some(_) if opts.rv_match != Some(RvMatch::NotOlderThan) => {
                    return Err(ApiError::bad_request(
                        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    ));
                }
                None if opts.rv_match.is_some() => {
                    return Err(ApiError::bad_request(
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                    ));
                }
                _ => {}
            }
        } else {
            if opts.send_initial_events.is_some() {
                return Err(ApiError::bad_request("sendInitialEvents is forbidden for list"));
            }
            if opts.rv_match.is_some() && opts.resource_version.is_none() {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
        }
        if opts.continue_token.is_some() && opts.resource_version.is_some() {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        if opts.rv_match == Some(RvMatch::Exact) && opts.resource_version.as_deref() == Some("0") {
            return Err(ApiError::bad_request(
                "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
        Ok(opts)
    }

    /// The resourceVersion as a number (`None` when absent); 400 when not a number.
    pub fn rv(&self) -> Result<Option<u64>, ApiError> {
        parse_rv(self.resource_version.as_deref())
    }
}

/// Parses a resourceVersion string; 400 when it is not one of ours.
pub fn parse_rv(rv: Option<&str>) -> Result<Option<u64>, ApiError> {
    match rv {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}"))),
    }
}

/// `fieldValidation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop them and warn.
    #[default]
    Warn,
    /// Reject the request.
    Strict,
}

/// Options of create, update and patch requests.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
}

impl WriteOptions {
    /// Parses and checks write parameters.
    pub fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            dry_run: parse_dry_run(q)?,
            field_manager: match q.get("fieldManager") {
                Some(m) if m.len() > 128 => {
                    return Err(ApiError::bad_request(
                        "fieldManager: Too long: must have at most 128 bytes",
                    ));
                }
                Some(m) if !m.is_empty() => Some(m.to_string()),
                _ => None,
            },
            field_validation: match q.get("fieldValidation") {
                None | Some("") | Some("Warn") => FieldValidation::Warn,
                Some("Strict") => FieldValidation::Strict,
                Some("Ignore") => FieldValidation::Ignore,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
                    )));
                }
            },
        })
    }
}

/// `dryRun`: only `All` is defined.
pub fn parse_dry_run(q: &Query) -> Result<bool, ApiError> {
    let values = q.all("dryRun");
    for v in &values {
        if *v != "All" {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {v:?}: supported values: \"All\""
            )));
        }
    }
    Ok(!values.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_options() {
        let q = Query::parse(Some(
            "limit=500&resourceVersion=12&watch=1&allowWatchBookmarks=true&timeoutSeconds=30",
        ));
        let o = ListOptions::parse(&q).unwrap();
        assert_eq!(
            (o.limit, o.watch, o.bookmarks, o.timeout_seconds),
            (500, true, true, Some(30))
        );
        assert_eq!(o.rv().unwrap(), Some(12));
        assert!(ListOptions::parse(&Query::parse(Some("limit=x"))).is_err());
        assert!(ListOptions::parse(&Query::parse(Some("resourceVersionMatch=Exact"))).is_err());
        let wl = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
        assert_eq!(
            ListOptions::parse(&Query::parse(Some(wl)))
                .unwrap()
                .send_initial_events,
            Some(true)
        );
        assert!(
            ListOptions::parse(&Query::parse(Some(
                "watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
            )))
            .is_err()
        );
        assert!(
            ListOptions::parse(&Query::parse(Some(
                "watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=1"
            )))
            .is_err()
        );
        assert!(ListOptions::parse(&Query::parse(Some("sendInitialEvents=true"))).is_err());
        assert!(ListOptions::parse(&Query::parse(Some("continue=abc&resourceVersion=3"))).is_err());
        assert_eq!(
            ListOptions::parse(&Query::parse(Some("resourceVersion=abc")))
                .unwrap()
                .rv()
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn write_options() {
        let o = WriteOptions::parse(&Query::parse(Some(
            "dryRun=All&fieldManager=kubectl&fieldValidation=Strict",
        )))
        .unwrap();
        assert!(o.dry_run);
        assert_eq!(o.field_validation, FieldValidation::Strict);
        assert!(WriteOptions::parse(&Query::parse(Some("dryRun=Some"))).is_err());
        assert!(WriteOptions::parse(&Query::parse(Some("fieldValidation=Loose"))).is_err());
    }
}
