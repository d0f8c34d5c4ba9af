//! The orb steps' plans, tested without running anything.

use super::*;
use std::collections::HashMap;

pub(super) fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A machine with buildx, as the orb's executors are.
pub(super) const AMD64: Machine = Machine {
    arch: "amd64",
    buildx: true,
};

pub(super) fn plan_in(step: Step, pairs: &[(&str, &str)]) -> Result<StepPlan> {
    let vars = env(pairs);
    plan(step, &|k| vars.get(k).cloned(), Path::new("/work"), &AMD64)
}

pub(super) fn err(step: Step, pairs: &[(&str, &str)]) -> String {
    let e = plan_in(step, pairs).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), crate::error::EXIT_USAGE);
    e.to_string()
}

pub(super) fn program(p: &StepPlan) -> Vec<String> {
    programs(p).remove(0)
}

/// The arguments of each program a plan runs, in order.
pub(super) fn programs(p: &StepPlan) -> Vec<Vec<String>> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::Program(_, args) => Some(args.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn set<'a>(p: &'a StepPlan, name: &str) -> &'a str {
    p.set.iter().find(|(k, _)| k == name).unwrap().1.as_str()
}

#[test]
fn only_brace_references_expand() {
    let vars = env(&[("CIRCLE_SHA1", "abc123")]);
    let get = |k: &str| vars.get(k).cloned();
    assert_eq!(
        expand_vars(
            "${CIRCLE_SHA1},$(touch pwned),`x`,$CIRCLE_SHA1,${UNSET}.",
            &get
        ),
        "abc123,$(touch pwned),`x`,$CIRCLE_SHA1,."
    );
    assert_eq!(expand_vars("${a[$(x)]}${", &get), "${a[$(x)]}${");
    assert!(is_true(Some("1")) && is_true(Some("true")) && !is_true(Some("0")));
}

#[test]
fn publish_index_expands_tags_and_manifests_and_needs_both_names() {
    let p = plan_in(
        Step::PublishIndex,
        &[
            ("STEVEDORE_REPO", "app"),
            (
                "STEVEDORE_INDEX_MANIFESTS",
                "${CIRCLE_SHA1}-amd64,${CIRCLE_SHA1}-arm64",
            ),
            ("STEVEDORE_TAGS", "${CIRCLE_SHA1},latest"),
            ("CIRCLE_SHA1", "abc"),
        ],
    )
    .unwrap();
    assert_eq!(
        p.actions,
        vec![Action::Stevedore(strings(&[
            "index",
            "--tag",
            "abc,latest",
            "--manifest",
            "abc-amd64,abc-arm64"
        ]))]
    );
    assert_eq!(set(&p, "STEVEDORE_INDEX_MANIFESTS"), "");
    assert!(err(Step::PublishIndex, &[("STEVEDORE_REPO", "app")])
        .contains("publish_index: the manifests parameter is empty"));
    assert!(
        err(Step::PublishIndex, &[("STEVEDORE_INDEX_MANIFESTS", "a")])
            .contains("publish_index: the repo parameter is empty")
    );
}

#[test]
fn deploy_service_needs_its_parameters_and_defaults_to_the_pushed_image() {
    let c = ("STEVEDORE_CLUSTER", "c1");
    let s = ("STEVEDORE_SERVICES", "web");
    assert!(err(Step::DeployService, &[s]).contains("the cluster parameter is empty"));
    assert!(err(Step::DeployService, &[c]).contains("the service parameter is empty"));
    assert!(err(Step::DeployService, &[c, s])
        .contains("no image: set the image parameter, or push one earlier in this job"));
    let uri = (handoff::IMAGE_URI, "reg/app@sha256:1");
    let p = plan_in(Step::DeployService, &[c, s, uri]).unwrap();
    assert_eq!(set(&p, "STEVEDORE_IMAGE"), "reg/app@sha256:1");
    let p = plan_in(
        Step::DeployService,
        &[
            c,
            s,
            ("STEVEDORE_IMAGE", "reg/app:${CIRCLE_SHA1}"),
            ("CIRCLE_SHA1", "abc123"),
        ],
    )
    .unwrap();
    assert_eq!(set(&p, "STEVEDORE_IMAGE"), "reg/app:abc123");
    let p = plan_in(
        Step::DeployService,
        &[c, s, uri, ("STEVEDORE_DEPLOY_CONTAINER", "app")],
    )
    .unwrap();
    assert_eq!(
        (
            set(&p, "STEVEDORE_IMAGE"),
            set(&p, "STEVEDORE_CONTAINER_IMAGES")
        ),
        ("", "app=reg/app@sha256:1")
    );
    assert_eq!(p.actions, vec![Action::Stevedore(strings(&["deploy"]))]);
    // A revision named and nothing pushed: deployed as it is, no image given.
    let p = plan_in(
        Step::DeployService,
        &[c, s, ("STEVEDORE_TASK_DEFINITION", "web:5")],
    )
    .unwrap();
    assert_eq!(
        (
            set(&p, "STEVEDORE_IMAGE"),
            set(&p, "STEVEDORE_CONTAINER_IMAGES")
        ),
        ("", "")
    );
}

#[test]
fn run_task_needs_its_parameters_and_runs_the_pushed_image_when_asked() {
    let c = ("STEVEDORE_CLUSTER", "c1");
    let t = ("STEVEDORE_TASK_DEFINITION", "migrate");
    assert!(err(Step::RunTask, &[c])
        .contains("the cluster and task_definition parameters must not be empty"));
    let uri = (handoff::IMAGE_URI, "reg/app@sha256:1");
    let p = plan_in(
        Step::RunTask,
        &[c, t, uri, ("STEVEDORE_RUN_PUSHED_IMAGE", "1")],
    )
    .unwrap();
    assert_eq!(set(&p, "STEVEDORE_IMAGE"), "reg/app@sha256:1");
    assert!(
        err(Step::RunTask, &[c, t, ("STEVEDORE_RUN_PUSHED_IMAGE", "1")])
            .contains("nothing was pushed earlier in this job")
    );
    let p = plan_in(
        Step::RunTask,
        &[c, t, uri, ("STEVEDORE_RUN_PUSHED_IMAGE", "0")],
    )
    .unwrap();
    assert!(!p.set.iter().any(|(k, _)| k == "STEVEDORE_IMAGE"));
}

#[test]
fn auth_passes_renamed_keys_on_and_refuses_names_that_are_not_names() {
    let names = [
        ("STEVEDORE_ACCESS_KEY_ID_VAR", "MY_KEY"),
        ("STEVEDORE_SECRET_ACCESS_KEY_VAR", "MY_SECRET"),
    ];
    assert!(err(Step::Auth, &names).contains("MY_KEY or MY_SECRET is empty"));
    let mut all = names.to_vec();
    all.extend([("MY_KEY", "AKIA123"), ("MY_SECRET", "s3cr/t+x")]);
    let p = plan_in(Step::Auth, &all).unwrap();
    assert_eq!(
        p.bash_env,
        vec![
            ("AWS_ACCESS_KEY_ID".into(), "AKIA123".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "s3cr/t+x".into())
        ]
    );
    assert_eq!(p.actions, vec![Action::Stevedore(strings(&["auth"]))]);
    // With a token and a role, auto does not use the keys; asked for, they are handed on.
    let role = ("STEVEDORE_ROLE_NAME", "ci");
    let token = ("CIRCLE_OIDC_TOKEN_V2", "t");
    let p = plan_in(Step::Auth, &[names[0], names[1], token, role]).unwrap();
    assert!(p.bash_env.is_empty());
    let mut keys = all.clone();
    keys.extend([token, role, ("STEVEDORE_CREDENTIALS", "keys")]);
    assert_eq!(plan_in(Step::Auth, &keys).unwrap().bash_env.len(), 2);
    // A token (a context's) and no role: auto hands the keys on, for `stevedore auth` to use.
    let mut context = all.clone();
    context.push(token);
    assert_eq!(plan_in(Step::Auth, &context).unwrap().bash_env.len(), 2);
    let e = err(
        Step::Auth,
        &[names[0], names[1], token, ("STEVEDORE_CREDENTIALS", "keys")],
    );
    assert!(
        e.contains("credentials is keys, and MY_KEY or MY_SECRET is empty"),
        "{e}"
    );
    let mut oidc = all.clone();
    oidc.extend([token, ("STEVEDORE_CREDENTIALS", "oidc")]);
    assert!(plan_in(Step::Auth, &oidc).unwrap().bash_env.is_empty());
    let bad = err(
        Step::Auth,
        &[
            ("STEVEDORE_ACCESS_KEY_ID_VAR", "a[$(touch pwned)]"),
            ("MY_SECRET", "x"),
        ],
    );
    assert!(bad.contains("must be variable names"), "{bad}");
}

#[test]
fn deploy_scheduled_task_needs_a_schedule_or_rule_and_takes_the_pushed_image() {
    let td = ("STEVEDORE_TASK_DEFINITION", "report");
    assert!(err(Step::DeployScheduledTask, &[td]).contains("set schedule"));
    assert!(err(Step::DeployScheduledTask, &[("STEVEDORE_RULES", "r")]).contains("task_definition"));
    let p = plan_in(
        Step::DeployScheduledTask,
        &[
            td,
            ("STEVEDORE_RULES", "r"),
            ("STEVEDORE_IMAGE", "repo:${CIRCLE_SHA1}"),
            ("CIRCLE_SHA1", "abc"),
        ],
    )
    .unwrap();
    assert_eq!(set(&p, "STEVEDORE_IMAGE"), "repo:abc");
    assert_eq!(p.actions, vec![Action::Stevedore(strings(&["schedule"]))]);
    let e = err(
        Step::DeployScheduledTask,
        &[
            td,
            ("STEVEDORE_SCHEDULES", "s"),
            ("STEVEDORE_SCHEDULE_PUSHED_IMAGE", "1"),
        ],
    );
    assert!(e.contains("nothing was pushed"), "{e}");
    let p = plan_in(
        Step::DeployScheduledTask,
        &[
            td,
            ("STEVEDORE_SCHEDULES", "s"),
            ("STEVEDORE_SCHEDULE_PUSHED_IMAGE", "1"),
            (handoff::IMAGE_URI, "r/x@sha256:1"),
        ],
    )
    .unwrap();
    assert_eq!(set(&p, "STEVEDORE_IMAGE"), "r/x@sha256:1");
}

#[test]
fn tag_image_expands_its_tags() {
    let p = plan_in(
        Step::TagImage,
        &[
            ("STEVEDORE_REPO", "app"),
            ("STEVEDORE_SOURCE_TAG", "${CIRCLE_SHA1}"),
            ("STEVEDORE_TAGS", "release-${CIRCLE_BUILD_NUM},stable"),
            ("CIRCLE_SHA1", "abc"),
            ("CIRCLE_BUILD_NUM", "9"),
        ],
    )
    .unwrap();
    assert_eq!(set(&p, "STEVEDORE_SOURCE_TAG"), "abc");
    assert_eq!(set(&p, "STEVEDORE_TAGS"), "release-9,stable");
    assert_eq!(p.actions, vec![Action::Stevedore(strings(&["ecr", "tag"]))]);
    assert!(err(
        Step::TagImage,
        &[("STEVEDORE_REPO", "app"), ("STEVEDORE_SOURCE_TAG", "v1")]
    )
    .contains("target_tag"));
}
