//! Clusters over SSH against a real OpenSSH server: the test starts its
//! own `sshd` on loopback (a host key and a client key made for it, no
//! passwords), and `SshCluster` and `barrow ssh` start the scheduler and
//! workers through the system's `ssh`. After each cluster ends, no remote
//! command of it is left, and its token file is gone.
#![cfg(all(feature = "cli", feature = "deploy"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barrow::array::random::Generator;
use barrow::deploy::SshCluster;
use barrow::distributed::{Client, ClientOptions};
use barrow::{Options, compute_with};
use barrow_test_support::wait_until;

const SSHD: &str = "/usr/sbin/sshd";

/// An `sshd` of the test's own on 127.0.0.1, ended when dropped.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// Starts one, or `None` (after one line saying why) where OpenSSH is
    /// missing or this user cannot run a server; under CI that fails.
    fn start() -> Option<Sshd> {
        if !barrow_test_support::require_program(SSHD, "openssh-server")
            || !barrow_test_support::require_program("ssh", "openssh-client")
            || !barrow_test_support::require_program("ssh-keygen", "openssh-client")
        {
            return None;
        }
        let root = rustix::process::geteuid().is_root();
        if !root {
            assert!(
                !barrow_test_support::is_ci(std::env::var_os("CI").as_deref()),
                "the SSH tests run sshd, which needs root for its privilege separation"
            );
            eprintln!("skipped: the SSH tests run sshd, which needs root");
            return None;
        }
        // sshd refuses to start without its privilege separation folder,
        // which the package makes only when its service starts.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        for key in ["host", "client"] {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(made.success(), "ssh-keygen made the {key} key");
        }
        std::fs::copy(
            dir.path().join("client.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {pid}\n",
            host = dir.path().join("host").display(),
            keys = dir.path().join("authorized_keys").display(),
            pid = dir.path().join("sshd.pid").display(),
        );
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sshd = Sshd { dir, port, child };
        wait_until(
            10,
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
            || format!("sshd never listened on {port}"),
        );
        Some(sshd)
    }

    /// The `ssh` options that reach it with the test's key.
    fn options(&self) -> Vec<String> {
        vec![
            format!("-p{}", self.port),
            format!("-i{}", self.dir.path().join("client").display()),
            "-oStrictHostKeyChecking=no".to_owned(),
            "-oUserKnownHostsFile=/dev/null".to_owned(),
            "-oLogLevel=ERROR".to_owned(),
        ]
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn barrow() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_barrow"))
}

/// Processes whose command line holds `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if line.contains(needle) && !line.contains("cluster_ssh-") {
            found.push(format!("{}: {line}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

fn wait_until_gone(needle: &str) {
    wait_until(
        10,
        || processes_with(needle).is_empty().then_some(()),
        || format!("still running: {:?}", processes_with(needle)),
    );
}

/// A sum over a random array, on `client` and on threads.
fn check_computes(client: &Client) {
    let x = Generator::new(5).random(&[40, 30], [10, 10]).unwrap();
    let on_cluster = compute_with(x.sum(), &Options::new().scheduler(client)).unwrap();
    let local = compute_with(x.sum(), &Options::new().scheduler("threads")).unwrap();
    assert!((on_cluster - local).abs() < 1e-9, "{on_cluster} vs {local}");
}

fn home_path(file: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
    PathBuf::from(file.replacen('~', &home.display().to_string(), 1))
}

#[test]
fn an_ssh_cluster_computes_scales_and_leaves_nothing_behind() {
    let Some(sshd) = Sshd::start() else { return };
    let scheduler_port = free_port();
    let mut builder = SshCluster::builder(["127.0.0.1", "127.0.0.1"])
        .barrow_command(barrow())
        .nthreads(1)
        .scheduler_port(scheduler_port);
    for option in sshd.options() {
        builder = builder.ssh_option(option);
    }
    let started = Instant::now();
    let cluster = builder.start().unwrap();
    eprintln!("ssh cluster with 1 worker up in {:?}", started.elapsed());
    assert_eq!(
        cluster.address(),
        format!("tcp://127.0.0.1:{scheduler_port}")
    );
    let token_file = home_path(&cluster.token_file());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the token file is its owner's only");
    let client = cluster.client();
    check_computes(&client);

    let scaling = Instant::now();
    cluster.scale(3).unwrap();
    cluster
        .wait_for_workers(3, Duration::from_secs(20))
        .unwrap();
    eprintln!("scale(1 -> 3) over ssh joined in {:?}", scaling.elapsed());
    assert_eq!(cluster.workers().len(), 3);
    check_computes(&client);
    cluster.scale(1).unwrap();
    assert_eq!(cluster.workers().len(), 1);
    let names: Vec<String> = client
        .scheduler_info()
        .unwrap()
        .workers
        .into_iter()
        .map(|w| w.summary.name)
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    let address = cluster.address().to_owned();
    drop(client);
    drop(cluster);
    wait_until_gone(&address);
    wait_until_gone(&format!("--port {scheduler_port}"));
    assert!(!token_file.exists(), "{} removed", token_file.display());
}

#[test]
fn barrow_ssh_runs_until_told_to_stop() {
    let Some(sshd) = Sshd::start() else { return };
    let scheduler_port = free_port();
    let mut command = Command::new(barrow());
    command
        .arg("ssh")
        .arg("127.0.0.1")
        .args(["--nthreads", "1", "--scheduler-port"])
        .arg(scheduler_port.to_string())
        .arg("--barrow-command")
        .arg(barrow());
    for option in sshd.options() {
        command.arg(format!("--ssh-option={option}"));
    }
    let mut child = command
        .env("BARROW_LOGGING__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut next = || {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("barrow ssh printed only {seen:?}"));
        seen.push(line.clone());
        line
    };
    let address = next()
        .strip_prefix("barrow ssh cluster at ")
        .expect("the first line names the address")
        .to_owned();
    let token_file = loop {
        let line = next();
        if let Some(rest) = line.trim().strip_prefix("clients: the token is in ") {
            break home_path(rest.split_whitespace().next().unwrap());
        }
    };
    let token = std::fs::read_to_string(&token_file).unwrap();
    let client = Client::connect_with(&address, &ClientOptions::new().token(token.trim())).unwrap();
    assert_eq!(client.scheduler_info().unwrap().workers.len(), 1);
    check_computes(&client);
    drop(client);

    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "barrow ssh ends cleanly on SIGTERM: {status}"
    );
    wait_until_gone(&address);
    wait_until_gone(&format!("--port {scheduler_port}"));
    assert!(!token_file.exists());
}

#[test]
fn an_unreachable_host_is_named() {
    if !barrow_test_support::require_program("ssh", "openssh-client") {
        return;
    }
    // Nothing listens on this port.
    let port = free_port();
    let error = SshCluster::builder(["127.0.0.1"])
        .ssh_option(format!("-p{port}"))
        .ssh_option("-oConnectTimeout=5")
        .barrow_command(barrow())
        .start()
        .unwrap_err()
        .to_string();
    assert!(error.contains("host 127.0.0.1"), "{error}");
    assert!(
        error.contains("cannot place the cluster's token"),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
}

#[allow(dead_code, reason = "keeps Path in use for helpers above")]
fn _unused(_: &Path) {}
