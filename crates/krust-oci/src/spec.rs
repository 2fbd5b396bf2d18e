//! What goes into an image: name, process defaults, and the ready-made specs.

use crate::Error;

/// `PATH` every image gets unless the spec sets its own; the same default the
/// container runtimes use, so `sh -c` finds the applets.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Busybox applets linked into `/bin`. The common tools tests and examples reach for
/// (shell, HTTP server and client, netcat, archive and text tools, process and network
/// inspection). Each one is a relative symlink to `/bin/busybox`, so the image carries
/// the binary once.
///
/// Every name here must exist in Debian's busybox-static (a unit test checks it
/// against `busybox --list` when one is installed); `nohup` does not, so it is not here.
pub const APPLETS: &[&str] = &[
    "[",
    "[[",
    "ash",
    "awk",
    "base64",
    "basename",
    "cat",
    "chgrp",
    "chmod",
    "chown",
    "cp",
    "cut",
    "date",
    "dd",
    "df",
    "diff",
    "dirname",
    "dnsdomainname",
    "du",
    "echo",
    "egrep",
    "env",
    "expr",
    "false",
    "fgrep",
    "find",
    "free",
    "grep",
    "gunzip",
    "gzip",
    "head",
    "hexdump",
    "hostname",
    "httpd",
    "id",
    "ifconfig",
    "ip",
    "kill",
    "killall",
    "less",
    "ln",
    "ls",
    "md5sum",
    "mkdir",
    "mkfifo",
    "mktemp",
    "more",
    "mount",
    "mv",
    "nc",
    "netstat",
    "nproc",
    "nslookup",
    "od",
    "pidof",
    "ping",
    "printf",
    "ps",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "route",
    "sed",
    "seq",
    "setsid",
    "sh",
    "sha256sum",
    "sleep",
    "sort",
    "stat",
    "sync",
    "tail",
    "tar",
    "tee",
    "telnet",
    "test",
    "time",
    "timeout",
    "top",
    "touch",
    "tr",
    "true",
    "truncate",
    "umount",
    "uname",
    "uniq",
    "uptime",
    "vi",
    "watch",
    "wc",
    "wget",
    "which",
    "whoami",
    "xargs",
    "yes",
    "zcat",
];

/// An image to build: the name it is imported under and the process defaults in its
/// config (what `docker inspect` shows as Entrypoint, Cmd, Env, WorkingDir,
/// ExposedPorts). The file system is always the busybox root file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSpec {
    /// Full reference, e.g. `krust.io/busybox:1.35`. A name without a tag gets
    /// `:latest`, as `docker pull` would.
    pub name: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=value` entries. [`ImageSpec::new`] starts with [`DEFAULT_PATH`].
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// Ports as `80/tcp`, `53/udp` or a bare `8080` (meaning tcp).
    pub exposed_ports: Vec<String>,
    /// Config `User`, e.g. `65534` or `nobody`; `None` means root.
    pub user: Option<String>,
}

impl ImageSpec {
    /// A spec with the given name, `PATH` set, and no entrypoint or command.
    pub fn new(name: impl Into<String>) -> ImageSpec {
        ImageSpec {
            name: name.into(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: vec![DEFAULT_PATH.to_string()],
            working_dir: None,
            exposed_ports: Vec::new(),
            user: None,
        }
    }

    /// Splits the name into the full reference (always tagged) and the tag, which
    /// is what the two index.json annotations want. Digest references are refused:
    /// the digest is an output of the build, not something the caller can choose.
    pub fn reference(&self) -> Result<(String, String), Error> {
        let name = self.name.as_str();
        let bad = |reason| Error::InvalidName {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("empty"));
        }
        if name.contains('@') {
            return Err(bad("digest references cannot be built"));
        }
        if name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c.is_uppercase())
        {
            return Err(bad("whitespace, control or uppercase characters"));
        }
        // The tag is after the last ':' only when that ':' is past the last '/';
        // otherwise the ':' belongs to a registry port (localhost:5000/img).
        let last_slash = name.rfind('/');
        match name.rfind(':') {
            Some(colon) if last_slash.is_none_or(|s| colon > s) => {
                let repo = &name[..colon];
                let tag = &name[colon + 1..];
                if repo.is_empty() || repo.ends_with('/') {
                    return Err(bad("empty repository"));
                }
                if tag.is_empty()
                    || tag.len() > 128
                    || !tag
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    || tag.starts_with(['.', '-'])
                {
                    return Err(bad(
                        "tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -",
                    ));
                }
                Ok((name.to_string(), tag.to_string()))
            }
            _ => {
                if name.ends_with('/') {
                    return Err(bad("empty repository"));
                }
                Ok((format!("{name}:latest"), "latest".to_string()))
            }
        }
    }
}

/// Name of the general-purpose test image.
pub const TEST_IMAGE: &str = "krust.io/busybox:1.35";

/// Name of the pod sandbox image the node agent makes when containerd has none.
pub const PAUSE_IMAGE: &str = "krust.io/pause:3.10";

/// The test image: busybox with every applet in [`APPLETS`], `sh` as the command.
pub fn test_image() -> ImageSpec {
    ImageSpec {
        cmd: vec!["sh".to_string()],
        ..ImageSpec::new(TEST_IMAGE)
    }
}

/// The pod sandbox ("pause") image. It only has to hold the pod's namespaces open
/// and exit promptly when the runtime stops the sandbox. A shell as PID 1 ignores
/// SIGTERM unless it traps it, hence the trap; `sleep & wait` rather than a bare
/// `sleep` because the shell runs traps only between commands, and `wait` returns
/// as soon as a signal arrives.
pub fn pause_image() -> ImageSpec {
    ImageSpec {
        entrypoint: vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done".to_string(),
        ],
        ..ImageSpec::new(PAUSE_IMAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> Result<(String, String), Error> {
        ImageSpec::new(name).reference()
    }

    #[test]
    fn references() {
        let ok = |n: &str, full: &str, tag: &str| {
            assert_eq!(reference(n).unwrap(), (full.to_string(), tag.to_string()), "{n}");
        };
        ok("krust.io/busybox:1.35", "krust.io/busybox:1.35", "1.35");
        ok("krust.io/busybox", "krust.io/busybox:latest", "latest");
        ok("localhost:5000/img", "localhost:5000/img:latest", "latest");
        ok("localhost:5000/img:v1", "localhost:5000/img:v1", "v1");
        ok("busybox", "busybox:latest", "latest");
        for bad in [
            "",
            "a b",
            "img@sha256:00",
            "img:",
            ":tag",
            "img:-x",
            "Img:1",
            "img/",
        ] {
            assert!(reference(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn ready_made_specs() {
        assert_eq!(test_image().reference().unwrap().1, "1.35");
        assert_eq!(pause_image().reference().unwrap().1, "3.10");
        assert!(pause_image().entrypoint[2].contains("trap 'exit 0' TERM"));
        assert!(test_image().env.iter().any(|e| e.starts_with("PATH=")));
    }

    #[test]
    fn applets_exist_in_host_busybox() {
        let Ok(out) = std::process::Command::new("/bin/busybox").arg("--list").output() else {
            eprintln!("skipping: no /bin/busybox");
            return;
        };
        let list = String::from_utf8_lossy(&out.stdout);
        let have: std::collections::HashSet<&str> = list.lines().collect();
        let missing: Vec<&&str> = APPLETS.iter().filter(|a| !have.contains(**a)).collect();
        assert!(
            missing.is_empty(),
            "applets missing from /bin/busybox: {missing:?}"
        );
        let mut sorted = APPLETS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), APPLETS.len(), "APPLETS has duplicates");
    }
}
