//! The orb's steps, one call each: `stevedore orb <step>` reads the step's parameters as CircleCI
//! hands them over (STEVEDORE_* variables, booleans as `1`/`0`, `${NAME}` references), and turns
//! them into the variables the commands read and the commands to run. [`plan`] is pure: it takes
//! the environment as a lookup and returns a [`StepPlan`]; `dispatch` carries it out.

use crate::error::usage;
use crate::handoff;
use anyhow::Result;
use std::path::Path;

mod build;
use build::build_and_push;
pub use build::Machine;

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
    /// `publish_index`: `${NAME}` in tags and manifests, then `stevedore index`.
    PublishIndex,
    /// `deploy_scheduled_task`: required parameters, `${NAME}` in the image (or the pushed
    /// one), then `stevedore schedule`.
    DeployScheduledTask,
    /// `tag_image`: `${NAME}` in the tags, then `stevedore ecr tag`.
    TagImage,
}

/// One thing a step runs, in order; the first failure ends the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A stevedore command (arguments after `stevedore`), run in this process.
    Stevedore(Vec<String>),
    /// Another program (docker), with the step's output.
    Program(String, Vec<String>),
    /// A line for the step's output.
    Say(String),
    /// End the step here, successfully, when every tag already exists in the repository.
    SkipIfTagsExist {
        repo: String,
        tags: Vec<String>,
        public: bool,
    },
    /// `docker` with `args` (a build ending with its context) and a build cache in the
    /// repository under `tag`: docker is logged in to the registry, and the cache flags are
    /// added (the classic builder's cache image is pulled first, if there is one).
    CachedBuild {
        repo: String,
        public: bool,
        tag: String,
        buildx: bool,
        args: Vec<String>,
    },
    /// `docker login HOST` with the user and password read from the named variables (the
    /// password on standard input, never on a command line).
    DockerLogin {
        host: String,
        username_var: String,
        password_var: String,
    },
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

/// The plan of `step` in the environment `env` on `machine`; `work` is a scratch directory.
pub fn plan(
    step: Step,
    env: &dyn Fn(&str) -> Option<String>,
    work: &Path,
    machine: &Machine,
) -> Result<StepPlan> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    match step {
        Step::Auth => auth(&get),
        Step::BuildAndPush => build_and_push(&get, env, work, machine),
        Step::DeployService => deploy_service(&get, env),
        Step::RunTask => run_task(&get),
        Step::PublishIndex => publish_index(&get, env),
        Step::DeployScheduledTask => deploy_scheduled_task(&get, env),
        Step::TagImage => tag_image(&get, env),
    }
}

/// Tags from `STEVEDORE_TAGS` with `${NAME}` expanded; the commit, else `latest`, when empty.
fn expanded_tags(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    Some(expand_vars(&get("STEVEDORE_TAGS").unwrap_or_default(), env))
        .filter(|t| !t.is_empty())
        .or_else(|| get("CIRCLE_SHA1"))
        .unwrap_or_else(|| "latest".into())
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
    let mode = get("STEVEDORE_CREDENTIALS").unwrap_or_else(|| "auto".into());
    let role_named = ["STEVEDORE_ROLE_ARN", "STEVEDORE_ROLE_NAME", "AWS_ROLE_ARN"]
        .iter()
        .any(|v| get(v).is_some());
    // The keys are handed on when `stevedore auth` may use them (see auth::choice): asked for,
    // or under auto without a token or without a role (a context brings a token to every job).
    let may_use_keys = match mode.as_str() {
        "keys" => true,
        "oidc" => false,
        _ => token.is_none() || !role_named,
    };
    if may_use_keys && id_var != "AWS_ACCESS_KEY_ID" {
        match (get(&id_var), get(&secret_var)) {
            (Some(id), Some(secret)) => {
                for (k, v) in [("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)] {
                    plan.set.push((k.into(), v.clone()));
                    plan.bash_env.push((k.into(), v));
                }
            }
            _ if mode == "keys" => {
                return Err(usage!("auth: credentials is keys, and {id_var} or {secret_var} is empty: set both variables in the project or the context"));
            }
            _ if token.is_none() => {
                return Err(usage!("auth: no OIDC token, and {id_var} or {secret_var} is empty: enable OIDC for the project or set both variables"));
            }
            _ => {}
        }
    }
    plan.actions.push(Action::Stevedore(strings(&["auth"])));
    Ok(plan)
}

fn publish_index(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StepPlan> {
    if get("STEVEDORE_REPO").is_none() {
        return Err(usage!(
            "publish_index: the repo parameter is empty: set it to the repository the per-architecture images are in"
        ));
    }
    let manifests = expand_vars(&get("STEVEDORE_INDEX_MANIFESTS").unwrap_or_default(), env);
    if manifests.trim().is_empty() {
        return Err(usage!(
            "publish_index: the manifests parameter is empty: name the per-architecture tags, e.g. ${{CIRCLE_SHA1}}-amd64,${{CIRCLE_SHA1}}-arm64"
        ));
    }
    let tags = expanded_tags(get, env);
    Ok(StepPlan {
        // Passed as flags; the variables would be read (and split) again.
        set: vec![
            ("STEVEDORE_TAGS".into(), String::new()),
            ("STEVEDORE_INDEX_MANIFESTS".into(), String::new()),
        ],
        bash_env: vec![],
        actions: vec![Action::Stevedore(
            ["index", "--tag", &tags, "--manifest", &manifests]
                .map(String::from)
                .to_vec(),
        )],
    })
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
        // A task_definition with no image deploys that revision as it is (the aws-ecs orb's
        // skip_task_definition_registration).
        match get(handoff::IMAGE_URI) {
            Some(uri) => image = uri,
            None if get("STEVEDORE_TASK_DEFINITION").is_some() => {}
            None => return Err(usage!("deploy_service: no image: set the image parameter, or push one earlier in this job (build_and_push exports {}), or name a task_definition to deploy as it is", handoff::IMAGE_URI)),
        }
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

fn deploy_scheduled_task(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StepPlan> {
    if get("STEVEDORE_TASK_DEFINITION").is_none() {
        return Err(usage!("deploy_scheduled_task: the task_definition parameter is empty: set it to the scheduled task's family"));
    }
    if get("STEVEDORE_SCHEDULES").is_none() && get("STEVEDORE_RULES").is_none() {
        return Err(usage!("deploy_scheduled_task: set schedule (EventBridge Scheduler) or rule (an EventBridge rule), or both"));
    }
    let mut image = expand_vars(&get("STEVEDORE_IMAGE").unwrap_or_default(), env);
    if is_true(get("STEVEDORE_SCHEDULE_PUSHED_IMAGE").as_deref()) {
        image = get(handoff::IMAGE_URI).ok_or_else(|| {
            usage!(
                "deploy_scheduled_task: pushed_image is set but nothing was pushed earlier in this job (no {})",
                handoff::IMAGE_URI
            )
        })?;
    }
    Ok(StepPlan {
        set: vec![
            ("STEVEDORE_IMAGE".into(), image),
            ("STEVEDORE_SCHEDULE_PUSHED_IMAGE".into(), String::new()),
        ],
        bash_env: vec![],
        actions: vec![Action::Stevedore(strings(&["schedule"]))],
    })
}

fn tag_image(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StepPlan> {
    let source = expand_vars(&get("STEVEDORE_SOURCE_TAG").unwrap_or_default(), env);
    let targets = expand_vars(&get("STEVEDORE_TAGS").unwrap_or_default(), env);
    if get("STEVEDORE_REPO").is_none() || source.is_empty() || targets.is_empty() {
        return Err(usage!(
            "tag_image: repo, source_tag and target_tag must not be empty"
        ));
    }
    Ok(StepPlan {
        set: vec![
            ("STEVEDORE_SOURCE_TAG".into(), source),
            ("STEVEDORE_TAGS".into(), targets),
        ],
        bash_env: vec![],
        actions: vec![Action::Stevedore(strings(&["ecr", "tag"]))],
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
mod build_tests;
#[cfg(test)]
mod tests;
