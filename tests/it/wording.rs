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

#[test]
fn the_lines_of_a_deploy_that_succeeds_and_of_one_rolled_back_are_snapshots() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[("stevedore.sandbox.note", "v2")]);
    let bad = sb.push_image("app", "crash", crate::deploy::CRASH);
    crate::deploy::setup(&sb, &v1, "{'enable': True, 'rollback': True}");
    let mut s = settings();
    // How often the counts changed between polls depends on timing, not on stevedore.
    s.add_filter(r"(?m)^running \d+/\d+, pending \d+, failed \d+\n", "");
    s.add_filter(r"ecs-svc/\d+", "ecs-svc/[id]");
    s.add_filter(r"\btask [0-9a-f]{32}\b", "task [id]");
    let _guard = s.bind_to_scope();
    let deploy =
        |image: &str| crate::deploy::deploy(&sb, &["--service", "web", "--image", image]).run();
    let ok = deploy(&v2);
    assert_eq!(ok.code, 0, "{}", ok.all());
    insta::assert_snapshot!("lines_deploy", followed_apart(&ok.stdout));
    let failed = deploy(&bad);
    assert_eq!(failed.code, 3, "{}", failed.all());
    insta::assert_snapshot!("lines_deploy_rolled_back", followed_apart(&failed.stdout));
}

/// stevedore's own lines in order, then what it relayed while following (ECS's events and the
/// stopped tasks), each once and sorted: how they interleave, and how many tasks stopped before
/// the breaker tripped, depend on when the polls fell.
fn followed_apart(stdout: &str) -> String {
    let (relayed, own): (Vec<&str>, Vec<&str>) = stdout
        .lines()
        .partition(|l| l.starts_with("(service ") || l.starts_with("task "));
    let relayed: std::collections::BTreeSet<String> = relayed.into_iter().map(mask_ids).collect();
    let relayed: Vec<String> = relayed.into_iter().collect();
    format!(
        "{}\n--- relayed while following, each once, sorted:\n{}",
        own.join("\n"),
        relayed.join("\n")
    )
}

/// `line` with task ids (32 hex digits) and deployment ids (`ecs-svc/` and digits) as `[id]`,
/// so lines that differ only by them are one.
fn mask_ids(line: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word.len() == 32 && word.bytes().all(|b| b.is_ascii_hexdigit());
        match word.strip_prefix("ecs-svc/") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str("ecs-svc/[id]")
            }
            _ if hex => out.push_str("[id]"),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '/' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}
