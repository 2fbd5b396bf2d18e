//! Node test: the built images import into and run under a real containerd.
//!
//! Needs root, `/usr/bin/containerd`, `ctr`, `runc` and a static `/bin/busybox`
//! (Debian: busybox-static); without them it prints why and passes. It starts a
//! private containerd (own root, state, socket and config in a temp dir, CRI plugin
//! off), so it neither needs nor disturbs a system containerd, and the guard tears it
//! all down again even when an assertion fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const CONTAINERD: &str = "/usr/bin/containerd";
/// Generous ceiling for one ctr call; only reached when something is broken.
const CTR_DEADLINE: Duration = Duration::from_secs(60);

struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> bool {
        self.status.success()
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; stdout: {:?}; stderr: {:?}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion, killing it after `deadline`.
fn run(mut cmd: Command, deadline: Duration) -> Out {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {desc}: {e}"));
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("{desc} still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Out {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A private containerd. Dropping it stops its containers, containerd and any
/// leftover shims, unmounts what they left under its directory, and deletes it.
struct Containerd {
    child: Child,
    sock: PathBuf,
    dir: tempfile::TempDir,
}

impl Containerd {
    fn start() -> Containerd {
        // Short path: the socket must fit in sun_path (108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("krust-oci-ctd")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let d = dir.path();
        let sock = d.join("ctd.sock");
        let config = format!(
            "version = 2\n\
             root = \"{root}\"\n\
             state = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = sock.display(),
            opt = d.join("opt").display(),
        );
        std::fs::write(d.join("config.toml"), config).expect("write config");
        let log = std::fs::File::create(d.join("containerd.log")).expect("log file");
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let mut c = Containerd { child, sock, dir };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = c.child.try_wait() {
                panic!("containerd exited with {status}:\n{}", c.log());
            }
            if c.sock.exists() && c.ctr(&["version"]).ok() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd not ready:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(&self.sock)
            .args(["-n", "k8s.io"])
            .args(args);
        cmd
    }

    fn ctr(&self, args: &[&str]) -> Out {
        run(self.ctr_cmd(args), CTR_DEADLINE)
    }

    /// Runs ctr and fails the test, with containerd's log, unless it succeeds.
    fn ctr_ok(&self, args: &[&str]) -> Out {
        let out = self.ctr(args);
        assert!(
            out.ok(),
            "ctr {args:?} failed: {out}\ncontainerd log tail:\n{}",
            self.log_tail()
        );
        out
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        // Containers first, while containerd can still clean up after them.
        if self.child.try_wait().ok().flatten().is_none() {
            let ids = self.ctr(&["containers", "ls", "-q"]).stdout;
            for id in ids.split_whitespace() {
                let _ = self.ctr(&["tasks", "kill", "-s", "SIGKILL", id]);
                let _ = self.ctr(&["tasks", "rm", "-f", id]);
                let _ = self.ctr(&["containers", "rm", id]);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Shims outlive containerd by design; ours name our socket on their command line.
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let pid = p.file_name().to_string_lossy().into_owned();
                if pid.parse::<u32>().is_err() {
                    continue;
                }
                let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&dir) {
                    let _ = Command::new("kill").args(["-9", &pid]).status();
                }
            }
        }
        // Anything still mounted below the directory (rootfs, shm), deepest first.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<&str> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&dir))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        // `self.dir` (TempDir) removes the directory after this.
    }
}

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned));
    if euid.as_deref() != Some("0") {
        return Some("not root".into());
    }
    if !Path::new(CONTAINERD).exists() {
        return Some(format!("no {CONTAINERD}"));
    }
    for tool in ["ctr", "runc"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("no {tool} in PATH"));
        }
    }
    None
}

/// Writes `spec` to `dir`, or says why the host's busybox cannot be used.
fn write(spec: &krust_oci::ImageSpec, dir: &Path, file: &str) -> Result<PathBuf, String> {
    let out = dir.join(file);
    match krust_oci::write_image(spec, Path::new(krust_oci::DEFAULT_BUSYBOX), &out) {
        Ok(_) => Ok(out),
        Err(e @ (krust_oci::Error::NotStaticBusybox { .. } | krust_oci::Error::Io { .. })) => {
            Err(e.to_string())
        }
        Err(e) => panic!("building {}: {e}", spec.name),
    }
}

fn snapshotter_ok(ctd: &Containerd, name: &str) -> bool {
    let plugins = ctd.ctr_ok(&["plugins", "ls"]).stdout;
    plugins.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 4 && f[0] == "io.containerd.snapshotter.v1" && f[1] == name && f[3] == "ok"
    })
}

#[test]
fn images_import_and_run_under_containerd() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping containerd node test: {why}");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let (busybox_tar, pause_tar) = match (
        write(&krust_oci::test_image(), work.path(), "busybox.tar"),
        write(&krust_oci::pause_image(), work.path(), "pause.tar"),
    ) {
        (Ok(b), Ok(p)) => (b, p),
        (Err(why), _) | (_, Err(why)) => {
            eprintln!("skipping containerd node test: {why}");
            return;
        }
    };
    let busybox_tar = busybox_tar.to_string_lossy().into_owned();
    let pause_tar = pause_tar.to_string_lossy().into_owned();

    let ctd = Containerd::start();

    // Content only: the name comes from the io.containerd.image.name annotation.
    ctd.ctr_ok(&["images", "import", "--no-unpack", &busybox_tar]);
    let names = ctd.ctr_ok(&["images", "ls", "-q"]).stdout;
    assert!(
        names.lines().any(|l| l == krust_oci::TEST_IMAGE),
        "images ls: {names}"
    );

    // The native snapshotter works on any file system; run a container on it.
    ctd.ctr_ok(&["images", "import", "--snapshotter", "native", &busybox_tar]);
    let out = ctd.ctr_ok(&[
        "run",
        "--rm",
        "--snapshotter",
        "native",
        krust_oci::TEST_IMAGE,
        "t-native",
        "/bin/busybox",
        "echo",
        "hello",
    ]);
    assert_eq!(out.stdout.trim(), "hello");

    // The applet links, PATH, /etc/passwd and the sticky /tmp as a container sees them.
    let out = ctd.ctr_ok(&[
        "run",
        "--rm",
        "--snapshotter",
        "native",
        krust_oci::TEST_IMAGE,
        "t-shell",
        "sh",
        "-c",
        "id -un; grep -c . /etc/passwd; stat -c %a /tmp; test -d /var/www && echo www",
    ]);
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["root", "2", "1777", "www"]
    );

    // overlayfs is containerd's (and the CRI plugin's) default; it needs kernel
    // support and a backing file system it can stack on, so check only where loaded.
    if snapshotter_ok(&ctd, "overlayfs") {
        ctd.ctr_ok(&["images", "import", &busybox_tar]);
        let out = ctd.ctr_ok(&["run", "--rm", krust_oci::TEST_IMAGE, "t-overlay", "echo", "hello"]);
        assert_eq!(out.stdout.trim(), "hello");
    } else {
        eprintln!("overlayfs snapshotter not available here; checked native only");
    }

    // The sandbox image must hold on until told to stop and then exit 0 promptly:
    // SIGTERM to a shell that is PID 1 does nothing unless it is trapped.
    ctd.ctr_ok(&["images", "import", "--snapshotter", "native", &pause_tar]);
    let mut pause = ctd
        .ctr_cmd(&[
            "run",
            "--rm",
            "--snapshotter",
            "native",
            krust_oci::PAUSE_IMAGE,
            "pause",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ctr run pause");
    let start = Instant::now();
    while !ctd
        .ctr(&["tasks", "ls"])
        .stdout
        .lines()
        .any(|l| l.starts_with("pause ") && l.contains("RUNNING"))
    {
        assert!(
            start.elapsed() < CTR_DEADLINE,
            "pause task never started:\n{}",
            ctd.log_tail()
        );
        assert!(
            pause.try_wait().expect("try_wait").is_none(),
            "ctr run pause exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        pause.try_wait().expect("try_wait").is_none(),
        "pause exited by itself"
    );
    // A SIGTERM that lands before the shell has set its trap is ignored (PID 1 with
    // the default action), so repeat it until the task goes; the first usually does.
    let start = Instant::now();
    let mut last_kill: Option<Instant> = None;
    let status = loop {
        if let Some(s) = pause.try_wait().expect("try_wait") {
            break s;
        }
        if last_kill.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
            let _ = ctd.ctr(&["tasks", "kill", "--signal", "SIGTERM", "pause"]);
            last_kill = Some(Instant::now());
        }
        if start.elapsed() > CTR_DEADLINE {
            let _ = pause.kill();
            panic!("pause did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "pause exit status after SIGTERM: {status}");
}
