//! The launchers both integration suites share (stevedore's `tests/it` and the sandbox's): the
//! project's Python venv, free ports, the sandbox process and moto's server. Each process is
//! stopped on drop, and by the kernel if the test process dies first.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The account moto and the sandbox answer as.
pub const ACCOUNT: &str = "123456789012";

/// The project's Python venv (moto, boto3): `STEVEDORE_TEST_VENV` or `<repo>/.venv`.
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("STEVEDORE_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
    assert!(
        dir.join("bin/moto_server").is_file(),
        "moto is not installed in {}: run `make test`, which installs it",
        dir.display()
    );
    dir
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET on 127.0.0.1:`port`; the raw answer, if one came.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.starts_with("HTTP/1.").then_some(buf)
}

/// A child that gets SIGTERM when the test process dies.
fn dies_with_us(cmd: &mut Command) -> &mut Command {
    // Safe: prctl is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        })
    }
}

/// A running `stevedore-sandbox up`, stopped (SIGTERM, so it cleans up) on drop; `env` holds
/// the exports it printed.
pub struct Sandbox {
    child: Child,
    pub env: BTreeMap<String, String>,
}

impl Sandbox {
    /// Start `bin up` with `args` (clock speed, docker mode); its stderr goes to `stderr`.
    pub fn start(bin: &Path, args: &[&str], stderr: Stdio) -> Sandbox {
        let mut cmd = Command::new(bin);
        cmd.arg("up")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .env_remove("STEVEDORE_SANDBOX_DIR");
        let mut child = dies_with_us(&mut cmd)
            .spawn()
            .expect("start stevedore-sandbox");
        let mut env = BTreeMap::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.expect("sandbox stdout");
            if line.starts_with("# stevedore-sandbox ready") {
                break;
            }
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                env.insert(k.to_string(), v.trim_matches('\'').to_string());
            }
        }
        assert!(
            env.contains_key("AWS_ENDPOINT_URL"),
            "the sandbox did not start"
        );
        // Keep draining stdout so the sandbox never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Sandbox { child, env }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Safe: a plain kill(2) of our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// moto's server from the venv on a port of its own, as a third-party cross-check; killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let mut cmd = Command::new(venv().join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ACCOUNT_ID", ACCOUNT)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = dies_with_us(&mut cmd).spawn().expect("start moto_server");
        let moto = Moto {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(port, "/moto-api/").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Run a Python program with the venv's interpreter; its stdout, after asserting success.
    pub fn python(&self, program: &str) -> String {
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", program])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("python prints UTF-8")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
