//! A container's probes with upstream's defaults filled in, and the threshold logic that
//! turns single checks into a result. Pure.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Liveness,
    Readiness,
    Startup,
}

impl Kind {
    /// How kubectl users see it in messages: `Liveness probe failed: ...`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }

    /// The result before the first check: a container is alive until shown otherwise,
    /// but neither ready nor started.
    pub fn initial(self) -> bool {
        self == Kind::Liveness
    }
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Run a command in the container; exit code 0 passes.
    Exec(Vec<String>),
    /// GET `scheme://host:port/path`; a status from 200 to 399 passes.
    Http {
        https: bool,
        host: Option<String>,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    /// Open a TCP connection.
    Tcp { host: Option<String>, port: u16 },
    /// Call grpc.health.v1.Health/Check; SERVING passes.
    Grpc { port: u16, service: String },
}

/// One probe, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeSpec {
    pub action: Action,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

fn secs(v: Option<i32>, default: i32, min: i32) -> Duration {
    Duration::from_secs(u64::try_from(v.unwrap_or(default).max(min)).unwrap_or(0))
}

/// A named or numbered port of `c`.
fn port(c: &Container, p: &IntOrString) -> Result<u16, String> {
    let n = match p {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .map(|cp| cp.container_port)
            .ok_or_else(|| format!("port {name:?} is not a named port of container {:?}", c.name))?,
    };
    u16::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("port {n} is out of range"))
}

/// The probe of kind `kind` of container `c`, with defaults; `Ok(None)` when it has none.
pub(crate) fn probe_of(c: &Container, kind: Kind) -> Result<Option<ProbeSpec>, String> {
    let p: Option<&Probe> = match kind {
        Kind::Liveness => c.liveness_probe.as_ref(),
        Kind::Readiness => c.readiness_probe.as_ref(),
        Kind::Startup => c.startup_probe.as_ref(),
    };
    let Some(p) = p else { return Ok(None) };
    let action = if let Some(e) = &p.exec {
        Action::Exec(e.command.clone().unwrap_or_default())
    } else if let Some(h) = &p.http_get {
        let path = h
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Action::Http {
            https: h
                .scheme
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS")),
            host: h.host.clone().filter(|h| !h.is_empty()),
            port: port(c, &h.port)?,
            path: if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            },
            headers: h
                .http_headers
                .iter()
                .flatten()
                .map(|hh| (hh.name.clone(), hh.value.clone()))
                .collect(),
        }
    } else if let Some(t) = &p.tcp_socket {
        Action::Tcp {
            host: t.host.clone().filter(|h| !h.is_empty()),
            port: port(c, &t.port)?,
        }
    } else if let Some(g) = &p.grpc {
        Action::Grpc {
            port: u16::try_from(g.port)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("port {} is out of range", g.port))?,
            service: g.service.clone().unwrap_or_default(),
        }
    } else {
        return Err("the probe has no handler (exec, httpGet, tcpSocket or grpc)".into());
    };
    Ok(Some(ProbeSpec {
        action,
        initial_delay: secs(p.initial_delay_seconds, 0, 0),
        period: secs(p.period_seconds, 10, 1),
        timeout: secs(p.timeout_seconds, 1, 1),
        success_threshold: u32::try_from(p.success_threshold.unwrap_or(1).max(1)).unwrap_or(1),
        failure_threshold: u32::try_from(p.failure_threshold.unwrap_or(3).max(1)).unwrap_or(3),
    }))
}

/// What a postStart or preStop hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hook {
    /// Run a command or call an address, like a probe.
    Check(Action),
    /// Wait this long.
    Sleep(Duration),
}

/// The action of lifecycle handler `h` of container `c`.
pub(crate) fn hook_of(c: &Container, h: &LifecycleHandler) -> Result<Hook, String> {
    if let Some(e) = &h.exec {
        return Ok(Hook::Check(Action::Exec(e.command.clone().unwrap_or_default())));
    }
    if let Some(g) = &h.http_get {
        let path = g
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        return Ok(Hook::Check(Action::Http {
            https: g
                .scheme
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS")),
            host: g.host.clone().filter(|h| !h.is_empty()),
            port: port(c, &g.port)?,
            path: if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            },
            headers: g
                .http_headers
                .iter()
                .flatten()
                .map(|hh| (hh.name.clone(), hh.value.clone()))
                .collect(),
        }));
    }
    if let Some(t) = &h.tcp_socket {
        return Ok(Hook::Check(Action::Tcp {
            host: t.host.clone().filter(|h| !h.is_empty()),
            port: port(c, &t.port)?,
        }));
    }
    if let Some(sl) = &h.sleep {
        return Ok(Hook::Sleep(Duration::from_secs(
            u64::try_from(sl.seconds.max(0)).unwrap_or(0),
        )));
    }
    Err("the lifecycle handler has no action (exec, httpGet, tcpSocket or sleep)".into())
}

/// Consecutive outcomes of one probe and the result they add up to.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    result: bool,
}

impl Tracker {
    /// Starts at `kind`'s initial result.
    pub fn new(kind: Kind, spec: &ProbeSpec) -> Self {
        Self {
            success_threshold: spec.success_threshold,
            failure_threshold: spec.failure_threshold,
            successes: 0,
            failures: 0,
            result: kind.initial(),
        }
    }

    /// The current result.
    pub fn result(&self) -> bool {
        self.result
    }

    /// Counts one outcome; returns the new result when it flips (after `successThreshold`
    /// successes in a row, or `failureThreshold` failures in a row).
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
            if !self.result && self.successes >= self.success_threshold {
                self.result = true;
                return Some(true);
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            // Reported once when the threshold is reached, also by a readiness or startup
            // probe that never passed, so a startup failure is acted on.
            if self.failures == self.failure_threshold {
                self.result = false;
                return Some(false);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_and_handlers() {
        let c = container(json!({
            "name": "c",
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"port": "http", "path": "healthz"}},
            "livenessProbe": {"exec": {"command": ["cat", "/ok"]}, "periodSeconds": 2, "failureThreshold": 1},
            "startupProbe": {"tcpSocket": {"port": 9000}, "initialDelaySeconds": 5}
        }));
        let r = probe_of(&c, Kind::Readiness).unwrap().unwrap();
        assert_eq!(
            r.action,
            Action::Http {
                https: false,
                host: None,
                port: 8080,
                path: "/healthz".into(),
                headers: vec![]
            }
        );
        assert_eq!(
            (r.period, r.timeout),
            (Duration::from_secs(10), Duration::from_secs(1))
        );
        assert_eq!((r.success_threshold, r.failure_threshold), (1, 3));
        let l = probe_of(&c, Kind::Liveness).unwrap().unwrap();
        assert_eq!(l.action, Action::Exec(vec!["cat".into(), "/ok".into()]));
        assert_eq!((l.period, l.failure_threshold), (Duration::from_secs(2), 1));
        let s = probe_of(&c, Kind::Startup).unwrap().unwrap();
        assert_eq!(s.initial_delay, Duration::from_secs(5));
        assert!(
            probe_of(&container(json!({"name": "x"})), Kind::Liveness)
                .unwrap()
                .is_none()
        );
        let bad = container(json!({"name": "c", "livenessProbe": {"httpGet": {"port": "nope"}}}));
        assert!(probe_of(&bad, Kind::Liveness).unwrap_err().contains("nope"));
    }

    fn spec(success: u32, failure: u32) -> ProbeSpec {
        ProbeSpec {
            action: Action::Exec(vec![]),
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            success_threshold: success,
            failure_threshold: failure,
        }
    }

    #[test]
    fn liveness_fails_after_the_threshold_of_failures_in_a_row() {
        let mut t = Tracker::new(Kind::Liveness, &spec(1, 3));
        assert!(t.result());
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a success resets the count");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(false));
        assert_eq!(t.record(false), None, "reported once");
    }

    #[test]
    fn readiness_needs_the_threshold_of_successes() {
        let mut t = Tracker::new(Kind::Readiness, &spec(2, 1));
        assert!(!t.result());
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(false), Some(false));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true));
    }

    #[test]
    fn a_startup_probe_that_never_passed_still_reports_its_failure() {
        let mut t = Tracker::new(Kind::Startup, &spec(1, 2));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(false));
        assert_eq!(t.record(false), None);
    }
}
