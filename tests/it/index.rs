//! `stevedore index` against the sandbox's registry: two single-architecture images pushed, one
//! index stitched from them, read back by skopeo, and the registry's call log showing that no
//! layer was read.

use crate::harness::*;
use crate::push::{gz_layer, printed_digest, skopeo_copy_back, skopeo_inspect, Layout};
use serde_json::{json, Value};

/// Push a one-architecture image (two layers) with stevedore push; its manifest digest and the
/// digests of its layers.
fn push_arch(
    sb: &SandboxProc,
    repo: &str,
    tag: &str,
    arch: &str,
    seed: u8,
) -> (String, Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let d = l.image(&[gz_layer(120_000, seed), gz_layer(40_000, seed + 1)], arch);
    l.index(vec![d]);
    let layout = l.dir.display().to_string();
    let out = stevedore(&[
        "push",
        "--repo",
        repo,
        "--tag",
        tag,
        "--create-repo",
        "--oci-layout",
        &layout,
    ])
    .sandbox(sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(l.dir.join("blobs/sha256").join(&digest["sha256:".len()..])).unwrap(),
    )
    .unwrap();
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_string())
        .collect();
    (digest, layers)
}

fn calls(sb: &SandboxProc) -> Vec<(String, String)> {
    sb.control_get("/_sandbox/registry-calls")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["method"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_index_of_two_pushed_architectures_reads_no_layer_and_skopeo_copies_it_whole() {
    let sb = SandboxProc::start();
    let (amd, amd_layers) = push_arch(&sb, "multi", "sha-amd64", "amd64", 1);
    let (arm, arm_layers) = push_arch(&sb, "multi", "sha-arm64", "arm64", 5);
    sb.control("DELETE", "/_sandbox/registry-calls", "");

    let work = tempfile::tempdir().unwrap();
    let bash_env = work.path().join("bash_env");
    let registry = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    let full_arm = format!("{registry}/multi@{arm}");
    let out = stevedore(&[
        "index",
        "--repo",
        "multi",
        "--manifest",
        &format!("sha-amd64,{full_arm}"),
        "--platforms",
        "linux/amd64,linux/arm64",
        "--tag",
        "v1,latest",
    ])
    .sandbox(&sb, true)
    .env("BASH_ENV", bash_env.display().to_string())
    .run()
    .success();
    assert!(
        out.stdout
            .contains(&format!("linux/amd64 {amd} (sha-amd64)")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("linux/arm64 {arm} ({full_arm})")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("tagged {registry}/multi:v1")),
        "{}",
        out.stdout
    );

    // What the registry was asked: the two manifests, their two configs, the tags; no layer.
    let log = calls(&sb);
    for layer in amd_layers.iter().chain(&arm_layers) {
        assert!(
            !log.iter().any(|(_, p)| p.ends_with(layer.as_str())),
            "layer {layer} was requested: {log:?}"
        );
    }
    let blob_reads = log
        .iter()
        .filter(|(m, p)| m == "GET" && p.contains("/blobs/"))
        .count();
    assert_eq!(blob_reads, 2, "one config per architecture: {log:?}");
    let manifest_puts: Vec<&String> = log
        .iter()
        .filter(|(m, _)| m == "PUT")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        manifest_puts,
        ["/v2/multi/manifests/v1", "/v2/multi/manifests/latest"],
        "{log:?}"
    );

    // skopeo, not stevedore, reads the index: both platforms, the pushed digests.
    let (index_digest, raw) = skopeo_inspect(&sb, &format!("{registry}/multi:v1"));
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let entries: Vec<(Value, Value)> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["digest"].clone(), m["platform"].clone()))
        .collect();
    assert_eq!(
        entries,
        vec![
            (json!(amd), json!({"architecture": "amd64", "os": "linux"})),
            (json!(arm), json!({"architecture": "arm64", "os": "linux"})),
        ]
    );
    assert!(
        out.stdout.contains(&format!(
            "index {registry}/multi@{index_digest}: 2 platforms"
        )),
        "{}",
        out.stdout
    );
    // skopeo copies the whole multi-architecture image (every layer of both) into an OCI layout.
    assert_eq!(
        skopeo_copy_back(&sb, &format!("{registry}/multi:latest")),
        index_digest
    );
    let exported = read_exports(&bash_env);
    assert_eq!(
        exported["STEVEDORE_IMAGE_URI"],
        format!("{registry}/multi@{index_digest}")
    );

    // The same index again: the tags already name it, nothing is written.
    sb.control("DELETE", "/_sandbox/registry-calls", "");
    let again = stevedore(&[
        "index",
        "--repo",
        "multi",
        "--manifest",
        "sha-amd64,sha-arm64",
        "--tag",
        "v1",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert!(
        again
            .stdout
            .contains(&format!("tag v1 already names {index_digest}")),
        "{}",
        again.stdout
    );
    assert!(!calls(&sb).iter().any(|(m, _)| m == "PUT"));
}

#[test]
fn a_missing_architecture_a_manifest_of_another_repository_or_a_missing_tag_is_exit_2_and_writes_nothing(
) {
    let sb = SandboxProc::start();
    push_arch(&sb, "multi", "sha-amd64", "amd64", 1);
    let (other, _) = push_arch(&sb, "other", "sha-arm64", "arm64", 5);
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    sb.control("DELETE", "/_sandbox/registry-calls", "");
    let index = |manifests: &str| {
        stevedore(&[
            "index",
            "--repo",
            "multi",
            "--manifest",
            manifests,
            "--platforms",
            "linux/amd64,linux/arm64",
            "--tag",
            "v2",
        ])
        .sandbox(&sb, true)
        .run()
    };
    let missing = index("sha-amd64");
    assert_eq!(missing.code, 2, "{}", missing.all());
    assert!(
        missing.stderr.contains("no image for linux/arm64 among --manifest (they are linux/amd64): build and push the linux/arm64 image first"),
        "{}",
        missing.stderr
    );
    let foreign = index(&format!("sha-amd64,{registry}/other@{other}"));
    assert_eq!(foreign.code, 2, "{}", foreign.all());
    assert!(
        foreign.stderr.contains(
            "it is in repository other, not multi: an index names manifests of its own repository"
        ),
        "{}",
        foreign.stderr
    );
    let absent = index("sha-amd64,sha-arm64");
    assert_eq!(absent.code, 2, "{}", absent.all());
    assert!(
        absent
            .stderr
            .contains("--manifest sha-arm64: not in multi: push that image first"),
        "{}",
        absent.stderr
    );
    for out in [&missing, &foreign, &absent] {
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "one line: {}",
            out.stderr
        );
    }
    assert!(
        !calls(&sb).iter().any(|(m, _)| m == "PUT"),
        "nothing was written"
    );
}

#[test]
fn a_signed_index_verifies_so_a_deploy_that_requires_a_signature_can_run_it() {
    let sb = SandboxProc::start();
    push_arch(&sb, "multi", "sha-amd64", "amd64", 1);
    push_arch(&sb, "multi", "sha-arm64", "arm64", 5);
    crate::signing::create_key(&sb, "ci-signing");
    let key = "awskms:///alias/ci-signing";
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    let index = |tag: &str, extra: &[&str]| {
        let mut args = vec![
            "index",
            "--repo",
            "multi",
            "--manifest",
            "sha-amd64,sha-arm64",
            "--tag",
            tag,
        ];
        args.extend_from_slice(extra);
        stevedore(&args).sandbox(&sb, true).run()
    };
    let verify = |tag: &str| {
        stevedore(&["verify", &format!("{registry}/multi:{tag}"), "--key", key])
            .sandbox(&sb, true)
            .run()
    };
    // A key that is not there: nothing is tagged.
    let refused = index("nokey", &["--sign", "awskms:///alias/missing"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    let (status, _) = crate::signing::registry_call(&sb, "GET", "/v2/multi/manifests/nokey", None);
    assert_eq!(status, 404, "an index whose signing failed was tagged");
    index("v1", &["--sign", key]).success();
    let said = verify("v1").success().stdout;
    assert!(said.contains(&format!("signed by {key}")), "{said}");
    // The same index again, unsigned, under another tag: the signature is of the digest.
    index("v2", &[]).success();
    verify("v2").success();
}
