//! Doctor's questions to the registry, through the typed ECR SDKs (private and Public): does the
//! repository exist, and may the role push to it (probes with made-up values that change
//! nothing: an answer, or a refusal of the values, means IAM let the call through).

use crate::aws::error::describe;
use crate::config;
use aws_credential_types::Credentials;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};

/// What an ECR call answered, reduced to what doctor decides on.
pub(super) enum Answer<T> {
    Ok(T),
    /// The service refused: its error code and message.
    Refused {
        code: String,
        message: String,
    },
    /// No answer came (network, endpoint, TLS).
    Unreachable(String),
}

fn answer<T, O, E, R>(r: Result<O, SdkError<E, R>>, ok: impl FnOnce(O) -> T) -> Answer<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match r {
        Ok(o) => Answer::Ok(ok(o)),
        Err(e @ (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_))) => {
            Answer::Unreachable(describe(&e))
        }
        Err(e) => Answer::Refused {
            code: e.code().unwrap_or("UnknownError").to_string(),
            message: e.message().map_or_else(|| describe(&e), String::from),
        },
    }
}

/// The push probes, written once for both SDKs (their clients and types differ only in name).
macro_rules! probes {
    ($c:expr, $id:ty, $repo:expr) => {{
        let (zero, tag) = (
            format!("sha256:{}", "0".repeat(64)),
            "stevedore-doctor-probe",
        );
        let c = $c;
        let mut out = vec![(
            "GetAuthorizationToken",
            answer(c.get_authorization_token().send().await, drop),
        )];
        if let Some(repo) = $repo {
            let layers = c
                .batch_check_layer_availability()
                .repository_name(repo)
                .layer_digests(&zero);
            out.push((
                "BatchCheckLayerAvailability",
                answer(layers.send().await, drop),
            ));
            let id = <$id>::builder().image_tag(tag).build();
            let images = c.describe_images().repository_name(repo).image_ids(id);
            out.push(("DescribeImages", answer(images.send().await, drop)));
            let put = c
                .put_image()
                .repository_name(repo)
                .image_manifest("{}")
                .image_tag(tag);
            out.push(("PutImage", answer(put.send().await, drop)));
        }
        out
    }};
}

/// The registry doctor asks: private ECR in the region, or ECR Public (always us-east-1).
pub(super) enum Registry {
    Private(aws_sdk_ecr::Client),
    Public(aws_sdk_ecrpublic::Client),
}

impl Registry {
    /// A client with the SDK's configuration, signing with `creds` when given.
    pub async fn new(
        public: bool,
        region: &str,
        creds: Option<Credentials>,
    ) -> anyhow::Result<Registry> {
        let region = if public {
            config::ECR_PUBLIC_REGION
        } else {
            region
        };
        let conf = crate::aws::sdk::sdk_config(Some(region), false).await?;
        Ok(if public {
            let mut b = aws_sdk_ecrpublic::config::Builder::from(&conf);
            if let Some(c) = creds {
                b = b.credentials_provider(c);
            }
            Registry::Public(aws_sdk_ecrpublic::Client::from_conf(b.build()))
        } else {
            let mut b = aws_sdk_ecr::config::Builder::from(&conf);
            if let Some(c) = creds {
                b = b.credentials_provider(c);
            }
            Registry::Private(aws_sdk_ecr::Client::from_conf(b.build()))
        })
    }

    /// The prefix of this registry's IAM actions.
    pub fn prefix(&self) -> &'static str {
        match self {
            Registry::Private(_) => "ecr",
            Registry::Public(_) => "ecr-public",
        }
    }

    /// DescribeRepositories for `repo`: its URI, or `None` when it does not exist.
    pub async fn repository_uri(&self, repo: &str) -> Answer<Option<String>> {
        let uri = |u: Option<&str>| Some(u.unwrap_or(repo).to_string());
        let found = match self {
            Registry::Private(c) => answer(
                c.describe_repositories()
                    .repository_names(repo)
                    .send()
                    .await,
                |o| uri(o.repositories().first().and_then(|r| r.repository_uri())),
            ),
            Registry::Public(c) => answer(
                c.describe_repositories()
                    .repository_names(repo)
                    .send()
                    .await,
                |o| uri(o.repositories().first().and_then(|r| r.repository_uri())),
            ),
        };
        match found {
            Answer::Refused { code, .. } if code == "RepositoryNotFoundException" => {
                Answer::Ok(None)
            }
            other => other,
        }
    }

    /// The calls a push makes, each with values that change nothing: (action, answer).
    pub async fn push_probes(&self, repo: Option<&str>) -> Vec<(&'static str, Answer<()>)> {
        match self {
            Registry::Private(c) => probes!(c, aws_sdk_ecr::types::ImageIdentifier, repo),
            Registry::Public(c) => probes!(c, aws_sdk_ecrpublic::types::ImageIdentifier, repo),
        }
    }
}
