//! `stevedore push` against the sandbox's real registries, read back with skopeo.

use crate::harness::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()[..64].to_string()
}

/// Random bytes, gzip-compressed as a layer would be.
pub(crate) fn gz_layer(size: usize, seed: u8) -> Vec<u8> {
    let raw: Vec<u8> = (0..size)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .rotate_left(u32::from(seed)) as u8
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("raw"), &raw).unwrap();
    Command::new("gzip")
        .args(["-n", "-1", "-c"])
        .arg(dir.path().join("raw"))
        .output()
        .unwrap()
        .stdout
}

pub(crate) struct Layout {
    pub(crate) dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
        }
    }
    fn put(&self, b: &[u8]) -> Value {
        let h = sha256_hex(b);
        std::fs::write(self.dir.join("blobs/sha256").join(&h), b).unwrap();
        json!({"digest": format!("sha256:{h}"), "size": b.len()})
    }
    /// An image manifest with `layers` layers; returns its descriptor.
    pub(crate) fn image(&self, layers: &[Vec<u8>], arch: &str) -> Value {
        let ls: Vec<Value> = layers
            .iter()
            .map(|l| {
                let mut d = self.put(l);
                d["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
                d
            })
            .collect();
        let mut c = self.put(json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).to_string().as_bytes());
        c["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": c, "layers": ls});
        let mut d = self.put(m.to_string().as_bytes());
        d["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
        d["platform"] = json!({"architecture": arch, "os": "linux"});
        d
    }
    pub(crate) fn index(&self, manifests: Vec<Value>) {
        std::fs::write(
            self.dir.join("index.json"),
            json!({"schemaVersion": 2, "manifests": manifests}).to_string(),
        )
        .unwrap();
    }
}

/// skopeo's view of a pushed image in the private registry: (digest, raw manifest).
pub(crate) fn skopeo_inspect(sb: &SandboxProc, reference: &str) -> (String, Value) {
    skopeo_inspect_with(sb, reference, &sb.registry_creds())
}

/// skopeo's view of an image, with these `user:password` credentials.
fn skopeo_inspect_with(sb: &SandboxProc, reference: &str, creds: &str) -> (String, Value) {
    let certs = tempfile::tempdir().unwrap();
    std::fs::copy(&sb.env["AWS_CA_BUNDLE"], certs.path().join("ca.crt")).unwrap();
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--creds", creds, "--cert-dir"])
        .arg(certs.path())
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let digest = format!("sha256:{}", sha256_hex(&raw.stdout));
    (digest, serde_json::from_slice(&raw.stdout).unwrap())
}

/// skopeo copies the pushed image back into an OCI directory; returns the manifest digest it wrote.
pub(crate) fn skopeo_copy_back(sb: &SandboxProc, reference: &str) -> String {
    let certs = tempfile::tempdir().unwrap();
    std::fs::copy(&sb.env["AWS_CA_BUNDLE"], certs.path().join("ca.crt")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let digest_file = out.path().join("digest");
    let st = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            "--src-creds",
            &sb.registry_creds(),
            "--src-cert-dir",
        ])
        .arg(certs.path())
        .arg("--digestfile")
        .arg(&digest_file)
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:x", out.path().join("oci").display()))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    std::fs::read_to_string(digest_file)
        .unwrap()
        .trim()
        .to_string()
}

pub(crate) fn printed_digest(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("pushed "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    line.split('@')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn an_oci_layout_pushes_reads_back_identically_and_a_second_push_uploads_nothing() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let d = l.image(
        &[
            gz_layer(300_000, 1),
            gz_layer(200_000, 2),
            gz_layer(50_000, 3),
        ],
        "amd64",
    );
    l.index(vec![d.clone()]);
    let bash_env = work.path().join("bash_env");
    let layout = l.dir.display().to_string();
    let out = stevedore(&[
        "push",
        "--repo",
        "team/app",
        "--tag",
        "v1,latest",
        "--create-repo",
        "--oci-layout",
        &layout,
    ])
    .sandbox(&sb, true)
    .env("BASH_ENV", bash_env.display().to_string())
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    assert!(
        out.stdout.contains("Created repository team/app"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches(": uploaded in").count(),
        4,
        "3 layers and the config: {}",
        out.stdout
    );
    let registry = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    for tag in ["v1", "latest"] {
        let (d, _) = skopeo_inspect(&sb, &format!("{registry}/team/app:{tag}"));
        assert_eq!(d, digest, "skopeo reads {tag} as {d}");
    }
    assert_eq!(
        skopeo_copy_back(&sb, &format!("{registry}/team/app:v1")),
        digest
    );
    let exported = read_exports(&bash_env);
    assert_eq!(exported["STEVEDORE_IMAGE_DIGEST"], digest);
    assert_eq!(
        exported["STEVEDORE_IMAGE_URI"],
        format!("{registry}/team/app@{digest}")
    );
    // ECR sees it too.
    let tags = sb.boto3("print(json.dumps(sorted(ecr.describe_images(repositoryName='team/app')['imageDetails'][0]['imageTags'])))");
    assert_eq!(tags, json!(["latest", "v1"]));
    let again = stevedore(&[
        "push",
        "--repo",
        "team/app",
        "--tag",
        "v2",
        "--oci-layout",
        &layout,
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    // Warm: the manifest is there, so no blob is checked or sent; the new tag is written.
    assert!(
        again
            .stdout
            .contains("the manifest and its 4 blobs were already there, 0 B sent"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("blob "), "{}", again.stdout);
    assert!(again.stdout.contains("tagged "), "{}", again.stdout);
    let tags = sb.boto3("print(json.dumps(sorted(ecr.describe_images(repositoryName='team/app')['imageDetails'][0]['imageTags'])))");
    assert_eq!(tags, json!(["latest", "v1", "v2"]));
    // --skip-existing-tags leaves an existing tag alone and pushes nothing when all exist.
    let skip = stevedore(&[
        "push",
        "--repo",
        "team/app",
        "--tag",
        "v1",
        "--skip-existing-tags",
        "--oci-layout",
        &layout,
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert!(skip.stdout.contains("nothing to push"), "{}", skip.stdout);
    // A layout with a damaged layer is refused before anything is created or uploaded.
    let broken = work.path().join("broken");
    let st = Command::new("cp")
        .arg("-r")
        .arg(&l.dir)
        .arg(&broken)
        .status()
        .unwrap();
    assert!(st.success());
    let layer = broken
        .join("blobs/sha256")
        .join(d["digest"].as_str().unwrap().trim_start_matches("sha256:"));
    let manifest: Value = serde_json::from_slice(&std::fs::read(&layer).unwrap()).unwrap();
    let first = broken.join("blobs/sha256").join(
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let mut bytes = std::fs::read(&first).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&first, bytes).unwrap();
    let out = stevedore(&[
        "push",
        "--repo",
        "broken",
        "--create-repo",
        "--oci-layout",
        &broken.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("is corrupt or truncated"),
        "{}",
        out.stderr
    );
    let repos = sb.boto3("print(json.dumps([r['repositoryName'] for r in ecr.describe_repositories()['repositories']]))");
    assert_eq!(repos, json!(["team/app"]), "nothing may be created");
}

#[test]
fn a_multi_platform_index_arrives_whole() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let amd = l.image(&[gz_layer(100_000, 4)], "amd64");
    let arm = l.image(&[gz_layer(100_000, 5)], "arm64");
    l.index(vec![amd.clone(), arm.clone()]);
    sb.boto3("ecr.create_repository(repositoryName='multi')\nprint(1)");
    let out = stevedore(&[
        "push",
        "--repo",
        "multi",
        "--tag",
        "v1",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    let (d, raw) = skopeo_inspect(
        &sb,
        &format!("{}/multi:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"]),
    );
    assert_eq!(d, digest);
    let children: Vec<&str> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        children,
        [
            amd["digest"].as_str().unwrap(),
            arm["digest"].as_str().unwrap()
        ]
    );
    assert_eq!(
        skopeo_copy_back(
            &sb,
            &format!("{}/multi:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"])
        ),
        digest
    );
}

#[test]
fn a_legacy_docker_archive_is_compressed_and_pushed() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("archive");
    std::fs::create_dir_all(root.join("abc")).unwrap();
    // An uncompressed layer tar, as docker save < 25 writes them.
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello.txt"), "hello\n".repeat(1000)).unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(&files)
        .args(["--mtime=@0", "-cf"])
        .arg(root.join("abc/layer.tar"))
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let diff_id = sha256_hex(&std::fs::read(root.join("abc/layer.tar")).unwrap());
    let config = json!({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}}).to_string();
    let config_name = format!("{}.json", sha256_hex(config.as_bytes()));
    std::fs::write(root.join(&config_name), &config).unwrap();
    std::fs::write(
        root.join("manifest.json"),
        json!([{"Config": config_name, "RepoTags": ["app:legacy"], "Layers": ["abc/layer.tar"]}])
            .to_string(),
    )
    .unwrap();
    let tarball = work.path().join("legacy.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out = stevedore(&[
        "push",
        "--repo",
        "legacy",
        "--create-repo",
        "--archive",
        &tarball.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    let (d, raw) = skopeo_inspect(
        &sb,
        &format!("{}/legacy:latest", sb.env["STEVEDORE_SANDBOX_REGISTRY"]),
    );
    assert_eq!(d, digest);
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );

    // A corrupt archive is refused before anything is uploaded.
    let mut bytes = std::fs::read(&tarball).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"hello\nhello\n")
        .unwrap();
    bytes[at] = b'J';
    let corrupt = work.path().join("corrupt.tar");
    std::fs::write(&corrupt, &bytes).unwrap();
    let out = stevedore(&[
        "push",
        "--repo",
        "corrupt",
        "--create-repo",
        "--archive",
        &corrupt.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    let repos = sb.boto3("print(json.dumps([r['repositoryName'] for r in ecr.describe_repositories()['repositories']]))");
    assert!(
        !repos.to_string().contains("corrupt"),
        "nothing may be created: {repos}"
    );
}

#[test]
fn ecr_public_pushes_under_the_alias() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let d = l.image(&[gz_layer(10_000, 6)], "arm64");
    l.index(vec![d]);
    let out = stevedore(&[
        "push",
        "--public",
        "--repo",
        "tool",
        "--create-repo",
        "--tag",
        "1.0",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    let host = &sb.env["STEVEDORE_PUBLIC_REGISTRY_HOST"];
    let alias = &sb.env["AWS_ECR_PUBLIC_REGISTRY_ALIAS"];
    assert!(
        out.stdout
            .contains(&format!("tagged {host}/{alias}/tool:1.0")),
        "{}",
        out.stdout
    );
    let (d, _) = skopeo_inspect_public(&sb, &format!("{host}/{alias}/tool:1.0"));
    assert_eq!(d, digest);
}

fn skopeo_inspect_public(sb: &SandboxProc, reference: &str) -> (String, Value) {
    let token = sb.boto3("import boto3 as b\npub=b.client('ecr-public', **kw)\nprint(json.dumps(pub.get_authorization_token()['authorizationData']['authorizationToken']))");
    use base64::Engine;
    let creds = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(token.as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    skopeo_inspect_with(sb, reference, &creds)
}

#[test]
fn a_push_survives_failed_and_cut_blob_uploads_with_the_same_digest() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let layers: Vec<Vec<u8>> = (0..10).map(|i| gz_layer(150_000, 10 + i)).collect();
    let d = l.image(&layers, "amd64");
    l.index(vec![d]);
    // 20 % of blob uploads fail: half answered 500 after the body, half cut mid-body; the first
    // two fail for certain so the test cannot pass without exercising the retries.
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        r#"{"fail_share": 0.1, "cut_share": 0.1, "fail_next": 2}"#,
    );
    let out = stevedore(&[
        "push",
        "--repo",
        "flaky",
        "--create-repo",
        "--tag",
        "v1",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    let faults = sb.control_get("/_sandbox/registry-faults");
    let injected = faults["failed"].as_u64().unwrap() + faults["cut"].as_u64().unwrap();
    assert!(injected >= 2, "{faults}");
    assert!(out.stdout.contains(" retry "), "{}", out.stdout);
    sb.control("PUT", "/_sandbox/registry-faults", "{}");
    let (d, _) = skopeo_inspect(
        &sb,
        &format!("{}/flaky:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"]),
    );
    assert_eq!(d, digest);
    assert_eq!(
        skopeo_copy_back(
            &sb,
            &format!("{}/flaky:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"])
        ),
        digest
    );
    // And against an unfaulted push of the same layout elsewhere: the same digest.
    let clean = stevedore(&[
        "push",
        "--repo",
        "clean",
        "--create-repo",
        "--tag",
        "v1",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert_eq!(printed_digest(&clean.stdout), digest);
}

#[test]
fn a_slow_upload_prints_progress_at_most_ten_seconds_apart() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    // 24 MB that gzip cannot shrink, received at 1 MB/s: an upload of about 24 s.
    let mut raw = vec![0u8; 24_000_000];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut raw))
        .unwrap();
    std::fs::write(work.path().join("raw"), &raw).unwrap();
    let layer = Command::new("gzip")
        .args(["-n", "-1", "-c"])
        .arg(work.path().join("raw"))
        .output()
        .unwrap()
        .stdout;
    let id = sha256_hex(&layer)[..12].to_string();
    let d = l.image(&[layer], "amd64");
    l.index(vec![d]);
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        r#"{"upload_bytes_per_sec": 1000000}"#,
    );
    let out = stevedore(&[
        "push",
        "--repo",
        "slow",
        "--create-repo",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let took: f64 = out
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("blob {id} 24.0 MB: uploaded in "))?
                .strip_suffix(" s")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no upload line for {id}: {}", out.stdout));
    let progress: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("blob {id}: ")) && l.contains(" of 24.0 MB ("))
        .collect();
    // A line every 10 s of the upload: floor(took / 10) of them, none more (`took` also counts
    // the upload's POST, up to half a second before the PUT's meter starts).
    assert!(took >= 20.0, "the rate limit did not hold: {took} s");
    let most = (took / 10.0) as usize;
    let least = ((took - 0.5) / 10.0) as usize;
    assert!(
        (least..=most).contains(&progress.len()),
        "{} progress lines in {took} s: {}",
        progress.len(),
        out.stdout
    );
    let shares: Vec<u64> = progress
        .iter()
        .map(|l| {
            let pct = l.split(" (").nth(1).unwrap().split('%').next().unwrap();
            pct.parse().unwrap()
        })
        .collect();
    assert!(shares.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert!(progress[0].contains(" left"), "{progress:?}");
}

/// Build a small image with the Docker engine (FROM scratch: nothing is pulled).
fn docker_build(tag: &str) -> String {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("hello.txt"), format!("hello from {tag}\n")).unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\nLABEL org.opencontainers.image.title=stevedore-test\n").unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(ctx.path())
        .output()
        .expect("docker (the machine's engine) is needed");
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .output()
        .unwrap();
    String::from_utf8(id.stdout).unwrap().trim().to_string()
}

#[test]
fn an_image_built_by_the_docker_engine_pushes_natively_and_via_docker() {
    let sb = SandboxProc::start();
    let tag = format!("stevedore-it:{}", std::process::id());
    let id = docker_build(&tag);
    let out = stevedore(&[
        "push",
        "--repo",
        "from-docker",
        "--create-repo",
        "--tag",
        "v1",
        "--docker-image",
        &tag,
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    let reference = format!("{}/from-docker:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"]);
    let (d, raw) = skopeo_inspect(&sb, &reference);
    assert_eq!(d, digest);
    // The engine's image id is its config digest: the same image arrived.
    assert_eq!(raw["config"]["digest"].as_str(), Some(id.as_str()), "{raw}");
    assert_eq!(skopeo_copy_back(&sb, &reference), digest);
    // The daemon can push it too, when asked to.
    let out = stevedore(&[
        "push",
        "--repo",
        "from-docker",
        "--tag",
        "via-daemon",
        "--docker-image",
        &tag,
        "--via",
        "docker",
    ])
    .sandbox(&sb, true)
    .run();
    let _ = Command::new("docker")
        .args([
            "image",
            "rm",
            "-f",
            &tag,
            &format!(
                "{}/from-docker:via-daemon",
                sb.env["STEVEDORE_SANDBOX_REGISTRY"]
            ),
        ])
        .output();
    assert_eq!(out.code, 0, "{}", out.all());
    let (via, raw2) = skopeo_inspect(
        &sb,
        &format!(
            "{}/from-docker:via-daemon",
            sb.env["STEVEDORE_SANDBOX_REGISTRY"]
        ),
    );
    assert_eq!(raw2["config"]["digest"].as_str(), Some(id.as_str()));
    assert!(
        out.stdout.contains(&via),
        "stevedore reports the daemon's digest: {}",
        out.stdout
    );
}

#[test]
fn an_image_is_copied_from_private_ecr_to_ecr_public_without_re_uploading() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let amd = l.image(&[gz_layer(80_000, 30), gz_layer(60_000, 31)], "amd64");
    let arm = l.image(&[gz_layer(70_000, 32)], "arm64");
    l.index(vec![amd, arm]);
    let pushed = stevedore(&[
        "push",
        "--repo",
        "team/app",
        "--create-repo",
        "--tag",
        "v1",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&pushed.stdout);
    let copy = stevedore(&[
        "push",
        "--public",
        "--repo",
        "app",
        "--create-repo",
        "--tag",
        "v1",
        "--from",
        "team/app:v1",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert_eq!(printed_digest(&copy.stdout), digest, "{}", copy.stdout);
    assert_eq!(
        copy.stdout.matches(": uploaded in").count(),
        5,
        "{}",
        copy.stdout
    );
    let host = &sb.env["STEVEDORE_PUBLIC_REGISTRY_HOST"];
    let (d, _) = skopeo_inspect_public(
        &sb,
        &format!("{host}/{}/app:v1", sb.env["AWS_ECR_PUBLIC_REGISTRY_ALIAS"]),
    );
    assert_eq!(d, digest);
    // Again, under another tag: the target has every blob; nothing is copied.
    let again = stevedore(&[
        "push",
        "--public",
        "--repo",
        "app",
        "--tag",
        "v1.0.0",
        "--from",
        &format!("team/app@{digest}"),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert!(
        again
            .stdout
            .contains("the manifest and its 5 blobs were already there, 0 B sent"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("blob "), "{}", again.stdout);
    // A source that does not exist is an input error.
    let out = stevedore(&[
        "push",
        "--public",
        "--repo",
        "app",
        "--from",
        "team/app:nope",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("--from team/app:nope"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_refused_registry_token_is_renewed_once_and_the_push_goes_on() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let d = l.image(&[gz_layer(20_000, 40)], "amd64");
    l.index(vec![d]);
    sb.boto3("ecr.create_repository(repositoryName='renew')\nprint(1)");
    // The registry refuses the first request, as it does when a 12-hour ECR token has expired.
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        r#"{"unauthorized_next": 1}"#,
    );
    let out = stevedore(&[
        "push",
        "--repo",
        "renew",
        "--tag",
        "v1",
        "--oci-layout",
        &l.dir.display().to_string(),
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    let digest = printed_digest(&out.stdout);
    // stevedore asked for a token, was refused, asked for a fresh one, and went on.
    let calls = sb.control_get("/_sandbox/calls");
    let tokens = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call"] == "ECR.GetAuthorizationToken")
        .count();
    assert_eq!(tokens, 2, "{calls}");
    let (d, _) = skopeo_inspect(
        &sb,
        &format!("{}/renew:v1", sb.env["STEVEDORE_SANDBOX_REGISTRY"]),
    );
    assert_eq!(d, digest);
}

/// On a terminal (a pty from `script`), an upload's progress is one line redrawn in place every
/// half second, and cleared before the blob's "uploaded" line.
#[test]
fn on_a_terminal_progress_is_a_line_redrawn_in_place() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let l = Layout::new(&work.path().join("img"));
    let mut raw = vec![0u8; 8_000_000];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut raw))
        .unwrap();
    let id = sha256_hex(&raw)[..12].to_string();
    let d = l.image(&[raw], "amd64");
    l.index(vec![d]);
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        r#"{"upload_bytes_per_sec": 2000000}"#,
    );
    let bin =
        std::env::var("STEVEDORE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_stevedore").into());
    let line = format!(
        "{bin} push --repo live --create-repo --oci-layout {}",
        l.dir.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]).env("TERM", "xterm");
    for (k, v) in sb
        .env
        .iter()
        .filter(|(k, _)| !k.starts_with("STEVEDORE_SANDBOX"))
    {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script (bsdutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let redraws = text.matches(&format!("\rblob {id}: ")).count();
    assert!(redraws >= 4, "{redraws} redraws in a ~4 s upload: {text:?}");
    assert!(
        text.contains(&format!("\r\x1b[Kblob {id} 8.00 MB: uploaded in ")),
        "{text:?}"
    );
    // Not a line per redraw: the upload's progress takes no line of its own.
    assert!(!text.contains(&format!("\nblob {id}: ")), "{text:?}");
}
