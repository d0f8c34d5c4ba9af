//! The orb's steps, one call each: `stevedore orb <step>` reads the step's parameters as CircleCI
//! hands them over (STEVEDORE_* variables, booleans as `1`/`0`, `${NAME}` references), and turns
//! them into the variables the commands read and the commands to run. [`plan`] is pure: it takes
//! the environment as a lookup and returns a [`StepPlan`]; `dispatch` carries it out.

use crate::error::usage;
use crate::handoff;
use anyhow::Result;
use std::path::Path;

/// The orb steps whose logic lives here (`install` fetches this binary, so it stays a script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Step {
    /// `auth`: access keys kept under other names are passed on, then `stevedore auth`.
    Auth,
    /// `build_and_push`: `${NAME}` in tags and build args, the repository ensured when asked,
    /// docker (or buildx for several platforms) builds, `stevedore push` pushes.
    BuildAndPush,
    /// `deploy_service`: required parameters, the pushed image as the default, and a named
    /// container's image as CONTAINER=IMAGE.
    DeployService,
    /// `run_task`: required parameters, and the pushed image when `pushed_image` is set.
    RunTask,
}

/// One thing a step runs, in order; the first failure ends the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A stevedore command (arguments after `stevedore`), run in this process.
    Stevedore(Vec<String>),
    /// Another program (docker), with the step's output.
    Program(String, Vec<String>),
}

/// What a step does: variables to set (an empty value unsets), `export` lines for `$BASH_ENV`,
/// and the actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepPlan {
    pub set: Vec<(String, String)>,
    pub bash_env: Vec<(String, String)>,
    pub actions: Vec<Action>,
}

/// Expand `${NAME}` references from `env` (unset names expand to nothing); nothing else in the
/// value is interpreted, so `$(cmd)` or backquotes stay text.
pub fn expand_vars(value: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}');
        let name = end.map(|e| &after[..e]).filter(|n| is_var_name(n));
        match (name, end) {
            (Some(name), Some(e)) => {
                out.push_str(&rest[..start]);
                out.push_str(&env(name).unwrap_or_default());
                rest = &after[e + 1..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A shell variable name: letters, digits and '_', not starting with a digit.
fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A boolean parameter as CircleCI passes it (`1`/`0`) or as a person writes it.
pub fn is_true(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("true" | "1" | "yes"))
}

/// The plan of `step` in the environment `env`; `work` is a scratch directory for the step.
pub fn plan(step: Step, env: &dyn Fn(&str) -> Option<String>, work: &Path) -> Result<StepPlan> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    match step {
        Step::Auth => auth(&get),
        Step::BuildAndPush => build_and_push(&get, env, work),
        Step::DeployService => deploy_service(&get, env),
        Step::RunTask => run_task(&get),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn auth(get: &dyn Fn(&str) -> Option<String>) -> Result<StepPlan> {
    let id_var = get("STEVEDORE_ACCESS_KEY_ID_VAR").unwrap_or("AWS_ACCESS_KEY_ID".into());
    let secret_var =
        get("STEVEDORE_SECRET_ACCESS_KEY_VAR").unwrap_or("AWS_SECRET_ACCESS_KEY".into());
    for name in [&id_var, &secret_var] {
        if !is_var_name(name) {
            return Err(usage!("auth: access_key_id_var and secret_access_key_var must be variable names (letters, digits and '_', not starting with a digit); got '{name}'"));
        }
    }
    let mut plan = StepPlan {
        set: vec![
            ("STEVEDORE_ACCESS_KEY_ID_VAR".into(), String::new()),
            ("STEVEDORE_SECRET_ACCESS_KEY_VAR".into(), String::new()),
        ],
        ..StepPlan::default()
    };
    let token = get("CIRCLE_OIDC_TOKEN_V2").or_else(|| get("CIRCLE_OIDC_TOKEN"));
    if token.is_none() && id_var != "AWS_ACCESS_KEY_ID" {
        let (Some(id), Some(secret)) = (get(&id_var), get(&secret_var)) else {
            return Err(usage!("auth: no OIDC token, and {id_var} or {secret_var} is empty: enable OIDC for the project or set both variables"));
        };
        for (k, v) in [("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)] {
            plan.set.push((k.into(), v.clone()));
            plan.bash_env.push((k.into(), v));
        }
    }
    plan.actions.push(Action::Stevedore(strings(&["auth"])));
    Ok(plan)
}

fn build_and_push(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    work: &Path,
) -> Result<StepPlan> {
    let Some(repo) = get("STEVEDORE_REPO") else {
        return Err(usage!(
            "build_and_push: the repo parameter is empty: set it to the repository name, e.g. team/app"
        ));
    };
    let tags = expand_vars(&get("STEVEDORE_TAGS").unwrap_or_default(), env);
    let tags = Some(tags)
        .filter(|t| !t.is_empty())
        .or_else(|| get("CIRCLE_SHA1"))
        .unwrap_or_else(|| "latest".into());
    let mut build_args = Vec::new();
    for line in get("STEVEDORE_BUILD_ARGS").unwrap_or_default().lines() {
        if !line.is_empty() {
            build_args.extend(["--build-arg".to_string(), expand_vars(line, env)]);
        }
    }
    let mut plan = StepPlan {
        // The tags go to push as one flag; the variable would be read (and split) again.
        set: vec![("STEVEDORE_TAGS".into(), String::new())],
        ..StepPlan::default()
    };
    if is_true(get("STEVEDORE_CREATE_REPO").as_deref()) {
        plan.actions
            .push(Action::Stevedore(strings(&["ecr", "ensure-repo"])));
    }
    let dockerfile = get("STEVEDORE_DOCKERFILE").unwrap_or_else(|| "Dockerfile".into());
    let context = get("STEVEDORE_BUILD_PATH").unwrap_or_else(|| ".".into());
    let platform = get("STEVEDORE_PLATFORM");
    let platform_flag: Vec<String> = platform
        .iter()
        .flat_map(|p| ["--platform".to_string(), p.clone()])
        .collect();
    let multi = platform.as_deref().is_some_and(|p| p.contains(','));
    let (build, push) = if multi || is_true(get("STEVEDORE_BUILDX").as_deref()) {
        let archive = work.join("image.tar").display().to_string();
        let mut args = strings(&["buildx", "build"]);
        args.extend(platform_flag);
        args.extend(["-f".into(), dockerfile]);
        args.extend(build_args);
        args.extend([
            "--output".into(),
            format!("type=oci,dest={archive}"),
            context,
        ]);
        (
            args,
            ["push", "--archive", &archive, "--tag", &tags].map(String::from),
        )
    } else {
        let name: String = repo
            .chars()
            .map(|c| {
                if c == '/' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let build_num = get("CIRCLE_BUILD_NUM").unwrap_or_else(|| "local".into());
        let local = format!("stevedore-build-{name}:{build_num}");
        let mut args = strings(&["build"]);
        args.extend(platform_flag);
        args.extend(["-f".into(), dockerfile]);
        args.extend(build_args);
        args.extend(["-t".into(), local.clone(), context]);
        (
            args,
            ["push", "--docker-image", &local, "--tag", &tags].map(String::from),
        )
    };
    plan.actions.push(Action::Program("docker".into(), build));
    plan.actions.push(Action::Stevedore(push.to_vec()));
    Ok(plan)
}

fn deploy_service(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StepPlan> {
    for (var, what) in [
        ("STEVEDORE_CLUSTER", "cluster"),
        ("STEVEDORE_SERVICES", "service"),
    ] {
        if get(var).is_none() {
            return Err(usage!(
                "deploy_service: the {what} parameter is empty: set it to the ECS {what} name"
            ));
        }
    }
    let mut image = expand_vars(&get("STEVEDORE_IMAGE").unwrap_or_default(), env);
    let mut pairs = expand_vars(&get("STEVEDORE_CONTAINER_IMAGES").unwrap_or_default(), env);
    if image.is_empty() && pairs.is_empty() {
        image = get(handoff::IMAGE_URI).ok_or_else(|| {
            usage!("deploy_service: no image: set the image parameter, or push one earlier in this job (build_and_push exports {})", handoff::IMAGE_URI)
        })?;
    }
    if let Some(container) = get("STEVEDORE_DEPLOY_CONTAINER").filter(|_| !image.is_empty()) {
        pairs = format!("{container}={image}");
        image.clear();
    }
    Ok(StepPlan {
        set: vec![
            ("STEVEDORE_IMAGE".into(), image),
            ("STEVEDORE_CONTAINER_IMAGES".into(), pairs),
            ("STEVEDORE_DEPLOY_CONTAINER".into(), String::new()),
        ],
        bash_env: vec![],
        actions: vec![Action::Stevedore(strings(&["deploy"]))],
    })
}

fn run_task(get: &dyn Fn(&str) -> Option<String>) -> Result<StepPlan> {
    if get("STEVEDORE_CLUSTER").is_none() || get("STEVEDORE_TASK_DEFINITION").is_none() {
        return Err(usage!(
            "run_task: the cluster and task_definition parameters must not be empty"
        ));
    }
    let mut set = vec![("STEVEDORE_RUN_PUSHED_IMAGE".into(), String::new())];
    if is_true(get("STEVEDORE_RUN_PUSHED_IMAGE").as_deref()) {
        let uri = get(handoff::IMAGE_URI).ok_or_else(|| {
            usage!(
                "run_task: pushed_image is set but nothing was pushed earlier in this job (no {})",
                handoff::IMAGE_URI
            )
        })?;
        set.push(("STEVEDORE_IMAGE".into(), uri));
    }
    Ok(StepPlan {
        set,
        bash_env: vec![],
        actions: vec![Action::Stevedore(strings(&["run-task"]))],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn plan_in(step: Step, pairs: &[(&str, &str)]) -> Result<StepPlan> {
        let vars = env(pairs);
        plan(step, &|k| vars.get(k).cloned(), Path::new("/work"))
    }

    fn err(step: Step, pairs: &[(&str, &str)]) -> String {
        let e = plan_in(step, pairs).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), crate::error::EXIT_USAGE);
        e.to_string()
    }

    fn program(p: &StepPlan) -> Vec<String> {
        p.actions
            .iter()
            .find_map(|a| match a {
                Action::Program(_, args) => Some(args.clone()),
                _ => None,
            })
            .unwrap()
    }

    fn set<'a>(p: &'a StepPlan, name: &str) -> &'a str {
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
    fn build_and_push_expands_tags_and_build_args_as_single_arguments() {
        assert!(err(Step::BuildAndPush, &[]).contains("the repo parameter is empty"));
        let p = plan_in(
            Step::BuildAndPush,
            &[
                ("STEVEDORE_REPO", "Team/App"),
                ("CIRCLE_SHA1", "abc123"),
                ("CIRCLE_BUILD_NUM", "7"),
                ("STEVEDORE_TAGS", "${CIRCLE_SHA1},$(touch pwned)"),
                (
                    "STEVEDORE_BUILD_ARGS",
                    "GREETING=hello \"quoted\" world\nREV=${CIRCLE_SHA1}\n\nNAME_ONLY",
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            program(&p),
            strings(&[
                "build",
                "-f",
                "Dockerfile",
                "--build-arg",
                "GREETING=hello \"quoted\" world",
                "--build-arg",
                "REV=abc123",
                "--build-arg",
                "NAME_ONLY",
                "-t",
                "stevedore-build-team-app:7",
                "."
            ])
        );
        assert_eq!(
            p.actions.last(),
            Some(&Action::Stevedore(strings(&[
                "push",
                "--docker-image",
                "stevedore-build-team-app:7",
                "--tag",
                "abc123,$(touch pwned)"
            ])))
        );
    }

    #[test]
    fn build_and_push_ensures_the_repo_when_asked_and_uses_buildx_for_several_platforms() {
        let base = [("STEVEDORE_REPO", "app")];
        let with = |extra: (&str, &str)| {
            let mut all = base.to_vec();
            all.push(extra);
            plan_in(Step::BuildAndPush, &all).unwrap()
        };
        let ensure = Action::Stevedore(strings(&["ecr", "ensure-repo"]));
        assert_eq!(with(("STEVEDORE_CREATE_REPO", "1")).actions[0], ensure);
        assert!(!with(("STEVEDORE_CREATE_REPO", "0"))
            .actions
            .contains(&ensure));
        let multi = with(("STEVEDORE_PLATFORM", "linux/amd64,linux/arm64"));
        let args = program(&multi);
        assert_eq!(
            args[..4],
            strings(&["buildx", "build", "--platform", "linux/amd64,linux/arm64"])
        );
        assert!(args.contains(&"type=oci,dest=/work/image.tar".to_string()));
        match multi.actions.last() {
            Some(Action::Stevedore(a)) => {
                assert_eq!(a[..3], strings(&["push", "--archive", "/work/image.tar"]))
            }
            other => panic!("{other:?}"),
        }
        // Without tags, the commit; without a commit, latest.
        assert!(
            matches!(with(("X", "")).actions.last(), Some(Action::Stevedore(a)) if a.last().unwrap() == "latest")
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
        // With a token, the keys are not needed.
        let p = plan_in(
            Step::Auth,
            &[names[0], names[1], ("CIRCLE_OIDC_TOKEN_V2", "t")],
        )
        .unwrap();
        assert!(p.bash_env.is_empty());
        let bad = err(
            Step::Auth,
            &[
                ("STEVEDORE_ACCESS_KEY_ID_VAR", "a[$(touch pwned)]"),
                ("MY_SECRET", "x"),
            ],
        );
        assert!(bad.contains("must be variable names"), "{bad}");
    }
}
