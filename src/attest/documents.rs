//! The documents attached to an image, pure: an SBOM as given (SPDX or CycloneDX JSON, told
//! apart by their own fields) and an in-toto statement with a SLSA v1 provenance predicate built
//! from the CircleCI job's variables.

use serde_json::{json, Value};

pub const SPDX: &str = "application/spdx+json";
pub const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// What the provenance says the build was: a CircleCI job that pushed with stevedore.
pub const BUILD_TYPE: &str = "https://github.com/stevedore-ci/stevedore/circleci-job/v1";

/// The media type of an SBOM file: SPDX JSON (`spdxVersion`) or CycloneDX JSON
/// (`bomFormat: CycloneDX`); an in-toto statement wrapping either is read through.
pub fn sbom_media_type(bytes: &[u8]) -> Result<&'static str, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("is not JSON ({e})"))?;
    let doc = if v["predicate"].is_object() {
        &v["predicate"]
    } else {
        &v
    };
    if doc["spdxVersion"].is_string() {
        Ok(SPDX)
    } else if doc["bomFormat"] == "CycloneDX" {
        Ok(CYCLONEDX)
    } else {
        Err("is neither SPDX JSON (spdxVersion) nor CycloneDX JSON (bomFormat: CycloneDX); syft writes either with -o spdx-json or -o cyclonedx-json".into())
    }
}

/// The CircleCI variables provenance is built from; missing ones are named.
const REQUIRED: [&str; 3] = ["CIRCLE_REPOSITORY_URL", "CIRCLE_SHA1", "CIRCLE_BUILD_URL"];

/// What the job's OIDC token says of its source: `(origin, ref)` (see
/// [`crate::auth::oidc::Claims::vcs`]). Variables any step can set; the token's claims it cannot.
pub type TokenSource = (Option<String>, Option<String>);

/// A repository URL as an origin: `git@github.com:acme/app.git`, `https://github.com/acme/app`
/// and `github.com/acme/app` all read `github.com/acme/app`. Pure.
pub fn origin_of(url: &str) -> String {
    let u = url.trim();
    let u = u.split_once("://").map_or(u, |(_, rest)| rest);
    let u = u.split_once('@').map_or(u, |(_, rest)| rest);
    // scp-like `host:owner/repo`: the first ':' before any '/' separates the host.
    let u = match (u.find(':'), u.find('/')) {
        (Some(c), Some(s)) if c < s => format!("{}/{}", &u[..c], &u[c + 1..]),
        (Some(c), None) => format!("{}/{}", &u[..c], &u[c + 1..]),
        _ => u.to_string(),
    };
    let u = u.trim_end_matches('/');
    let u = u.strip_suffix(".git").unwrap_or(u);
    match u.split_once('/') {
        Some((host, path)) => format!("{}/{path}", host.to_ascii_lowercase()),
        None => u.to_ascii_lowercase(),
    }
}

/// The repository and ref a provenance names: the job's variables, checked against the OIDC
/// token's claims when the job has a token; a disagreement is refused (a step changed
/// `CIRCLE_BRANCH` or `CIRCLE_REPOSITORY_URL`). The ref is the token's when it names one. Pure.
pub fn source(
    var: &dyn Fn(&str) -> Option<String>,
    token: Option<&TokenSource>,
) -> Result<(String, String), String> {
    let repository = var("CIRCLE_REPOSITORY_URL").unwrap_or_default();
    let job_ref = match (var("CIRCLE_TAG"), var("CIRCLE_BRANCH")) {
        (Some(t), _) => format!("refs/tags/{t}"),
        (None, Some(b)) => format!("refs/heads/{b}"),
        (None, None) => String::new(),
    };
    let Some((origin, token_ref)) = token else {
        return Ok((repository, job_ref));
    };
    if let Some(o) = origin {
        if origin_of(&repository) != origin_of(o) {
            return Err(format!(
                "the job's OIDC token says the source is {o}, but CIRCLE_REPOSITORY_URL is {repository}: a step changed the variable; unset it or fix it (a provenance names what the token says)"
            ));
        }
    }
    match token_ref {
        Some(t) if !job_ref.is_empty() && job_ref != *t => Err(format!(
            "the job's OIDC token says the ref is {t}, but CIRCLE_BRANCH/CIRCLE_TAG say {job_ref}: a step changed them; unset them or fix them (a provenance names what the token says)"
        )),
        Some(t) => Ok((repository, t.clone())),
        None => Ok((repository, job_ref)),
    }
}

/// The in-toto statement for the image `name` (`host/path`) at `digest`, built from the job's
/// variables (`var`), checked against its OIDC token's claims (`token`), at `now` (RFC 3339).
pub fn provenance(
    var: &dyn Fn(&str) -> Option<String>,
    token: Option<&TokenSource>,
    name: &str,
    digest: &str,
    now: &str,
) -> Result<Value, String> {
    in_job(var)?;
    let get = |k: &str| var(k).unwrap_or_default();
    let (repository, git_ref) = source(var, token)?;
    let workflow = var("CIRCLE_WORKFLOW_ID")
        .map(|id| format!("https://app.circleci.com/pipelines/workflows/{id}"));
    Ok(json!({
        "_type": STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "repository": repository,
                    "ref": git_ref,
                    "workflow": {"id": var("CIRCLE_WORKFLOW_ID"), "url": workflow},
                    "job": {"name": var("CIRCLE_JOB"), "url": get("CIRCLE_BUILD_URL")},
                },
                "internalParameters": {
                    "project": var("CIRCLE_PROJECT_USERNAME").zip(var("CIRCLE_PROJECT_REPONAME")).map(|(o, r)| format!("{o}/{r}")),
                    "pipelineNumber": var("CIRCLE_PIPELINE_NUMBER"),
                },
                "resolvedDependencies": [{
                    "uri": format!("git+{repository}{}", if git_ref.is_empty() { String::new() } else { format!("@{git_ref}") }),
                    "digest": {"gitCommit": get("CIRCLE_SHA1")},
                }],
            },
            "runDetails": {
                "builder": {"id": "https://circleci.com", "version": {"stevedore": env!("CARGO_PKG_VERSION")}},
                "metadata": {"invocationId": get("CIRCLE_BUILD_URL"), "startedOn": now},
            },
        },
    }))
}

/// Whether the job's variables provenance is built from are set; the error names those missing.
pub fn in_job(var: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|v| var(v).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "it describes the CircleCI job, and {} not set; run it in a CircleCI job or drop --provenance",
        not_set(&missing)
    ))
}

/// `A is` or `A, B are`: the missing variables, for "… not set".
fn not_set(missing: &[&str]) -> String {
    match missing {
        [one] => format!("{one} is"),
        more => format!("{} are", more.join(", ")),
    }
}

/// What a provenance statement says: `(subject digest, repository, ref, commit)`.
pub fn provenance_claims(statement: &Value) -> (String, String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let p = &statement["predicate"]["buildDefinition"];
    (
        format!("sha256:{}", s(&statement["subject"][0]["digest"]["sha256"])),
        s(&p["externalParameters"]["repository"]),
        s(&p["externalParameters"]["ref"]),
        s(&p["resolvedDependencies"][0]["digest"]["gitCommit"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tokens_source_wins_and_a_variable_that_disagrees_is_refused() {
        for url in [
            "git@github.com:acme/app.git",
            "https://github.com/acme/app",
            "ssh://git@GitHub.com/acme/app.git/",
            "github.com/acme/app",
        ] {
            assert_eq!(origin_of(url), "github.com/acme/app", "{url}");
        }
        let job = |branch: &'static str| {
            move |k: &str| match k {
                "CIRCLE_REPOSITORY_URL" => Some("git@github.com:acme/app.git".to_string()),
                "CIRCLE_BRANCH" => Some(branch.to_string()),
                _ => None,
            }
        };
        let token = |r: &str| (Some("github.com/acme/app".to_string()), Some(r.to_string()));
        let main = token("refs/heads/main");
        assert_eq!(
            source(&job("main"), Some(&main)).unwrap(),
            (
                "git@github.com:acme/app.git".into(),
                "refs/heads/main".into()
            )
        );
        let feature = token("refs/heads/feature");
        let e = source(&job("main"), Some(&feature)).unwrap_err();
        assert!(e.contains("token says the ref is refs/heads/feature, but CIRCLE_BRANCH/CIRCLE_TAG say refs/heads/main"), "{e}");
        let fork = (Some("github.com/evil/app".to_string()), None);
        assert!(source(&job("main"), Some(&fork))
            .unwrap_err()
            .contains("github.com/evil/app"));
        assert_eq!(source(&job("main"), None).unwrap().1, "refs/heads/main");
        let no_branch =
            |k: &str| (k == "CIRCLE_REPOSITORY_URL").then(|| "github.com/acme/app".to_string());
        assert_eq!(
            source(&no_branch, Some(&feature)).unwrap().1,
            "refs/heads/feature"
        );
    }

    #[test]
    fn sboms_are_told_apart_by_their_own_fields() {
        assert_eq!(sbom_media_type(br#"{"spdxVersion":"SPDX-2.3"}"#), Ok(SPDX));
        assert_eq!(
            sbom_media_type(br#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#),
            Ok(CYCLONEDX)
        );
        assert_eq!(
            sbom_media_type(br#"{"predicate":{"spdxVersion":"SPDX-2.3"}}"#),
            Ok(SPDX)
        );
        assert!(sbom_media_type(b"{}").unwrap_err().contains("neither SPDX"));
        assert!(sbom_media_type(b"<xml/>").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn provenance_names_the_jobs_repository_commit_and_the_image() {
        let env = |k: &str| {
            Some(
                match k {
                    "CIRCLE_REPOSITORY_URL" => "git@github.com:acme/app.git",
                    "CIRCLE_SHA1" => "0123abcd",
                    "CIRCLE_BRANCH" => "main",
                    "CIRCLE_BUILD_URL" => "https://circleci.com/gh/acme/app/42",
                    "CIRCLE_WORKFLOW_ID" => "w-1",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let d = format!("sha256:{}", "a".repeat(64));
        let p = provenance(&env, None, "reg/app", &d, "2026-12-02T00:00:00Z").unwrap();
        assert_eq!(p["predicateType"], SLSA_PROVENANCE_V1);
        assert_eq!(p["subject"][0]["digest"]["sha256"], "a".repeat(64));
        assert_eq!(
            p["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["url"],
            "https://app.circleci.com/pipelines/workflows/w-1"
        );
        assert_eq!(
            provenance_claims(&p),
            (
                d.clone(),
                "git@github.com:acme/app.git".into(),
                "refs/heads/main".into(),
                "0123abcd".into()
            )
        );
        let none = |_: &str| None;
        let e = provenance(&none, None, "reg/app", &d, "now").unwrap_err();
        assert!(
            e.contains("CIRCLE_REPOSITORY_URL, CIRCLE_SHA1, CIRCLE_BUILD_URL are not set"),
            "{e}"
        );
    }
}
