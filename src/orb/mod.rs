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

/// What the machine a step runs on can build: its architecture (as image platforms name it)
/// and whether `docker buildx` is there. Found by [`Machine::detect`]; a value, so plans stay pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub arch: &'static str,
    pub buildx: bool,
}

impl Machine {
    /// This machine; `docker buildx version` is run only for steps that build.
    pub fn detect(step: Step) -> Machine {
        let buildx = step == Step::BuildAndPush
            && std::process::Command::new("docker")
                .args(["buildx", "version"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        Machine {
            arch: host_arch(),
            buildx,
        }
    }
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

/// This machine's architecture as image platforms name it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
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

fn build_and_push(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    work: &Path,
    machine: &Machine,
) -> Result<StepPlan> {
    let Some(repo) = get("STEVEDORE_REPO") else {
        return Err(usage!(
            "build_and_push: the repo parameter is empty: set it to the repository name, e.g. team/app"
        ));
    };
    let tags = expanded_tags(get, env);
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
    plan.actions.extend(before_build(get, &repo, &tags)?);
    // The incumbent's push_image: true unless set false.
    let push_image = get("STEVEDORE_PUSH_IMAGE").is_none_or(|v| is_true(Some(&v)));
    let dockerfile = get("STEVEDORE_DOCKERFILE").unwrap_or_else(|| "Dockerfile".into());
    let context = get("STEVEDORE_BUILD_PATH").unwrap_or_else(|| ".".into());
    not_an_option(&[("path", &context), ("dockerfile", &dockerfile)])?;
    let platform = get("STEVEDORE_PLATFORM");
    let platform_flag: Vec<String> = platform
        .iter()
        .flat_map(|p| ["--platform".to_string(), p.clone()])
        .collect();
    let multi = platform.as_deref().is_some_and(|p| p.contains(','));
    let foreign = !foreign_archs(platform.as_deref(), machine.arch).is_empty();
    let asked = multi || is_true(get("STEVEDORE_BUILDX").as_deref());
    if asked && !machine.buildx {
        return Err(usage!("build_and_push: several platforms (or buildx: true) need docker buildx, and `docker buildx version` fails on this machine: use an executor with the buildx plugin (the orb's machine executor has it), or build each platform natively and join them with publish_index"));
    }
    // One foreign platform goes through buildx (QEMU and a builder) where the machine has it.
    let buildx = asked || (foreign && machine.buildx);
    if foreign && !buildx {
        plan.actions.push(Action::Say(format!(
            "{} is not this {} machine's platform and docker buildx is missing: building with Docker's classic builder, without its cache (which would hand back {} steps); RUN steps need QEMU registered, and the push checks the image's platform",
            platform.as_deref().unwrap_or_default(),
            machine.arch,
            machine.arch
        )));
    }
    let mut after = Vec::new();
    extras_need_push(get, push_image)?;
    if buildx && !push_image {
        return Err(usage!("build_and_push: push_image is false, which keeps the image in the local Docker engine, and a buildx build of several platforms cannot be kept there: build one platform without buildx, or push"));
    }
    // The build, and where `stevedore push` reads its image from.
    let (build, source_flag, source) = if buildx {
        let builder = format!(
            "stevedore-{}",
            get("CIRCLE_BUILD_NUM").unwrap_or_else(|| "local".into())
        );
        let (before, rm) = buildx_builder(get, platform.as_deref(), machine.arch, &builder);
        plan.actions.extend(before);
        after.push(rm);
        let archive = work.join("image.tar").display().to_string();
        let mut args = strings(&["buildx", "build", "--builder", &builder]);
        args.extend(platform_flag);
        args.extend(["-f".into(), dockerfile]);
        args.extend(build_args);
        args.extend([
            "--output".into(),
            format!("type=oci,dest={archive}"),
            context,
        ]);
        (args, "--archive", archive)
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
        if foreign && get("STEVEDORE_BUILD_CACHE").is_none_or(|v| !is_true(Some(&v))) {
            args.push("--no-cache".into());
        }
        args.extend(platform_flag.clone());
        args.extend(["-f".into(), dockerfile]);
        args.extend(build_args);
        args.extend(["-t".into(), local.clone(), context]);
        (args, "--docker-image", local)
    };
    let cache_tag = cache_tag(get)?;
    let mut push_tags = tags.clone();
    match &cache_tag {
        None => plan.actions.push(Action::Program("docker".into(), build)),
        Some(tag) => {
            if !push_image {
                return Err(usage!("build_and_push: build_cache keeps the cache in the repository, and push_image is false: push, or drop build_cache"));
            }
            // The classic builder's cache is the image itself: pushed under the cache tag too.
            if !buildx {
                push_tags = format!("{tags},{tag}");
            }
            plan.actions.push(Action::CachedBuild {
                repo: repo.clone(),
                public: is_true(get("STEVEDORE_PUBLIC").as_deref()),
                tag: tag.clone(),
                buildx,
                args: build,
            });
        }
    }
    plan.actions.extend(after);
    if push_image {
        let mut push = strings(&["push", source_flag, &source]);
        if let Some(p) = &platform {
            // What was asked for is what is pushed, or nothing is.
            push.extend(["--platform".into(), p.clone()]);
        }
        push.extend(["--tag".into(), push_tags]);
        plan.actions.push(Action::Stevedore(push));
    } else {
        // Built only: the image stays in the engine under its build name, for later steps.
        plan.bash_env.push((handoff::BUILT_IMAGE.into(), source));
    }
    Ok(plan)
}

/// `build_cache`'s tag (`cache_tag`, default `buildcache`), when the build keeps its cache.
fn cache_tag(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>> {
    if !is_true(get("STEVEDORE_BUILD_CACHE").as_deref()) {
        return Ok(None);
    }
    let t = get("STEVEDORE_CACHE_TAG").unwrap_or_else(|| "buildcache".into());
    // One tag: a comma would add tags to the push, anything else is not a tag.
    crate::validate::image_tag(&t).map_err(|e| usage!("build_and_push: cache_tag '{t}': {e}"))?;
    Ok(Some(t))
}

/// Parameters that reach docker as arguments: a leading '-' would be read as an option (`-`
/// alone as "the context from standard input").
fn not_an_option(values: &[(&str, &str)]) -> Result<()> {
    match values.iter().find(|(_, v)| v.starts_with('-')) {
        Some((param, value)) => Err(usage!("build_and_push: {param} '{value}' starts with '-', which docker would read as an option; write ./{value} for a file of that name")),
        None => Ok(()),
    }
}

/// Signatures and attestations are stored beside the pushed image: not without a push.
fn extras_need_push(get: &dyn Fn(&str) -> Option<String>, push_image: bool) -> Result<()> {
    let extras = ["STEVEDORE_SIGN", "STEVEDORE_SBOM"]
        .iter()
        .any(|v| get(v).is_some())
        || is_true(get("STEVEDORE_PROVENANCE").as_deref());
    if extras && !push_image {
        return Err(usage!("build_and_push: sign, sbom and provenance are stored beside the pushed image, and push_image is false: push, or drop them"));
    }
    Ok(())
}

/// What comes before the build: the repository ensured, the check that skips everything when
/// every tag exists, and a registry login for base images.
fn before_build(
    get: &dyn Fn(&str) -> Option<String>,
    repo: &str,
    tags: &str,
) -> Result<Vec<Action>> {
    let mut actions = Vec::new();
    if is_true(get("STEVEDORE_CREATE_REPO").as_deref()) {
        actions.push(Action::Stevedore(strings(&["ecr", "ensure-repo"])));
    }
    if is_true(get("STEVEDORE_SKIP_BUILD_IF_TAGS_EXIST").as_deref()) {
        actions.push(Action::SkipIfTagsExist {
            repo: repo.to_string(),
            tags: tags
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            public: is_true(get("STEVEDORE_PUBLIC").as_deref()),
        });
    }
    if let Some(host) = get("STEVEDORE_REGISTRY_LOGIN") {
        actions.push(registry_login(get, &host)?);
    }
    Ok(actions)
}

/// The `docker login` before the build (base images from Docker Hub or another registry),
/// with the user and password in the variables the parameters name.
fn registry_login(get: &dyn Fn(&str) -> Option<String>, host: &str) -> Result<Action> {
    let username_var = get("STEVEDORE_REGISTRY_USERNAME_VAR").unwrap_or("DOCKER_LOGIN".into());
    let password_var = get("STEVEDORE_REGISTRY_PASSWORD_VAR").unwrap_or("DOCKER_PASSWORD".into());
    if let Some(name) = [&username_var, &password_var]
        .into_iter()
        .find(|n| !is_var_name(n))
    {
        return Err(usage!("build_and_push: registry_username_var and registry_password_var must be variable names (letters, digits and '_', not starting with a digit); got '{name}'"));
    }
    for name in [&username_var, &password_var] {
        if get(name).is_none() {
            return Err(usage!("build_and_push: registry_login is {host} but {name} is empty: set it in a context or the project's environment variables"));
        }
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(usage!("build_and_push: registry_login '{host}' is not a registry host (docker.io, ghcr.io, registry.example.com:5000)"));
    }
    Ok(Action::DockerLogin {
        host: host.to_string(),
        username_var,
        password_var,
    })
}

/// The architectures of `platform` (comma-separated) other than the machine's.
fn foreign_archs<'a>(platform: Option<&'a str>, host: &str) -> Vec<&'a str> {
    platform
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.trim().split('/').nth(1))
        .filter(|arch| *arch != host)
        .collect()
}

/// Docker's default builder writes neither multi-platform images nor OCI archives: a BuildKit
/// container builder does, and foreign architectures need QEMU registered (binfmt) for the
/// Dockerfile's RUN steps, as the aws-ecr orb sets them up. The actions that set it up, and the
/// one that removes the builder after the build.
fn buildx_builder(
    get: &dyn Fn(&str) -> Option<String>,
    platform: Option<&str>,
    host: &str,
    builder: &str,
) -> (Vec<Action>, Action) {
    let mut before = Vec::new();
    let foreign = foreign_archs(platform, host);
    if !foreign.is_empty() {
        let binfmt =
            get("STEVEDORE_BINFMT_IMAGE").unwrap_or_else(|| "tonistiigi/binfmt:latest".into());
        let mut args = strings(&["run", "--privileged", "--rm", &binfmt, "--install"]);
        args.push(foreign.join(","));
        before.push(Action::Program("docker".into(), args));
    }
    let buildkit =
        get("STEVEDORE_BUILDKIT_IMAGE").unwrap_or_else(|| "moby/buildkit:buildx-stable-1".into());
    before.push(Action::Program(
        "docker".into(),
        strings(&[
            "buildx",
            "create",
            "--name",
            builder,
            "--driver",
            "docker-container",
            "--driver-opt",
            &format!("image={buildkit}"),
            "--bootstrap",
        ]),
    ));
    let rm = Action::Program("docker".into(), strings(&["buildx", "rm", builder]));
    (before, rm)
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
mod tests;
