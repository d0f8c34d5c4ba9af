//! `stevedore auth` and `whoami` against moto's STS, and against a scripted STS for the
//! refusals and transient failures moto never produces.

use crate::harness::*;

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

#[test]
fn oidc_token_is_exchanged_and_exported_to_bash_env() {
    let moto = Moto::start();
    let run = stevedore(&["auth", "--role-name", "deployer"])
        .aws(&moto.url)
        .without("AWS_ACCESS_KEY_ID")
        .without("AWS_SECRET_ACCESS_KEY")
        .env(
            "CIRCLE_OIDC_TOKEN_V2",
            circleci_token("proj-1", 3600, "sig"),
        )
        .env("CIRCLE_PROJECT_REPONAME", "my app")
        .env("CIRCLE_BUILD_NUM", "42");
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out = run
        .env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    assert!(
        out.stdout.contains("assumed-role/deployer/my-app-42"),
        "{}",
        out.stdout
    );

    let exported = read_exports(&bash_env);
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ] {
        assert!(
            exported.get(k).is_some_and(|v| !v.is_empty()),
            "{k} missing from {exported:?}"
        );
    }
    // The exported credentials are the role's: a later step sees the assumed identity.
    let who = stevedore(&["whoami", "--json"])
        .aws(&moto.url)
        .env("AWS_ACCESS_KEY_ID", &exported["AWS_ACCESS_KEY_ID"])
        .env("AWS_SECRET_ACCESS_KEY", &exported["AWS_SECRET_ACCESS_KEY"])
        .env("AWS_SESSION_TOKEN", &exported["AWS_SESSION_TOKEN"])
        .run()
        .success();
    let id: serde_json::Value = serde_json::from_str(&who.stdout).unwrap();
    assert_eq!(
        id["arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/my-app-42")
    );
    assert_eq!(id["account"], ACCOUNT);
}

#[test]
fn two_roles_in_two_profiles_do_not_overwrite_each_other() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    let token = circleci_token("proj-1", 3600, "sig");
    for (profile, role_name) in [("build", "builder"), ("deploy", "deployer")] {
        stevedore(&[
            "auth",
            "--role-arn",
            &role(role_name),
            "--profile-name",
            profile,
        ])
        .aws(&moto.url)
        .env("HOME", home.path().display().to_string())
        .env("CIRCLE_OIDC_TOKEN_V2", &token)
        .env("CIRCLE_PROJECT_REPONAME", "app")
        .env("CIRCLE_BUILD_NUM", "7")
        .run()
        .success();
    }
    let creds = std::fs::read_to_string(home.path().join(".aws/credentials")).unwrap();
    assert_eq!(creds.matches("[build]").count(), 1, "{creds}");
    assert_eq!(creds.matches("[deploy]").count(), 1, "{creds}");
    let config = std::fs::read_to_string(home.path().join(".aws/config")).unwrap();
    assert!(
        config.contains("[profile build]") && config.contains(&format!("region = {REGION}")),
        "{config}"
    );
    for (profile, role_name) in [("build", "builder"), ("deploy", "deployer")] {
        let out = stevedore(&["whoami", "--json"])
            .aws(&moto.url)
            .without("AWS_ACCESS_KEY_ID")
            .without("AWS_SECRET_ACCESS_KEY")
            .env("HOME", home.path().display().to_string())
            .env("AWS_PROFILE", profile)
            .run()
            .success();
        assert!(
            out.stdout
                .contains(&format!("assumed-role/{role_name}/app-7")),
            "{profile}: {}",
            out.stdout
        );
    }
}

#[test]
fn token_is_minted_by_the_circleci_agent_when_absent_retrying_empty_ones() {
    let moto = Moto::start();
    let bin = tempfile::tempdir().unwrap();
    let token = circleci_token("proj-1", 3600, "sig");
    let state = bin.path().join("calls");
    // The stand-in answers empty twice (as fresh agents sometimes do), then a token.
    script(
        bin.path(),
        "circleci",
        &format!(
            "echo \"$@\" >> '{s}'\nn=$(wc -l < '{s}')\n[ \"$n\" -ge 3 ] && printf '%s' '{token}'\nexit 0",
            s = state.display()
        ),
    );
    let run = stevedore(&["auth", "--role-name", "deployer"])
        .aws(&moto.url)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.path().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("CIRCLE_ORGANIZATION_ID", "org-1");
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    run.env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    let calls = std::fs::read_to_string(&state).unwrap();
    assert_eq!(calls.lines().count(), 3, "{calls}");
    assert!(
        calls
            .lines()
            .all(|l| l == r#"run oidc get --claims {"aud":"org-1"}"#),
        "{calls}"
    );
    assert!(read_exports(&bash_env).contains_key("AWS_SESSION_TOKEN"));
}

#[test]
fn without_a_token_the_standard_credential_chain_applies() {
    let moto = Moto::start();
    // No role either: nothing to assume, the access keys are used as they are.
    let run = stevedore(&["auth"]).aws(&moto.url);
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out = run
        .env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    assert!(
        out.stdout.contains("Using the access keys in AWS_ACCESS_KEY_ID as they are, as arn:aws:sts::123456789012:user/moto (nothing exported): no role is named\n"),
        "{}",
        out.stdout
    );
    assert!(!bash_env.exists(), "nothing should be exported");
    // With a role, the access keys assume it (sts:AssumeRole).
    let run = stevedore(&["auth", "--role-name", "deployer"]).aws(&moto.url);
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out = run
        .env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    assert!(
        out.stdout.contains("assumed-role/deployer/"),
        "{}",
        out.stdout
    );
    assert!(read_exports(&bash_env).contains_key("AWS_SESSION_TOKEN"));
}

/// Keys in a context: CircleCI gives the job a token as well. With no role named the keys are
/// used (even beside a malformed token, which is never read); `--credentials keys` with a role
/// assumes it with the keys (sts:AssumeRole, which moto answers), not with the token.
#[test]
fn access_keys_beside_a_contexts_token_are_used_and_say_so() {
    let moto = Moto::start();
    let token = circleci_token("proj-1", 3600, "SIGNATURE-CANARY");
    for t in [token.as_str(), "not-a-jwt"] {
        let run = stevedore(&["auth"]).aws(&moto.url);
        let home = run.home();
        let bash_env = home.path().join("bash_env");
        let out = run
            .env("BASH_ENV", bash_env.display().to_string())
            .env("CIRCLE_OIDC_TOKEN_V2", t)
            .run()
            .success();
        assert!(
            out.stdout == "Using the access keys in AWS_ACCESS_KEY_ID as they are, as arn:aws:sts::123456789012:user/moto (nothing exported): no role is named; the OIDC token in CIRCLE_OIDC_TOKEN_V2 is not used\n",
            "{}",
            out.stdout
        );
        assert!(!bash_env.exists(), "nothing should be exported");
    }
    let run =
        stevedore(&["auth", "--credentials", "keys", "--role-name", "deployer"]).aws(&moto.url);
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out = run
        .env("BASH_ENV", bash_env.display().to_string())
        .env("CIRCLE_OIDC_TOKEN_V2", &token)
        .run()
        .success();
    assert!(
        out.stdout.contains("Assuming arn:aws:iam::123456789012:role/deployer with the access keys in AWS_ACCESS_KEY_ID (session stevedore-"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "): --credentials keys; the OIDC token in CIRCLE_OIDC_TOKEN_V2 is not used\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("assumed-role/deployer/"),
        "{}",
        out.stdout
    );
    assert!(read_exports(&bash_env).contains_key("AWS_SESSION_TOKEN"));
    assert!(!out.all().contains("SIGNATURE-CANARY"));
}

#[test]
fn a_refusal_explains_the_claims_and_the_trust_policy_that_would_admit_them() {
    let sts = Scripted::start(vec![(
        403,
        sts_error(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
    )]);
    let token = circleci_token("proj-9", 3600, "SIGNATURE-CANARY");
    let run = stevedore(&["auth", "--role-arn", &role("deployer")])
        .env("AWS_ENDPOINT_URL", &sts.url)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("CIRCLE_OIDC_TOKEN_V2", &token);
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out = run.env("BASH_ENV", bash_env.display().to_string()).run();
    assert_eq!(out.code, 1, "{}", out.all());
    let err = &out.stderr;
    assert!(err.contains("AccessDenied: Not authorized"), "{err}");
    assert!(err.contains(&role("deployer")), "{err}");
    assert!(err.contains("sub=org/org-1/project/proj-9/user/user-1/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"), "{err}");
    assert!(
        err.contains("aud=org-1") && err.contains("iss=https://oidc.circleci.com/org/org-1"),
        "{err}"
    );
    assert!(
        err.contains(r#""oidc.circleci.com/org/org-1:sub":"org/org-1/project/proj-9/user/*""#),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.circleci.com/org/org-1"
        )),
        "{err}"
    );
    assert!(!out.all().contains("SIGNATURE-CANARY") && !out.all().contains(&token));
    assert!(
        !bash_env.exists(),
        "nothing may be exported after a refusal"
    );
    // The token was sent to STS (so the refusal is STS's, not ours).
    assert!(sts.requests.lock().unwrap()[0].contains("SIGNATURE-CANARY"));
}

#[test]
fn idp_communication_errors_and_throttling_are_retried() {
    let sts = Scripted::start(vec![
        (
            400,
            sts_error(
                "IDPCommunicationError",
                "The OIDC provider could not be reached",
            ),
        ),
        (400, sts_error("Throttling", "Rate exceeded")),
        (200, sts_assumed("secret-x", "session-x")),
    ]);
    let run = stevedore(&["auth", "--role-arn", &role("deployer")])
        .env("AWS_ENDPOINT_URL", &sts.url)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("CIRCLE_OIDC_TOKEN", circleci_token("proj-1", 3600, "sig"));
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let out = run
        .env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    assert_eq!(sts.request_count(), 3);
    assert!(
        out.stdout.contains("IDPCommunicationError (attempt 1/4)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("from CIRCLE_OIDC_TOKEN "),
        "the v1 variable is used when v2 is absent: {}",
        out.stdout
    );
    assert_eq!(read_exports(&bash_env)["AWS_SECRET_ACCESS_KEY"], "secret-x");
}

#[test]
fn an_audience_other_than_the_tokens_is_minted_even_with_a_token_present() {
    let moto = Moto::start();
    let bin = tempfile::tempdir().unwrap();
    let present = circleci_token("proj-1", 3600, "PRESENT-SIG"); // aud = org-1
    let minted = circleci_token("proj-1", 3600, "MINTED-SIG");
    let state = bin.path().join("calls");
    script(
        bin.path(),
        "circleci",
        &format!(
            "echo \"$@\" >> '{s}'\nprintf '%s' '{minted}'",
            s = state.display()
        ),
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let auth = |extra: &[&str]| {
        let mut args = vec!["auth", "--role-name", "deployer"];
        args.extend_from_slice(extra);
        let run = stevedore(&args)
            .aws(&moto.url)
            .env("PATH", &path)
            .env("CIRCLE_ORGANIZATION_ID", "org-1")
            .env("CIRCLE_OIDC_TOKEN_V2", &present);
        let home = run.home();
        run.env(
            "BASH_ENV",
            home.path().join("bash_env").display().to_string(),
        )
        .run()
        .success()
    };
    // The organisation's audience: the token CircleCI put in the environment is used.
    auth(&[]);
    assert!(!state.exists(), "no token minted for the default audience");
    // Another audience: `circleci run oidc get` mints one with it.
    let out = auth(&["--audience", "sts.amazonaws.com"]);
    let calls = std::fs::read_to_string(&state).unwrap();
    assert_eq!(
        calls.trim(),
        r#"run oidc get --claims {"aud":"sts.amazonaws.com"}"#
    );
    assert!(
        out.stdout.contains("`circleci run oidc get`"),
        "{}",
        out.stdout
    );
    assert!(!out.all().contains("MINTED-SIG") && !out.all().contains("PRESENT-SIG"));
}
