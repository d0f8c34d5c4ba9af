//! Signed and attested pushes against the sandbox (its KMS and the registry's referrers API),
//! checked by implementations that are not stevedore's: Python's `cryptography` verifies the
//! signatures with the public key KMS GetPublicKey hands boto3, a plain HTTP client reads the
//! referrers API, and skopeo reads every artifact back.

use crate::harness::*;
use crate::push::{gz_layer, printed_digest, Layout};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const REPOSITORY_URL: &str = "git@github.com:acme/app.git";
const COMMIT: &str = "4f2b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b";

/// A new ECC_NIST_P256 signing key named `alias/<alias>`; its ARN.
pub(crate) fn create_key(sb: &SandboxProc, alias: &str) -> String {
    let v = sb.boto3(&format!(
        "k=kms.create_key(KeySpec='ECC_NIST_P256', KeyUsage='SIGN_VERIFY', Description='ci')['KeyMetadata']\n\
         kms.create_alias(AliasName='alias/{alias}', TargetKeyId=k['KeyId'])\n\
         print(json.dumps(k['Arn']))"
    ));
    v.as_str().unwrap().to_string()
}

/// A one-layer OCI layout, different for each `seed`.
pub(crate) fn layout(dir: &Path, seed: u8) -> String {
    let l = Layout::new(&dir.join(format!("img{seed}")));
    let d = l.image(&[gz_layer(20_000, seed)], "amd64");
    l.index(vec![d]);
    l.dir.display().to_string()
}

/// The CircleCI job's variables provenance is built from.
pub(crate) fn in_job(run: Run) -> Run {
    run.env("CIRCLE_REPOSITORY_URL", REPOSITORY_URL)
        .env("CIRCLE_SHA1", COMMIT)
        .env("CIRCLE_BRANCH", "main")
        .env("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/app/42")
        .env("CIRCLE_WORKFLOW_ID", "5d1c2a9e-0000-4000-8000-000000000001")
        .env("CIRCLE_JOB", "build")
}

/// `stevedore push` of `layout` as `team/app:<tag>` with `extra` flags, as the administrator.
pub(crate) fn push(sb: &SandboxProc, layout: &str, tag: &str, extra: &[&str]) -> Output {
    push_run(sb, layout, tag, extra).run()
}

/// [`push`], not run yet: for a test that adds to its environment.
pub(crate) fn push_run(sb: &SandboxProc, layout: &str, tag: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "push",
        "--repo",
        "team/app",
        "--create-repo",
        "--tag",
        tag,
        "--oci-layout",
        layout,
    ];
    args.extend_from_slice(extra);
    in_job(stevedore(&args).sandbox(sb, true))
}

/// A registry request from Python's urllib (not stevedore's client) as the administrator:
/// `(status, body)`; `body` is sent with `content_type` when given.
pub(crate) fn registry_call(
    sb: &SandboxProc,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> (u16, String) {
    let (content_type, data) = body.unwrap_or(("", ""));
    let v = sb.boto3(&format!(
        "import base64, ssl, urllib.request, urllib.error\n\
         ctx=ssl.create_default_context(cafile={ca:?})\n\
         h={{'Authorization': 'Basic '+base64.b64encode({creds:?}.encode()).decode(), 'Accept': 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'}}\n\
         data={data:?}.encode() if {method:?}=='PUT' else None\n\
         if data is not None: h['Content-Type']={content_type:?}\n\
         req=urllib.request.Request('https://'+{host:?}+{path:?}, data=data, headers=h, method={method:?})\n\
         try:\n  r=urllib.request.urlopen(req, context=ctx); out=(r.status, r.read().decode())\n\
         except urllib.error.HTTPError as e:\n  out=(e.code, e.read().decode())\n\
         print(json.dumps(out))",
        ca = sb.env["AWS_CA_BUNDLE"],
        creds = sb.registry_creds(),
        host = sb.env["STEVEDORE_SANDBOX_REGISTRY"],
    ));
    (
        v[0].as_u64().unwrap() as u16,
        v[1].as_str().unwrap().to_string(),
    )
}

/// skopeo copies `reference` from the sandbox's private registry to `dest` (a transport and
/// its place, e.g. `dir:/tmp/x`).
pub(crate) fn skopeo_copy(sb: &SandboxProc, reference: &str, dest: &str) {
    let work = tempfile::tempdir().unwrap();
    let certs = sb.cert_dir(work.path());
    let st = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--src-creds",
            &sb.registry_creds(),
        ])
        .arg(format!("--src-cert-dir={}", certs.display()))
        .arg(format!("docker://{reference}"))
        .arg(dest)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "skopeo copy {reference} {dest}: {err}");
}

/// skopeo copies `reference` into a `dir:` directory: the files it wrote, by name.
pub(crate) fn skopeo_read(
    sb: &SandboxProc,
    reference: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let work = tempfile::tempdir().unwrap();
    let out: PathBuf = work.path().join("out");
    skopeo_copy(sb, reference, &format!("dir:{}", out.display()));
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The document an artifact holds, read back by skopeo (its one layer).
fn artifact_document(sb: &SandboxProc, digest: &str) -> Vec<u8> {
    let registry = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    let files = skopeo_read(sb, &format!("{registry}/team/app@{digest}"));
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    files[layer.trim_start_matches("sha256:")].clone()
}

fn sbom_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let sbom = json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
        "packages": [{"name": "busybox", "versionInfo": "1.36.1", "SPDXID": "SPDXRef-busybox"}]})
    .to_string()
    .into_bytes();
    let path = dir.join("sbom.spdx.json");
    std::fs::write(&path, &sbom).unwrap();
    (path, sbom)
}

/// `push` of `img` as `v1` with `--sign` (key alias/ci-signing), `--sbom` and `--provenance`.
fn push_attested(sb: &SandboxProc, img: &str, sbom: &Path) -> Output {
    let sbom = sbom.to_str().unwrap();
    let extras = [
        "--sign",
        "awskms:///alias/ci-signing",
        "--sbom",
        sbom,
        "--provenance",
    ];
    push(sb, img, "v1", &extras)
}

/// Checks the provenance statement names the job and the image.
fn check_provenance(statement: &[u8], digest: &str) {
    let p: Value = serde_json::from_slice(statement).unwrap();
    assert_eq!(p["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(p["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        p["subject"][0]["digest"]["sha256"],
        digest.trim_start_matches("sha256:")
    );
    let def = &p["predicate"]["buildDefinition"];
    assert_eq!(def["externalParameters"]["repository"], REPOSITORY_URL);
    assert_eq!(def["externalParameters"]["ref"], "refs/heads/main");
    assert_eq!(
        def["resolvedDependencies"][0]["digest"]["gitCommit"],
        COMMIT
    );
    assert_eq!(
        def["externalParameters"]["job"]["url"],
        "https://circleci.com/gh/acme/app/42"
    );
}

#[test]
fn a_kms_signature_verifies_with_python_cryptography_and_the_attestations_list_through_the_referrers_api(
) {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    create_key(&sb, "ci-signing");
    let (sbom_path, sbom) = sbom_file(work.path());
    let img = layout(work.path(), 1);
    let out = push_attested(&sb, &img, &sbom_path);
    let out = out.success();
    let digest = printed_digest(&out.stdout);
    assert!(out.stdout.contains("attached the SBOM"), "{}", out.stdout);
    assert!(
        out.stdout.contains("listed by the referrers API"),
        "{}",
        out.stdout
    );
    let registry = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let att_tag = format!("{}.att", digest.replace(':', "-"));

    // The layout, as cosign's SIGNATURE_SPEC.md has it, read back by skopeo.
    let files = skopeo_read(&sb, &format!("{registry}/team/app:{sig_tag}"));
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(
        layer["annotations"]["dev.cosignproject.cosign/signature"].is_string(),
        "{manifest}"
    );
    let payload = &files[layer["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")];
    let p: Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(p["critical"]["type"], "cosign container image signature");
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        p["critical"]["identity"]["docker-reference"],
        format!("{registry}/team/app")
    );

    // The signature, checked by Python's cryptography with the key KMS hands boto3; the same
    // check refuses a payload one byte longer, so it is a check that can fail.
    let checked = sb.boto3(&format!(
        "import base64, ssl, urllib.request\n\
         from cryptography.hazmat.primitives.serialization import load_der_public_key\n\
         from cryptography.hazmat.primitives.asymmetric import ec\n\
         from cryptography.hazmat.primitives import hashes\n\
         from cryptography.exceptions import InvalidSignature\n\
         pub=load_der_public_key(kms.get_public_key(KeyId='alias/ci-signing')['PublicKey'])\n\
         ctx=ssl.create_default_context(cafile={ca:?})\n\
         auth={{'Authorization': 'Basic '+base64.b64encode({creds:?}.encode()).decode()}}\n\
         def get(path, accept='*/*'):\n  return urllib.request.urlopen(urllib.request.Request('https://'+{host:?}+path, headers=dict(auth, Accept=accept)), context=ctx).read()\n\
         m=json.loads(get('/v2/team/app/manifests/{sig_tag}', 'application/vnd.oci.image.manifest.v1+json'))\n\
         l=m['layers'][0]\n\
         payload=get('/v2/team/app/blobs/'+l['digest'])\n\
         sig=base64.b64decode(l['annotations']['dev.cosignproject.cosign/signature'])\n\
         pub.verify(sig, payload, ec.ECDSA(hashes.SHA256()))\n\
         try:\n  pub.verify(sig, payload+b' ', ec.ECDSA(hashes.SHA256())); longer=True\n\
         except InvalidSignature:\n  longer=False\n\
         api=json.loads(get('/v2/team/app/referrers/{digest}', 'application/vnd.oci.image.index.v1+json'))\n\
         sboms=json.loads(get('/v2/team/app/referrers/{digest}?artifactType=application%2Fspdx%2Bjson', 'application/vnd.oci.image.index.v1+json'))\n\
         att=json.loads(get('/v2/team/app/manifests/{att_tag}', 'application/vnd.oci.image.manifest.v1+json'))['layers'][0]\n\
         env=json.loads(get('/v2/team/app/blobs/'+att['digest']))\n\
         body=base64.b64decode(env['payload']); pt=env['payloadType'].encode()\n\
         pae=b'DSSEv1 %d %s %d %s' % (len(pt), pt, len(body), body)\n\
         pub.verify(base64.b64decode(env['signatures'][0]['sig']), pae, ec.ECDSA(hashes.SHA256()))\n\
         print(json.dumps({{'verified': True, 'longer_verifies': longer, 'api': api, 'sboms': sboms,\n\
           'att': [att['mediaType'], att['annotations']['predicateType'], pt.decode()], 'att_statement': json.loads(body)}}))",
        ca = sb.env["AWS_CA_BUNDLE"],
        creds = sb.registry_creds(),
        host = registry,
    ));
    assert_eq!(checked["verified"], true);
    assert_eq!(checked["longer_verifies"], false);
    // The provenance also as `cosign attest` stores it: a DSSE envelope under `.att`, its
    // signature over DSSE's pre-authentication encoding verified above by the same library.
    assert_eq!(
        checked["att"],
        json!([
            "application/vnd.dsse.envelope.v1+json",
            "https://slsa.dev/provenance/v1",
            "application/vnd.in-toto+json"
        ])
    );
    check_provenance(
        &serde_json::to_vec(&checked["att_statement"]).unwrap(),
        &digest,
    );

    // The attestations, listed by the referrers API (and filtered by it), read back by skopeo.
    let listed = checked["api"]["manifests"].as_array().unwrap();
    let of_type = |t: &str| {
        listed
            .iter()
            .find(|m| m["artifactType"] == t)
            .unwrap_or_else(|| panic!("no {t} in {listed:?}"))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(checked["sboms"]["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        artifact_document(&sb, &of_type("application/spdx+json")),
        sbom
    );
    check_provenance(
        &artifact_document(&sb, &of_type("application/vnd.in-toto+json")),
        &digest,
    );

    // stevedore's own verification agrees, provenance included.
    let out = stevedore(&[
        "verify",
        &format!("{registry}/team/app:v1"),
        "--key",
        "awskms:///alias/ci-signing",
        "--provenance-repository",
        REPOSITORY_URL,
        "--provenance-branch",
        "main",
    ])
    .sandbox(&sb, true)
    .run()
    .success();
    assert!(
        out.stdout
            .contains(&format!("verified {registry}/team/app@{digest}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(COMMIT), "{}", out.stdout);
}

#[test]
fn without_the_referrers_api_the_attestations_are_listed_by_the_tag_schema() {
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    create_key(&sb, "ci-signing");
    sb.control(
        "PUT",
        "/_sandbox/registry-faults",
        r#"{"without_referrers_api": true}"#,
    );
    let (sbom_path, sbom) = sbom_file(work.path());
    let img = layout(work.path(), 2);
    let out = push_attested(&sb, &img, &sbom_path).success();
    let digest = printed_digest(&out.stdout);
    let fallback = digest.replace(':', "-");
    assert!(
        out.stdout
            .contains(&format!("listed in the referrers tag {fallback}")),
        "{}",
        out.stdout
    );
    // The registry itself (the CNCF registry 2.8) has no referrers API.
    let (status, _) = registry_call(
        &sb,
        "GET",
        &format!("/v2/team/app/referrers/{digest}"),
        None,
    );
    assert_eq!(status, 404);
    let registry_host = &sb.env["STEVEDORE_SANDBOX_REGISTRY"];
    let (_, index) =
        crate::push::skopeo_inspect(&sb, &format!("{registry_host}/team/app:{fallback}"));
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{index}");
    for m in listed {
        let doc = artifact_document(&sb, m["digest"].as_str().unwrap());
        match m["artifactType"].as_str().unwrap() {
            "application/spdx+json" => assert_eq!(doc, sbom),
            "application/vnd.in-toto+json" => check_provenance(&doc, &digest),
            other => panic!("unexpected artifact {other}"),
        }
    }
    let verify = |branch: &str| {
        stevedore(&[
            "verify",
            &format!("{registry_host}/team/app:v1"),
            "--key",
            "awskms:///alias/ci-signing",
            "--provenance-repository",
            REPOSITORY_URL,
            "--provenance-branch",
            branch,
        ])
        .sandbox(&sb, true)
        .run()
    };
    verify("main").success();
    let other = verify("release");
    assert_eq!(other.code, 1, "{}", other.all());
    assert!(
        other.stderr.contains("it names refs/heads/main"),
        "{}",
        other.stderr
    );
    assert!(
        other.stderr.contains("wanted repository"),
        "{}",
        other.stderr
    );
}

/// The task-definition revisions of family `web`.
fn revisions(sb: &SandboxProc) -> usize {
    sb.boto3("print(len(ecs.list_task_definitions(familyPrefix='web')['taskDefinitionArns']))")
        .as_u64()
        .unwrap() as usize
}

/// Cluster `c1` with service `web` running `image` in container `app`.
pub(crate) fn service(sb: &SandboxProc, image: &str) {
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {image:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1)\n\
         print(1)"
    ));
}

/// `deploy` of `team/app:<tag>` to c1/web, requiring a signature by alias/ci-signing.
pub(crate) fn deploy_requiring_signature(sb: &SandboxProc, tag: &str) -> Output {
    let container = format!(
        "app={}/team/app:{tag}",
        sb.env["STEVEDORE_SANDBOX_REGISTRY"]
    );
    let key = "awskms:///alias/ci-signing";
    let mut args = vec![
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--container",
        &container,
    ];
    args.extend([
        "--require-signature",
        key,
        "--poll-interval",
        "300ms",
        "--timeout",
        "120s",
    ]);
    stevedore(&args).sandbox(sb, true).run()
}

#[test]
fn each_way_a_signature_fails_has_its_own_message_and_a_deploy_that_requires_one_registers_nothing()
{
    let sb = SandboxProc::start();
    let work = tempfile::tempdir().unwrap();
    let ours = create_key(&sb, "ci-signing");
    let theirs = create_key(&sb, "other");
    service(&sb, &sb.push_image("base", "v1", &[]));
    let registry = sb.env["STEVEDORE_SANDBOX_REGISTRY"].clone();
    let key = "awskms:///alias/ci-signing";
    let signed = |seed: u8, tag: &str, with: &str| {
        printed_digest(
            &push(&sb, &layout(work.path(), seed), tag, &["--sign", with])
                .success()
                .stdout,
        )
    };
    let verify = |tag: &str| {
        stevedore(&[
            "verify",
            &format!("{registry}/team/app:{tag}"),
            "--key",
            key,
        ])
        .sandbox(&sb, true)
        .run()
    };
    let deploy = |tag: &str| deploy_requiring_signature(&sb, tag);

    // Signed by our key: verified, deployed, pinned to the digest that was verified.
    let good = signed(1, "good", key);
    assert!(verify("good")
        .success()
        .stdout
        .contains(&format!("signed by {key} ({ours})")));
    let before = revisions(&sb);
    deploy("good").success();
    assert_eq!(revisions(&sb), before + 1);
    let image = sb.boto3("print(json.dumps(ecs.describe_task_definition(taskDefinition='web')['taskDefinition']['containerDefinitions'][0]['image']))");
    assert_eq!(image, json!(format!("{registry}/team/app@{good}")));

    // Signed by another key.
    signed(2, "other", "awskms:///alias/other");
    // Signed by ours, then the signature altered (one byte of it, still valid DER).
    let tampered = signed(3, "tampered", key);
    let sig_path = format!("/v2/team/app/manifests/{}.sig", tampered.replace(':', "-"));
    let (_, m) = registry_call(&sb, "GET", &sig_path, None);
    let mut m: Value = serde_json::from_str(&m).unwrap();
    let b64 = m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    use base64::Engine;
    let mut der = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] =
        json!(base64::engine::general_purpose::STANDARD.encode(&der));
    let (status, body) = registry_call(
        &sb,
        "PUT",
        &sig_path,
        Some(("application/vnd.oci.image.manifest.v1+json", &m.to_string())),
    );
    assert_eq!(status, 201, "{body}");
    // Signed by ours, its unsigned key annotation rewritten to name another key: `verify`
    // names the key that verified, never the annotation's claim.
    let liar = signed(7, "liar", key);
    let liar_path = format!("/v2/team/app/manifests/{}.sig", liar.replace(':', "-"));
    let (_, m) = registry_call(&sb, "GET", &liar_path, None);
    let mut m: Value = serde_json::from_str(&m).unwrap();
    m["layers"][0]["annotations"]["dev.stevedore/key"] = json!(theirs);
    let (status, body) = registry_call(
        &sb,
        "PUT",
        &liar_path,
        Some(("application/vnd.oci.image.manifest.v1+json", &m.to_string())),
    );
    assert_eq!(status, 201, "{body}");
    let said = verify("liar").success().stdout;
    assert!(
        said.contains(&format!("signed by {key} ({ours})")),
        "{said}"
    );
    assert!(
        !said.contains(&theirs),
        "the annotation's claim was repeated: {said}"
    );
    // Signed, then another image pushed under the same tag.
    signed(4, "changed", key);
    push(&sb, &layout(work.path(), 5), "changed", &[]).success();
    // An unsigned image given a copy of another image's valid signature.
    let copied = printed_digest(
        &push(&sb, &layout(work.path(), 6), "copied", &[])
            .success()
            .stdout,
    );
    let (_, good_sig) = registry_call(
        &sb,
        "GET",
        &format!("/v2/team/app/manifests/{}.sig", good.replace(':', "-")),
        None,
    );
    let copy_path = format!("/v2/team/app/manifests/{}.sig", copied.replace(':', "-"));
    let (status, body) = registry_call(
        &sb,
        "PUT",
        &copy_path,
        Some(("application/vnd.oci.image.manifest.v1+json", &good_sig)),
    );
    assert_eq!(status, 201, "{body}");

    for (tag, says) in [
        ("other", format!("not signed by {ours}; its unverified annotation names another key ({theirs})")),
        ("tampered", "the payload or the signature was altered after signing".to_string()),
        ("changed", "no signature: nothing is stored under sha256-".to_string()),
        ("copied", format!("the signature is for {good}, not for {copied}: the image changed after it was signed")),
    ] {
        let v = verify(tag);
        assert_eq!(v.code, 1, "{tag}: {}", v.all());
        assert!(v.stderr.contains(&says), "{tag}: wanted {says:?} in {}", v.stderr);
        assert_eq!(v.stderr.trim().lines().count(), 1, "{tag}: one line: {}", v.stderr);
        let before = revisions(&sb);
        let d = deploy(tag);
        assert_ne!(d.code, 0, "{tag}: {}", d.all());
        assert!(d.stderr.contains(&says), "{tag}: wanted {says:?} in {}", d.stderr);
        assert!(d.stderr.contains("nothing was registered"), "{tag}: {}", d.stderr);
        assert_eq!(revisions(&sb), before, "{tag}: a revision was registered");
    }
}
