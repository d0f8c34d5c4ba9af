//! No secret reaches output: canary values for every kind of secret, across the subcommands,
//! on success and on failure. They may appear only in the files meant for them.

use crate::harness::*;

const SECRET_KEY: &str = "SECRETKEY-CANARY-7f3a";
const SESSION_TOKEN: &str = "SESSIONTOKEN-CANARY-91bc";
const OIDC_SIG: &str = "OIDCSIG-CANARY-c0de";
const STS_SECRET: &str = "STSSECRET-CANARY-5e11";
const STS_SESSION: &str = "STSSESSION-CANARY-a11f";

fn assert_clean(what: &str, out: &Output, extra: &[&str]) {
    let all = out.all();
    for canary in [SECRET_KEY, SESSION_TOKEN, OIDC_SIG, STS_SECRET, STS_SESSION]
        .iter()
        .chain(extra)
    {
        assert!(
            !all.contains(canary),
            "{what} printed a secret ({canary}):\n{all}"
        );
    }
}

#[test]
fn no_secret_appears_in_any_output() {
    let moto = Moto::start();
    let token = circleci_token("proj-1", 3600, OIDC_SIG);
    let expired = circleci_token("proj-1", -60, OIDC_SIG);
    let keyed = |args: &[&str]| {
        stevedore(args)
            .aws(&moto.url)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
    };
    // moto's registry password, read with boto3, is a canary of its own.
    let auth_token = moto.boto3("print(json.dumps(ecr.get_authorization_token()['authorizationData'][0]['authorizationToken']))");
    let password = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth_token.as_str().unwrap())
            .unwrap();
        String::from_utf8(raw)
            .unwrap()
            .split_once(':')
            .unwrap()
            .1
            .to_string()
    };
    let pw = password.as_str();

    let runs: Vec<(&str, Output)> = vec![
        ("whoami", keyed(&["whoami"]).run()),
        ("whoami --json", keyed(&["whoami", "--json"]).run()),
        (
            "ensure-repo",
            keyed(&["ecr", "ensure-repo", "--repo", "app", "--keep-last", "3"]).run(),
        ),
        ("login", keyed(&["ecr", "login"]).run()),
        ("uri", keyed(&["ecr", "uri", "--repo", "app"]).run()),
        (
            "auth with chain",
            keyed(&["auth", "--role-name", "ci"])
                .env("BASH_ENV", "/dev/null")
                .run(),
        ),
        (
            "auth with token",
            keyed(&["auth", "--role-name", "ci"])
                .env("CIRCLE_OIDC_TOKEN_V2", &token)
                .env("BASH_ENV", "/dev/null")
                .run(),
        ),
        (
            "auth expired token",
            keyed(&["auth", "--role-name", "ci"])
                .env("CIRCLE_OIDC_TOKEN_V2", &expired)
                .env("BASH_ENV", "/dev/null")
                .run(),
        ),
        (
            "auth bad role",
            keyed(&["auth", "--role-arn", "x"])
                .env("CIRCLE_OIDC_TOKEN_V2", &token)
                .run(),
        ),
        (
            "invalid repo",
            keyed(&["ecr", "ensure-repo", "--repo", "X"]).run(),
        ),
    ];
    for (what, out) in &runs {
        assert_clean(what, out, &[pw, &token]);
    }
    // The successful ones did succeed (a canary test of failures only would prove little).
    for (what, out) in &runs[..7] {
        assert_eq!(out.code, 0, "{what}: {}", out.all());
    }

    // STS's temporary credentials: in $BASH_ENV (the file meant for them), not in output,
    // also when STS first refuses and then answers.
    let sts = Scripted::start(vec![
        (400, sts_error("IDPCommunicationError", "try again")),
        (200, sts_assumed(STS_SECRET, STS_SESSION)),
        (403, sts_error("AccessDenied", "Not authorized")),
    ]);
    let run = stevedore(&[
        "auth",
        "--role-arn",
        &format!("arn:aws:iam::{ACCOUNT}:role/ci"),
    ])
    .env("AWS_ENDPOINT_URL", &sts.url)
    .env("AWS_DEFAULT_REGION", REGION)
    .env("CIRCLE_OIDC_TOKEN_V2", &token);
    let home = run.home();
    let bash_env = home.path().join("bash_env");
    let ok = run
        .env("BASH_ENV", bash_env.display().to_string())
        .run()
        .success();
    assert_clean("auth via scripted STS", &ok, &[&token]);
    let exported = read_exports(&bash_env);
    assert_eq!(exported["AWS_SECRET_ACCESS_KEY"], STS_SECRET);
    assert_eq!(exported["AWS_SESSION_TOKEN"], STS_SESSION);
    let refused = stevedore(&[
        "auth",
        "--role-arn",
        &format!("arn:aws:iam::{ACCOUNT}:role/ci"),
    ])
    .env("AWS_ENDPOINT_URL", &sts.url)
    .env("AWS_DEFAULT_REGION", REGION)
    .env("CIRCLE_OIDC_TOKEN_V2", &token)
    .env("BASH_ENV", "/dev/null")
    .run();
    assert_eq!(refused.code, 1);
    assert_clean("refused auth", &refused, &[&token]);
}
