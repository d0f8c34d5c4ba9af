//! Test harness: run the real binary with a clean environment, and start (and always stop) the
//! local AWS endpoints the tests talk to.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

pub use stevedore_testkit::{free_port, venv, Moto};

mod fakes;
mod sandbox;

pub use fakes::*;
pub use sandbox::*;

/// A number no other test process on this machine uses now: this process's id and a counter.
pub fn unique_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    u64::from(std::process::id()) * 1000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Write a Dockerfile `FROM scratch` with these steps into the build context `dir`, its first
/// step the copy of a file no other build has (written there too).
///
/// The engine's classic builder caches each step by its parent and instruction, so builds of
/// the same steps share intermediate images; `docker image rm` of one build's tag then removes
/// those parents while another build stands on one between its steps, and that build fails
/// ("unknown parent image ID"). A first step of its own gives each build its own chain (the
/// layers of the same files are still stored once). A COPY, not a LABEL: the classic builder
/// commits a LABEL on scratch as the machine's platform, which a `--platform` build refuses.
pub fn scratch_dockerfile(dir: &Path, steps: &str) {
    std::fs::write(dir.join("build-id"), unique_number().to_string()).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM scratch\nCOPY build-id /build-id\n{steps}"),
    )
    .unwrap();
}

/// boto3 against moto's server (a third-party client reading what stevedore did).
pub trait Boto3 {
    /// Run a boto3 snippet: it gets `ecr` and `sts` clients and prints JSON; returns it parsed.
    fn boto3(&self, snippet: &str) -> serde_json::Value;
}

impl Boto3 for Moto {
    fn boto3(&self, snippet: &str) -> serde_json::Value {
        let program = format!(
            "import boto3, json\nkw=dict(endpoint_url={url:?}, region_name={REGION:?}, aws_access_key_id='test', aws_secret_access_key='test')\necr=boto3.client('ecr', **kw)\nsts=boto3.client('sts', **kw)\n{snippet}\n",
            url = self.url
        );
        serde_json::from_str(&self.python(&program)).expect("boto3 snippet prints JSON")
    }
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A fluent builder for one run of the `stevedore` binary with a clean environment: no AWS,
/// CircleCI or STEVEDORE variables leak in from the machine, and HOME is a fresh directory.
pub struct Run {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    stdin: Option<String>,
    home: std::sync::Arc<tempfile::TempDir>,
}

pub fn stevedore(args: &[&str]) -> Run {
    let home = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_string(),
        std::env::var("PATH").unwrap_or_default(),
    );
    env.insert("HOME".to_string(), home.path().display().to_string());
    // moto answers unimplemented calls with 500; one attempt keeps failures fast.
    env.insert("AWS_MAX_ATTEMPTS".to_string(), "1".to_string());
    env.insert("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string());
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        env,
        stdin: None,
        home,
    }
}

impl Run {
    pub fn env(mut self, k: &str, v: impl AsRef<str>) -> Self {
        self.env.insert(k.to_string(), v.as_ref().to_string());
        self
    }

    /// Point every AWS service at `url`, with a region and access keys.
    pub fn aws(self, url: &str) -> Self {
        self.env("AWS_ENDPOINT_URL", url)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCOUNT_ID", ACCOUNT)
            .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret")
    }

    pub fn without(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    /// The run's HOME; hold on to it to read files after the run (it is deleted when the last
    /// holder drops it).
    pub fn home(&self) -> std::sync::Arc<tempfile::TempDir> {
        self.home.clone()
    }

    pub fn run(&self) -> Output {
        // STEVEDORE_TEST_BIN runs the suite against another build (an older release, say).
        let bin = std::env::var_os("STEVEDORE_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_stevedore").into());
        let mut cmd = Command::new(bin);
        cmd.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn stevedore");
        let input = self.stdin.clone().unwrap_or_default();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// [`Run::run`], calling `on_line` with each line of stdout as it is printed and the time
    /// since the start (to act in the middle of a run: a fault once a rollback begins); the
    /// lines come back with their times too.
    pub fn run_watching(
        &self,
        mut on_line: impl FnMut(&str, std::time::Duration),
    ) -> (Output, Vec<(std::time::Duration, String)>) {
        use std::io::BufRead;
        let bin = std::env::var_os("STEVEDORE_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_stevedore").into());
        let started = std::time::Instant::now();
        let mut child = Command::new(bin)
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stevedore");
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut err, &mut s).ok();
            s
        });
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let at = started.elapsed();
            on_line(&line, at);
            lines.push((at, line));
        }
        let status = child.wait().unwrap();
        let stdout = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        let out = Output {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: stderr.join().unwrap(),
        };
        (out, lines)
    }

    /// [`Run::run`], and the run's peak resident memory in bytes (its own, from `wait4`).
    // The child is waited for by wait4, which std's Child cannot do (it gives no rusage).
    #[allow(clippy::zombie_processes)]
    pub fn run_measured(&self) -> (Output, u64) {
        let bin = std::env::var_os("STEVEDORE_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_stevedore").into());
        let dir = tempfile::tempdir().unwrap();
        let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
        let child = Command::new(bin)
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .expect("spawn stevedore");
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value; wait4 fills it for this child only.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = child.id() as libc::pid_t;
        // SAFETY: pid is our own child, not yet waited for; the pointers are to live locals.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid, "wait4");
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        let out = Output {
            code,
            stdout: read(&out_path),
            stderr: read(&err_path),
        };
        // Linux reports ru_maxrss in KiB.
        (out, usage.ru_maxrss as u64 * 1024)
    }
}

/// Parse `export K='v'` lines as written to $BASH_ENV.
pub fn read_exports(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').replace(r"'\''", "'")))
        .collect()
}

/// Write an executable script into `dir` (for stand-ins of `circleci` and `docker`).
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}
