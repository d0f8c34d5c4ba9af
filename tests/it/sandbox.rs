//! stevedore against the stevedore sandbox: OIDC tokens verified for real (RS256, trust policy),
//! and registry credentials used against a real registry with TLS and htpasswd.

use crate::harness::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn auth_with_a_verified_token_and_a_refusal_that_explains_itself() {
    let sb = SandboxProc::start();
    let token = sb.token(&[
        "--project",
        "proj-1",
        "--vcs-origin",
        "github.com/acme/app",
        "--vcs-ref",
        "refs/heads/main",
    ]);
    let run = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &token)
        .env("CIRCLE_PROJECT_REPONAME", "app")
        .env("CIRCLE_BUILD_NUM", "9");
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    run.env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    let exported = read_exports(&bash_env);
    let who = stevedore(&["whoami", "--json"])
        .sandbox(&sb, false)
        .env("AWS_ACCESS_KEY_ID", &exported["AWS_ACCESS_KEY_ID"])
        .env("AWS_SECRET_ACCESS_KEY", &exported["AWS_SECRET_ACCESS_KEY"])
        .env("AWS_SESSION_TOKEN", &exported["AWS_SESSION_TOKEN"])
        .run()
        .success();
    assert!(
        who.stdout.contains(":assumed-role/circleci-deployer/app-9"),
        "{}",
        who.stdout
    );

    // A token of another organisation: the sandbox's trust policy refuses it; stevedore explains.
    let other = sb.token(&["--org", "org-other", "--project", "proj-1"]);
    let out = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &other)
        .env("BASH_ENV", "/dev/null")
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("AccessDenied"), "{}", out.stderr);
    assert!(
        out.stderr.contains("aud=org-other")
            && out.stderr.contains("oidc.circleci.com/org/org-other:sub"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(&other));
    // A token the sandbox's issuer did not sign.
    let forged = circleci_token("proj-1", 3600, "bm90LWEtc2lnbmF0dXJl");
    let out = stevedore(&["auth", "--role-name", "circleci-deployer"])
        .sandbox(&sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", &forged)
        .env("BASH_ENV", "/dev/null")
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("InvalidIdentityToken"),
        "{}",
        out.stderr
    );
}

#[test]
fn login_writes_credentials_the_real_registry_accepts() {
    let sb = SandboxProc::start();
    let run = stevedore(&[
        "ecr",
        "ensure-repo",
        "--repo",
        "team/app",
        "--keep-last",
        "5",
    ])
    .sandbox(&sb, true);
    run.run().success();
    let run = stevedore(&["ecr", "login"]).sandbox(&sb, true);
    let home = run.home();
    let out = run.run().success();
    let registry = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    assert!(
        out.stdout.contains(&format!("Logged in to {registry}")),
        "{}",
        out.stdout
    );
    let config = home.path().join(".docker/config.json");

    // skopeo pushes with exactly that config.json over TLS to the htpasswd-protected registry.
    let image = tempfile::tempdir().unwrap();
    let layout = image.path().join("oci");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let config_blob =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let sha = |b: &[u8]| {
        let mut child = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b).unwrap();
        let o = child.wait_with_output().unwrap();
        String::from_utf8(o.stdout).unwrap()[..64].to_string()
    };
    let cfg_hex = sha(config_blob);
    std::fs::write(layout.join("blobs/sha256").join(&cfg_hex), config_blob).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{cfg_hex}","size":{}}},"layers":[]}}"#,
        config_blob.len()
    );
    let m_hex = sha(manifest.as_bytes());
    std::fs::write(layout.join("blobs/sha256").join(&m_hex), &manifest).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(layout.join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{m_hex}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#, manifest.len())).unwrap();
    let certs = sb.cert_dir(image.path());
    let push = |authfile: &Path| {
        Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--quiet", "--authfile"])
            .arg(authfile)
            .arg("--dest-cert-dir")
            .arg(&certs)
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{registry}/team/app:v1"))
            .output()
            .unwrap()
    };
    let ok = push(&config);
    assert!(
        ok.status.success(),
        "skopeo with stevedore's config.json: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The same push with a wrong password is refused: the credentials are what made it work.
    let wrong = image.path().join("wrong.json");
    use base64::Engine;
    std::fs::write(
        &wrong,
        format!(
            r#"{{"auths":{{"{registry}":{{"auth":"{}"}}}}}}"#,
            base64::engine::general_purpose::STANDARD.encode("AWS:wrong")
        ),
    )
    .unwrap();
    let refused = push(&wrong);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("unauthorized"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Render a trust policy with `stevedore iam trust` and give it to a sandbox role.
fn role_from_rendered_trust(sb: &SandboxProc, role: &str, args: &[&str]) {
    let mut all = vec!["iam", "trust"];
    all.extend_from_slice(args);
    sb.put_role(role, Some(&rendered(sb, &all)), None);
}

/// `stevedore auth` into a sandbox role with a token.
fn assume(sb: &SandboxProc, role: &str, token: &str) -> Output {
    stevedore(&["auth", "--role-name", role])
        .sandbox(sb, false)
        .env("CIRCLE_OIDC_TOKEN_V2", token)
        .env("BASH_ENV", "/dev/null")
        .run()
}

#[test]
fn the_rendered_trust_policy_admits_the_right_project_and_branch_only() {
    let sb = SandboxProc::start();
    role_from_rendered_trust(
        &sb,
        "ci-main",
        &[
            "--org-id",
            "org-1",
            "--project-id",
            "proj-1",
            "--branch",
            "main",
            "--vcs-origin",
            "github.com/acme/app",
        ],
    );
    let token = |project: &str, origin: Option<&str>, branch: Option<&str>| {
        let mut args = vec!["--org", "org-1", "--project", project];
        if let (Some(o), Some(b)) = (origin, branch) {
            args.extend(["--vcs-origin", o, "--vcs-ref", b]);
        }
        sb.token(&args)
    };
    assert_eq!(
        assume(
            &sb,
            "ci-main",
            &token(
                "proj-1",
                Some("github.com/acme/app"),
                Some("refs/heads/main")
            )
        )
        .code,
        0,
        "the right project and branch"
    );
    for (what, t) in [
        (
            "another project",
            token(
                "proj-2",
                Some("github.com/acme/app"),
                Some("refs/heads/main"),
            ),
        ),
        (
            "another branch",
            token(
                "proj-1",
                Some("github.com/acme/app"),
                Some("refs/heads/feature"),
            ),
        ),
        (
            "another repository",
            token(
                "proj-1",
                Some("github.com/evil/app"),
                Some("refs/heads/main"),
            ),
        ),
        ("a v1 token without vcs-ref", token("proj-1", None, None)),
    ] {
        let out = assume(&sb, "ci-main", &t);
        assert_eq!(out.code, 1, "{what}: {}", out.all());
        assert!(
            out.stderr.contains("AccessDenied"),
            "{what}: {}",
            out.stderr
        );
    }
    // Without a branch lock, every branch of the project is admitted, another project is not.
    role_from_rendered_trust(
        &sb,
        "ci-any",
        &["--org-id", "org-1", "--project-id", "proj-1"],
    );
    assert_eq!(
        assume(
            &sb,
            "ci-any",
            &token(
                "proj-1",
                Some("github.com/acme/app"),
                Some("refs/heads/feature")
            )
        )
        .code,
        0
    );
    assert_eq!(assume(&sb, "ci-any", &token("proj-1", None, None)).code, 0);
    assert_eq!(assume(&sb, "ci-any", &token("proj-2", None, None)).code, 1);
}
