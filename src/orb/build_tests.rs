//! The `build_and_push` step's plans: builds as the machine can run them, and pushes checked
//! against the platform asked for; tested without running anything.

use super::build::build_and_push;
use super::tests::{env, err, plan_in, program, programs, AMD64};
use super::*;
use std::path::Path;

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
    let args = programs(&multi)
        .into_iter()
        .find(|a| a[..2] == strings(&["buildx", "build"]))
        .unwrap();
    assert_eq!(
        args[2..6],
        strings(&[
            "--builder",
            "stevedore-local",
            "--platform",
            "linux/amd64,linux/arm64"
        ])
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
fn several_platforms_get_qemu_for_the_foreign_ones_and_a_buildkit_builder_removed_after() {
    let vars = env(&[
        ("STEVEDORE_REPO", "app"),
        ("STEVEDORE_PLATFORM", "linux/amd64,linux/arm64"),
        ("STEVEDORE_BUILDKIT_IMAGE", "mirror.example/buildkit:v0.20"),
        ("CIRCLE_BUILD_NUM", "7"),
    ]);
    let get = |k: &str| vars.get(k).cloned().filter(|v| !v.is_empty());
    let on = |arch| {
        let m = Machine { arch, buildx: true };
        build_and_push(&get, &get, Path::new("/work"), &m).unwrap()
    };
    let amd = programs(&on("amd64"));
    assert_eq!(
        amd[0],
        strings(&[
            "run",
            "--privileged",
            "--rm",
            "tonistiigi/binfmt:latest",
            "--install",
            "arm64"
        ])
    );
    assert_eq!(
        amd[1],
        strings(&[
            "buildx",
            "create",
            "--name",
            "stevedore-7",
            "--driver",
            "docker-container",
            "--driver-opt",
            "image=mirror.example/buildkit:v0.20",
            "--bootstrap"
        ])
    );
    assert_eq!(
        amd[2][..4],
        strings(&["buildx", "build", "--builder", "stevedore-7"])
    );
    assert_eq!(amd[3], strings(&["buildx", "rm", "stevedore-7"]));
    // On an arm64 machine the foreign one is amd64; one native platform needs no QEMU.
    assert_eq!(programs(&on("arm64"))[0].last().unwrap(), "amd64");
    let one = env(&[
        ("STEVEDORE_REPO", "app"),
        ("STEVEDORE_PLATFORM", "linux/arm64"),
        ("STEVEDORE_BUILDX", "1"),
    ]);
    let get = |k: &str| one.get(k).cloned().filter(|v| !v.is_empty());
    let arm = Machine {
        arch: "arm64",
        buildx: true,
    };
    let native = programs(&build_and_push(&get, &get, Path::new("/w"), &arm).unwrap());
    assert_eq!(native[0][..2], strings(&["buildx", "create"]));
}

/// arm64 on amd64: with buildx, QEMU and a builder; without it, the classic builder without its
/// cache, said in the output; either way the push checks the platform asked for.
#[test]
fn a_foreign_platform_gets_buildx_where_there_is_one_and_the_push_checks_it() {
    let vars = env(&[
        ("STEVEDORE_REPO", "app"),
        ("STEVEDORE_PLATFORM", "linux/arm64"),
    ]);
    let get = |k: &str| vars.get(k).cloned().filter(|v| !v.is_empty());
    let on = |m: Machine| build_and_push(&get, &get, Path::new("/w"), &m);
    let with = on(AMD64).unwrap();
    let progs = programs(&with);
    assert_eq!(progs[0][..3], strings(&["run", "--privileged", "--rm"]));
    assert_eq!(progs[0].last().unwrap(), "arm64");
    assert_eq!(progs[1][..2], strings(&["buildx", "create"]));
    let push = |p: &StepPlan| match p.actions.last() {
        Some(Action::Stevedore(a)) => a.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        push(&with)[..5],
        strings(&[
            "push",
            "--archive",
            "/w/image.tar",
            "--platform",
            "linux/arm64"
        ])
    );
    let classic = on(Machine {
        arch: "amd64",
        buildx: false,
    })
    .unwrap();
    assert!(
        matches!(&classic.actions[0], Action::Say(l) if l.starts_with("linux/arm64 is not this amd64 machine's platform and docker buildx is missing"))
    );
    let progs = programs(&classic);
    assert_eq!(progs.len(), 1, "{progs:?}");
    assert_eq!(
        progs[0][..4],
        strings(&["build", "--no-cache", "--platform", "linux/arm64"])
    );
    assert_eq!(
        push(&classic)[3..5],
        strings(&["--platform", "linux/arm64"])
    );
    // The machine's own platform: the classic builder, with its cache, checked all the same.
    let native = on(Machine {
        arch: "arm64",
        buildx: false,
    })
    .unwrap();
    assert_eq!(
        programs(&native)[0][..3],
        strings(&["build", "--platform", "linux/arm64"])
    );
    // Several platforms cannot be built without buildx: refused before anything runs.
    let several = env(&[
        ("STEVEDORE_REPO", "app"),
        ("STEVEDORE_PLATFORM", "linux/amd64,linux/arm64"),
    ]);
    let get = |k: &str| several.get(k).cloned().filter(|v| !v.is_empty());
    let m = Machine {
        arch: "amd64",
        buildx: false,
    };
    let e = build_and_push(&get, &get, Path::new("/w"), &m)
        .unwrap_err()
        .to_string();
    assert!(e.contains("need docker buildx"), "{e}");
}

#[test]
fn build_only_skips_the_push_and_hands_on_the_local_image() {
    let base = [
        ("STEVEDORE_REPO", "team/app"),
        ("CIRCLE_SHA1", "abc"),
        ("CIRCLE_BUILD_NUM", "7"),
    ];
    let p = plan_in(
        Step::BuildAndPush,
        &[base[0], base[1], base[2], ("STEVEDORE_PUSH_IMAGE", "false")],
    )
    .unwrap();
    assert!(!p
        .actions
        .iter()
        .any(|a| matches!(a, Action::Stevedore(args) if args[0] == "push")));
    assert_eq!(
        p.bash_env,
        vec![(
            handoff::BUILT_IMAGE.to_string(),
            "stevedore-build-team-app:7".to_string()
        )]
    );
    // The default pushes.
    let p = plan_in(Step::BuildAndPush, &base).unwrap();
    assert!(p
        .actions
        .iter()
        .any(|a| matches!(a, Action::Stevedore(args) if args[0] == "push")));
    assert!(p.bash_env.is_empty());
    // Several platforms cannot stay in the engine.
    let e = err(
        Step::BuildAndPush,
        &[
            base[0],
            ("STEVEDORE_PUSH_IMAGE", "0"),
            ("STEVEDORE_PLATFORM", "linux/amd64,linux/arm64"),
        ],
    );
    assert!(e.contains("push_image is false"), "{e}");
    // Signatures and attestations need the push.
    for extra in [
        ("STEVEDORE_SIGN", "awskms:///alias/ci"),
        ("STEVEDORE_PROVENANCE", "true"),
    ] {
        let e = err(
            Step::BuildAndPush,
            &[base[0], ("STEVEDORE_PUSH_IMAGE", "0"), extra],
        );
        assert!(e.contains("sign, sbom and provenance"), "{e}");
    }
}

#[test]
fn skip_build_if_tags_exist_checks_first_and_registry_login_comes_before_the_build() {
    let p = plan_in(
        Step::BuildAndPush,
        &[
            ("STEVEDORE_REPO", "app"),
            ("STEVEDORE_TAGS", "${CIRCLE_SHA1},latest"),
            ("CIRCLE_SHA1", "abc"),
            ("STEVEDORE_SKIP_BUILD_IF_TAGS_EXIST", "true"),
            ("STEVEDORE_REGISTRY_LOGIN", "docker.io"),
            ("DOCKER_LOGIN", "me"),
            ("DOCKER_PASSWORD", "canary-secret"),
        ],
    )
    .unwrap();
    assert_eq!(
        p.actions[0],
        Action::SkipIfTagsExist {
            repo: "app".into(),
            tags: vec!["abc".into(), "latest".into()],
            public: false
        }
    );
    assert_eq!(
        p.actions[1],
        Action::DockerLogin {
            host: "docker.io".into(),
            username_var: "DOCKER_LOGIN".into(),
            password_var: "DOCKER_PASSWORD".into()
        }
    );
    assert!(
        matches!(&p.actions[2], Action::Program(prog, args) if prog == "docker" && args[0] == "build")
    );
    // The password is never in the plan.
    assert!(!format!("{p:?}").contains("canary-secret"));
    let e = err(
        Step::BuildAndPush,
        &[
            ("STEVEDORE_REPO", "app"),
            ("STEVEDORE_REGISTRY_LOGIN", "docker.io"),
        ],
    );
    assert!(e.contains("DOCKER_LOGIN is empty"), "{e}");
    let e = err(
        Step::BuildAndPush,
        &[
            ("STEVEDORE_REPO", "app"),
            ("STEVEDORE_REGISTRY_LOGIN", "docker.io"),
            ("STEVEDORE_REGISTRY_PASSWORD_VAR", "$(x)"),
        ],
    );
    assert!(e.contains("must be variable names"), "{e}");
}

#[test]
fn a_build_cache_wraps_the_build_and_the_classic_cache_is_pushed_under_its_tag() {
    let base = [
        ("STEVEDORE_REPO", "app"),
        ("STEVEDORE_TAGS", "v1"),
        ("STEVEDORE_BUILD_CACHE", "1"),
        ("CIRCLE_BUILD_NUM", "7"),
    ];
    let p = plan_in(Step::BuildAndPush, &base).unwrap();
    let Action::CachedBuild {
        repo,
        tag,
        buildx,
        args,
        ..
    } = &p.actions[0]
    else {
        panic!("{:?}", p.actions)
    };
    assert_eq!(
        (repo.as_str(), tag.as_str(), *buildx),
        ("app", "buildcache", false)
    );
    assert_eq!(args.last().map(String::as_str), Some("."));
    assert_eq!(
        p.actions.last(),
        Some(&Action::Stevedore(strings(&[
            "push",
            "--docker-image",
            "stevedore-build-app:7",
            "--tag",
            "v1,buildcache"
        ])))
    );
    // With buildx the cache is BuildKit's own: the image's tags stay as given.
    let p = plan_in(
        Step::BuildAndPush,
        &[
            base[0],
            base[1],
            base[2],
            base[3],
            ("STEVEDORE_BUILDX", "1"),
            ("STEVEDORE_CACHE_TAG", "cache"),
        ],
    )
    .unwrap();
    assert!(p
        .actions
        .iter()
        .any(|a| matches!(a, Action::CachedBuild { buildx: true, tag, .. } if tag == "cache")));
    assert!(p
        .actions
        .iter()
        .any(|a| matches!(a, Action::Stevedore(args) if args[0] == "push" && args[4] == "v1")));
    assert!(err(
        Step::BuildAndPush,
        &[base[0], base[2], ("STEVEDORE_PUSH_IMAGE", "0")]
    )
    .contains("build_cache"));
}

#[test]
fn values_that_reach_docker_are_single_arguments_or_refused() {
    let base = [("STEVEDORE_REPO", "app"), ("STEVEDORE_TAGS", "v1")];
    let with = |extra: &[(&str, &str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        err(Step::BuildAndPush, &all)
    };
    assert!(with(&[("STEVEDORE_BUILD_PATH", "--output=/etc")])
        .contains("path '--output=/etc' starts with '-'"));
    assert!(with(&[("STEVEDORE_DOCKERFILE", "-")]).contains("dockerfile '-' starts with '-'"));
    let e = with(&[
        ("STEVEDORE_BUILD_CACHE", "1"),
        ("STEVEDORE_CACHE_TAG", "cache,latest"),
    ]);
    assert!(e.contains("cache_tag 'cache,latest'"), "{e}");
    let fine = plan_in(
        Step::BuildAndPush,
        &[
            ("STEVEDORE_REPO", "app"),
            ("STEVEDORE_TAGS", "v1"),
            ("STEVEDORE_BUILD_PATH", "./-odd"),
        ],
    )
    .unwrap();
    assert_eq!(program(&fine).last().map(String::as_str), Some("./-odd"));
}
