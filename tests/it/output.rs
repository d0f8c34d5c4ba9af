//! Output read in CI logs: no escape codes when stdout and stderr are not a terminal, and none
//! on a terminal when NO_COLOR is set (no-color.org).

use crate::harness::{stevedore, SandboxProc};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

const ESC: char = '\u{1b}';

/// Run the binary with stdout and stderr on a new pseudo-terminal; what it wrote there.
fn on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let (mut master, mut slave) = (0, 0);
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stevedore"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().expect("spawn stevedore on a pty");
    // The child holds the only copies of the terminal's slave side now (cmd's are dropped
    // with it), so reading the master ends with EIO once the child exits.
    drop(cmd);
    let mut out = Vec::new();
    let mut file = std::fs::File::from(master);
    let mut buf = [0u8; 4096];
    loop {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    child.wait().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn piped_output_has_no_escape_codes() {
    let sb = SandboxProc::start();
    let runs = [
        stevedore(&["--help"]).run(),
        stevedore(&["deploy", "--help"]).run(),
        // A usage error, an ECR refusal and a missing cluster, each with its own wording.
        stevedore(&[
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--image",
            "bad image",
        ])
        .run(),
        stevedore(&["ecr", "ensure-repo", "--repo", "Bad_Name"])
            .sandbox(&sb, true)
            .run(),
        stevedore(&[
            "deploy",
            "--cluster",
            "none",
            "--service",
            "s",
            "--image",
            "x:1",
        ])
        .sandbox(&sb, true)
        .run(),
    ];
    let mut seen = 0;
    for out in &runs {
        assert!(!out.all().is_empty(), "every run says something");
        assert!(
            !out.all().contains(ESC),
            "escape code in piped output: {:?}",
            out.all()
        );
        seen += out.all().len();
    }
    assert!(seen > 1000, "the runs printed their help and errors");
}

#[test]
fn a_terminal_gets_no_escape_codes_with_no_color() {
    // The control: on a terminal, clap styles the help, so the pty is really a terminal.
    let styled = on_a_terminal(&["--help"], &[]);
    assert!(styled.contains("Usage"), "{styled}");
    assert!(
        styled.contains(ESC),
        "without NO_COLOR the help is styled on a terminal: {styled:?}"
    );
    for args in [
        &["--help"][..],
        &["deploy", "--help"][..],
        &[
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--image",
            "bad image",
        ][..],
    ] {
        let plain = on_a_terminal(args, &[("NO_COLOR", "1")]);
        assert!(!plain.is_empty(), "{args:?} printed nothing");
        assert!(
            !plain.contains(ESC),
            "escape code with NO_COLOR on a terminal ({args:?}): {plain:?}"
        );
    }
}

#[test]
fn errors_name_the_users_input_not_the_plumbing() {
    // An endpoint that does not answer: the URL and the variable that set it.
    let port = crate::harness::free_port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        &["ecr", "ensure-repo", "--repo", "app"][..],
        &[
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--image",
            "a/b:1",
            "--pin-digests=false",
        ][..],
        &["whoami"][..],
    ] {
        let out = stevedore(args).aws(&url).run();
        assert_eq!(out.code, 1, "{args:?}: {}", out.all());
        assert!(
            out.stderr
                .contains(&format!("cannot reach {url} (from AWS_ENDPOINT_URL)")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("dispatch failure"), "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    // A tag that is not in the repository: said so, not as a URL and a 404.
    let sb = SandboxProc::start();
    sb.push_image("team/app", "v1", &[]);
    let out = stevedore(&[
        "push",
        "--from",
        "team/app:v9",
        "--repo",
        "team/copy",
        "--tag",
        "v9",
        "--create-repo",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("tag v9 is not in repository team/app"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("404"), "{}", out.stderr);
}
