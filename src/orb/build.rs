//! The `build_and_push` step: the docker (or buildx) build as the machine can run it, and the
//! push of what it built, checked against the platform asked for.

use super::*;

/// What the machine a step runs on can build: its architecture (as image platforms name it)
/// and whether `docker buildx` is there. Found by [`Machine::detect`]; a value, so plans stay pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub arch: &'static str,
    pub buildx: bool,
}

impl Machine {
    /// This machine. `docker buildx version` is run only for a build that names a platform or
    /// buildx (`env` is the step's environment): the others never need to know.
    pub fn detect(step: Step, env: &dyn Fn(&str) -> Option<String>) -> Machine {
        let platform = env("STEVEDORE_PLATFORM").is_some_and(|v| !v.trim().is_empty());
        let buildx = step == Step::BuildAndPush
            && (platform || is_true(env("STEVEDORE_BUILDX").as_deref()))
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

/// This machine's architecture as image platforms name it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub(super) fn build_and_push(
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
    let build_args = build_args(get, env);
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
    let foreign = !foreign_archs(platform.as_deref(), machine.arch).is_empty();
    let (buildx, note) = use_buildx(get, platform.as_deref(), machine)?;
    plan.actions.extend(note);
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

/// `build_args`: one `--build-arg` per non-empty line, `${NAME}` expanded.
fn build_args(
    get: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    get("STEVEDORE_BUILD_ARGS")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .flat_map(|l| ["--build-arg".to_string(), expand_vars(l, env)])
        .collect()
}

/// Whether the build goes through buildx: several platforms or `buildx: true` (refused on a
/// machine without it), and one foreign platform where the machine has it. Without it a foreign
/// platform is built by the classic builder, with a line that says so.
fn use_buildx(
    get: &dyn Fn(&str) -> Option<String>,
    platform: Option<&str>,
    machine: &Machine,
) -> Result<(bool, Option<Action>)> {
    let multi = platform.is_some_and(|p| p.contains(','));
    let foreign = !foreign_archs(platform, machine.arch).is_empty();
    let asked = multi || is_true(get("STEVEDORE_BUILDX").as_deref());
    if asked && !machine.buildx {
        return Err(usage!("build_and_push: several platforms (or buildx: true) need docker buildx, and `docker buildx version` fails on this machine: use an executor with the buildx plugin (the orb's machine executor has it), or build each platform natively and join them with publish_index"));
    }
    let buildx = asked || (foreign && machine.buildx);
    let note = (foreign && !buildx).then(|| {
        Action::Say(format!(
            "{} is not this {} machine's platform and docker buildx is missing: building with Docker's classic builder, without its cache (which would hand back {} steps); RUN steps need QEMU registered, and the push checks the image's platform",
            platform.unwrap_or_default(),
            machine.arch,
            machine.arch
        ))
    });
    Ok((buildx, note))
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
