//! The flows people copy from tutorials, as they write them (issue 30): access keys in a
//! context (which brings an OIDC token too), arm64 on an amd64 machine, a public copy after the
//! private push, and "does the service answer".

use crate::harness::*;
use crate::push::{gz_layer, Layout};
use serde_json::json;
use std::process::Command;

/// The tags skopeo lists for a repository of the sandbox's private registry.
fn skopeo_tags(sb: &SandboxProc, repo: &str) -> serde_json::Value {
    let certs = tempfile::tempdir().unwrap();
    std::fs::copy(&sb.env["AWS_CA_BUNDLE"], certs.path().join("ca.crt")).unwrap();
    let out = Command::new("skopeo")
        .args(["list-tags", "--creds", &sb.registry_creds(), "--cert-dir"])
        .arg(certs.path())
        .arg(format!(
            "docker://{}/{repo}",
            sb.env["STEVEDORE_SANDBOX_REGISTRY"]
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo list-tags: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["Tags"].clone()
}

/// This machine's engine (Docker's classic builder, no buildx, no QEMU) asked for linux/arm64
/// after an amd64 build of the same Dockerfile hands back the cached amd64 image: what pushed an
/// amd64 image under an `-arm64` tag. `push --platform` refuses it, naming both, with nothing
/// created or tagged; an index without a platform asked for is refused the same way.
#[test]
fn an_image_of_another_platform_than_asked_is_refused_and_nothing_is_tagged() {
    let sb = SandboxProc::start();
    let ctx = tempfile::tempdir().unwrap();
    let nonce = format!("{}-{}", std::process::id(), free_port());
    std::fs::write(ctx.path().join("app"), &nonce).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY app /app\n",
    )
    .unwrap();
    let name = format!("stevedore-it-platform:{nonce}");
    for platform in [None, Some("linux/arm64")] {
        let mut build = Command::new("docker");
        build.args(["build", "-q", "-t", &name]);
        if let Some(p) = platform {
            build.args(["--platform", p]);
        }
        let out = build.arg(ctx.path()).output().expect("docker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let arch = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            &name,
        ])
        .output()
        .unwrap();
    let arch = String::from_utf8_lossy(&arch.stdout).trim().to_string();
    // The repository holds one image already, so the registry lists its tags (docker-registry
    // answers 404 for a repository nothing was pushed to).
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let amd = l.image(&[gz_layer(10_000, 1)], "amd64");
    let arm = l.image(&[gz_layer(10_000, 2)], "arm64");
    l.index(vec![amd.clone()]);
    let layout = l.dir.display().to_string();
    stevedore(&[
        "push",
        "--repo",
        "app",
        "--create-repo",
        "--oci-layout",
        &layout,
        "--tag",
        "base",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let push = |platform: &str, tag: &str| {
        stevedore(&[
            "push",
            "--repo",
            "app",
            "--docker-image",
            &name,
            "--platform",
            platform,
            "--tag",
            tag,
            "--create-repo",
        ])
        .sandbox(&sb, true)
        .run()
    };
    let out = push("linux/arm64", "v1-arm64");
    assert_eq!(
        arch, "linux/amd64",
        "the engine built {arch} this time; the refusal below needs its amd64 image"
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(
        out.stderr.trim_end(),
        "stevedore: --platform linux/arm64: the image is linux/amd64, not linux/arm64 (an engine without emulation or buildx builds its own architecture: build on a machine of that architecture, or with buildx and binfmt); nothing was pushed"
    );
    assert_eq!(skopeo_tags(&sb, "app"), json!(["base"]));

    // An index of amd64 and arm64, asked for three platforms.
    l.index(vec![amd, arm]);
    let index = |platforms: &str| {
        stevedore(&[
            "push",
            "--repo",
            "app",
            "--oci-layout",
            &layout,
            "--platform",
            platforms,
            "--tag",
            "multi",
        ])
        .sandbox(&sb, true)
        .run()
    };
    let out = index("linux/amd64,linux/arm64,linux/arm/v7");
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(
        out.stderr.trim_end(),
        "stevedore: --platform linux/amd64, linux/arm64, linux/arm/v7: the index has no linux/arm/v7 image (it has linux/amd64, linux/arm64); nothing was pushed"
    );
    assert_eq!(skopeo_tags(&sb, "app"), json!(["base"]));

    // What the image is, asked for, is pushed.
    index("linux/amd64,linux/arm64").success();
    push("linux/amd64", "v1").success();
    let _ = Command::new("docker")
        .args(["image", "rm", "--force", &name])
        .output();
    let mut tags: Vec<String> = serde_json::from_value(skopeo_tags(&sb, "app")).unwrap();
    tags.sort();
    assert_eq!(tags, ["base", "multi", "v1"]);
}
