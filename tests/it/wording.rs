//! What users read, as snapshots (insta): `--help` of every subcommand, and the lines of auth,
//! push, deploy and doctor. A change of wording fails here until its snapshot is accepted
//! (`cargo insta review`, or INSTA_UPDATE=always), so it is reviewed as a diff with the code.
//! Values that change from run to run (ports, digests, ids, times) are replaced by names.

use crate::harness::{stevedore, SandboxProc};

/// Placeholders for what differs between runs.
const FILTERS: &[(&str, &str)] = &[
    (r"sha256:[0-9a-f]{64}", "sha256:[digest]"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
    (r"\b\d+(\.\d+)? [kMG]?B/s", "[rate]"),
    (r"\b\d+(\.\d+)? (s|ms)\b", "[n] $2"),
    (r"\(\d+(\.\d+)? (B|kB|MB)\)", "([size])"),
    (r"\bblob [0-9a-f]{12}\b", "blob [id]"),
    (r"\(in \d+ min\)", "(in [n] min)"),
    (r"last rollout [A-Z_]+", "last rollout [state]"),
    // clap shows a variable's value when it is set where the tests run.
    (r"\[env: ([A-Z0-9_]+)=[^\]]*\]", "[env: $1]"),
    (r"\bstevedore-(doctor-)?\d{8,}\b", "stevedore-[session]"),
];

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for (re, to) in FILTERS {
        s.add_filter(re, *to);
    }
    s.set_prepend_module_to_snapshot(false);
    s
}

/// `(path, long help)` of the command and every subcommand under it.
fn helps(cmd: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
    let mut cmd = cmd.clone().term_width(100);
    out.push((path.to_string(), cmd.render_long_help().to_string()));
    for sub in cmd.get_subcommands_mut() {
        let name = format!("{path}_{}", sub.get_name());
        helps(sub, &name, out);
    }
}

#[test]
fn every_subcommands_help_is_a_snapshot() {
    let s = settings();
    let _guard = s.bind_to_scope();
    let mut all = Vec::new();
    helps(&mut stevedore::cli::command(), "stevedore", &mut all);
    assert!(all.len() >= 14, "{} commands", all.len());
    for (path, help) in all {
        insta::assert_snapshot!(format!("help_{path}"), help);
    }
}

#[test]
fn the_lines_of_auth_push_deploy_and_doctor_are_snapshots() {
    let sb = SandboxProc::start();
    crate::doctor::setup(&sb);
    let token = sb.token(&["--org", "org-sandbox", "--project", "p1"]);
    let s = settings();
    let _guard = s.bind_to_scope();

    let work = tempfile::tempdir().unwrap();
    let auth = stevedore(&["auth", "--role-name", "ci", "--profile-name", "snap"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &token)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            work.path().join("credentials").to_str().unwrap(),
        )
        .env(
            "AWS_CONFIG_FILE",
            work.path().join("config").to_str().unwrap(),
        )
        .run()
        .success();
    insta::assert_snapshot!("lines_auth", auth.stdout);

    let layout = sb.oci_layout(work.path());
    let push = stevedore(&[
        "push",
        "--repo",
        "app",
        "--tag",
        "snap",
        "--oci-layout",
        layout.to_str().unwrap(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    // Blobs finish in any order: their lines are compared as a sorted block.
    let (mut blobs, rest): (Vec<&str>, Vec<&str>) =
        push.stdout.lines().partition(|l| l.starts_with("blob "));
    blobs.sort();
    insta::assert_snapshot!(
        "lines_push",
        format!(
            "{}\n--- blobs, sorted:\n{}",
            rest.join("\n"),
            blobs.join("\n")
        )
    );

    let deploy = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--container",
        "app=app:snap",
        "--dry-run",
        "--pin-digests=false",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    insta::assert_snapshot!("lines_deploy_dry_run", deploy.stdout);

    let doctor = crate::doctor::doctor(&sb, &token).run();
    assert_eq!(doctor.code, 0, "{}", doctor.all());
    insta::assert_snapshot!("lines_doctor", doctor.stdout);
}
