//! Regression tests for the holes issue #12 lists, one per numbered finding, named after it: what
//! an attacker or an unlucky user found, and what stevedore does about it now.

use crate::harness::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sha256_hex(bytes: &[u8]) -> String {
    stevedore::image::sha256_hex(bytes)
}

/// A tarball at `out` holding `files` (name → bytes) and `links` (name → symlink target).
fn tarball(out: &Path, files: &[(&str, Vec<u8>)], links: &[(&str, &str)]) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Raw names: the builder's own path checks would refuse the hostile ones.
        let raw = name.as_bytes();
        h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        h.set_cksum();
        b.append(&h, &bytes[..]).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_link_name(target).unwrap();
        h.set_mode(0o777);
        let raw = name.as_bytes();
        h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    b.finish().unwrap();
}

/// A one-layer image config for a layer whose uncompressed content is `layer`.
fn config_for(layer: &[u8]) -> Vec<u8> {
    json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(layer))]}})
    .to_string()
    .into_bytes()
}

/// Push an archive as the sandbox's admin to repository `repo`.
fn push_archive(sb: &SandboxProc, archive: &Path, repo: &str) -> Output {
    stevedore(&[
        "push",
        "--repo",
        repo,
        "--create-repo",
        "--tag",
        "v1",
        "--archive",
        archive.to_str().unwrap(),
    ])
    .sandbox(sb, true)
    .run()
}

/// The tags of a repository in the sandbox's ECR (none when it has no image).
fn tags(sb: &SandboxProc, repo: &str) -> serde_json::Value {
    sb.boto3(&format!(
        "try:\n    r = ecr.describe_images(repositoryName={repo:?})['imageDetails']\nexcept Exception:\n    r = []\nprint(json.dumps([t for i in r for t in i.get('imageTags', [])]))"
    ))
}

#[test]
fn finding_1_a_hostile_archive_cannot_upload_host_files() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    // A host file the archive tries to smuggle out, as ~/.docker/config.json would be.
    let secret = work.path().join("host-secret.json");
    std::fs::write(&secret, br#"{"auths": {"canary": "SECRET-CANARY-41"}}"#).unwrap();
    let secret_path = secret.to_str().unwrap().to_string();
    let layer = b"not really a tar, but hashed as one".to_vec();
    let config = config_for(&layer);
    let up = "../".repeat(12) + secret_path.trim_start_matches('/');
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        {
            let p = work.path().join("absolute-config.tar");
            let m = json!([{"Config": secret_path, "Layers": []}]).to_string();
            tarball(&p, &[("manifest.json", m.into_bytes())], &[]);
            ("Config as an absolute host path", p, "is absolute")
        },
        {
            let p = work.path().join("dotdot-config.tar");
            let m = json!([{"Config": up, "Layers": []}]).to_string();
            tarball(&p, &[("manifest.json", m.into_bytes())], &[]);
            ("Config climbing out with ..", p, "goes up with '..'")
        },
        {
            let p = work.path().join("linked-config.tar");
            let m = json!([{"Config": "config.json", "Layers": []}]).to_string();
            tarball(
                &p,
                &[("manifest.json", m.into_bytes())],
                &[("config.json", &secret_path)],
            );
            (
                "Config through a symlink to the host",
                p,
                "points to an absolute path",
            )
        },
        {
            let p = work.path().join("linked-layer.tar");
            let m = json!([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).to_string();
            tarball(
                &p,
                &[
                    ("manifest.json", m.into_bytes()),
                    ("c.json", config.clone()),
                ],
                &[("l/layer.tar", &up)],
            );
            (
                "a layer through a relative symlink out",
                p,
                "points outside the archive",
            )
        },
        {
            let p = work.path().join("dotdot-entry.tar");
            tarball(&p, &[("../../escaped.txt", b"x".to_vec())], &[]);
            ("an entry named ../..", p, "goes up with '..'")
        },
    ];
    for (what, archive, why) in cases {
        let out = push_archive(&sb, &archive, "hostile");
        assert_eq!(out.code, 2, "{what}: {}", out.all());
        assert!(out.stderr.contains(why), "{what}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{what}: {}",
            out.stderr
        );
        assert!(!out.all().contains("SECRET-CANARY-41"), "{what}");
    }
    assert_eq!(tags(&sb, "hostile"), json!([]), "nothing was pushed");
    assert!(!work.path().join("escaped.txt").exists());

    // A gzip layer whose content does not match the config's diff id is refused too.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"other content").unwrap();
        e.finish().unwrap()
    };
    let p = work.path().join("gzip-layer.tar");
    let m = json!([{"Config": "c.json", "Layers": ["layer.tar.gz"]}]).to_string();
    tarball(
        &p,
        &[
            ("manifest.json", m.into_bytes()),
            ("c.json", config),
            ("layer.tar.gz", gz),
        ],
        &[],
    );
    let out = push_archive(&sb, &p, "hostile");
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    assert_eq!(tags(&sb, "hostile"), json!([]));
}

#[test]
fn finding_7_a_decompression_bomb_is_refused_within_the_stated_limit() {
    let work = tempfile::tempdir().unwrap();
    // 1.1 GiB of zeros in a gzip of a few megabytes: past the 1 GiB allowance.
    let bomb = work.path().join("bomb.tar.gz");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {dir} && truncate -s 1100M zeros && tar --format=gnu -cf - zeros | gzip -1 > {out} && rm zeros",
            dir = work.path().display(),
            out = bomb.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(
        size * 50 < 1 << 30,
        "small enough that the 1 GiB allowance applies: {size}"
    );
    let out = stevedore(&["push", "--repo", "app", "--archive", bomb.to_str().unwrap()])
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCOUNT_ID", "123456789012")
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", free_port()),
        )
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y")
        .env("TMPDIR", work.path().to_str().unwrap())
        .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("unpacks to more than 1.07 GB"),
        "{}",
        out.stderr
    );
    // Nothing of it is left in the temporary directory.
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "bomb.tar.gz")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
