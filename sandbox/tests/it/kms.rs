//! KMS through the AWS SDK for Rust, against moto's server and the sandbox: the same requests get
//! the same answers where moto follows AWS, and the sandbox's answers parse into the SDK's types
//! (its enums would take an unknown value as `Unknown`). Where moto departs from AWS's
//! documentation (GetPublicKey leaves out KeySpec; Verify answers `SignatureValid: false` where
//! AWS raises KMSInvalidSignatureException; DryRun is ignored), the sandbox is checked alone.

use crate::harness::*;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};

fn outcome<T, E: ProvideErrorMetadata>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().unwrap_or("?").to_string(),
    }
}

/// The steps both must agree on, and the key's id.
async fn kms_sequence(conf: &aws_config::SdkConfig) -> (Vec<(String, String)>, String) {
    let kms = aws_sdk_kms::Client::new(conf);
    let mut log: Vec<(String, String)> = Vec::new();
    let mut note = |step: &str, what: String| log.push((step.to_string(), what));
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata");
    note(
        "CreateKey spec",
        format!("{:?} {:?}", key.key_spec(), key.key_usage()),
    );
    note(
        "CreateKey algorithms",
        format!("{:?}", key.signing_algorithms()),
    );
    let id = key.key_id().to_string();
    let alias = |name: &str| {
        kms.create_alias()
            .alias_name(name)
            .target_key_id(&id)
            .send()
    };
    note("CreateAlias", outcome(&alias("alias/xcheck").await));
    note("CreateAlias again", outcome(&alias("alias/xcheck").await));
    let public = kms.get_public_key().key_id("alias/xcheck").send().await;
    note("GetPublicKey", outcome(&public));
    let public = public.unwrap();
    note("GetPublicKey usage", format!("{:?}", public.key_usage()));
    note(
        "GetPublicKey DER length",
        public
            .public_key()
            .map_or(0, |b| b.as_ref().len())
            .to_string(),
    );
    let sign = |key: &str, algorithm: SigningAlgorithmSpec| {
        kms.sign()
            .key_id(key)
            .message(Blob::new("payload"))
            .message_type(MessageType::Raw)
            .signing_algorithm(algorithm)
            .send()
    };
    let signed = sign("alias/xcheck", SigningAlgorithmSpec::EcdsaSha256).await;
    note("Sign", outcome(&signed));
    let signed = signed.unwrap();
    note(
        "Sign key",
        (signed.key_id() == Some(key.arn().unwrap_or_default())).to_string(),
    );
    note(
        "Sign algorithm",
        format!("{:?}", signed.signing_algorithm()),
    );
    note(
        "Sign unknown alias",
        outcome(&sign("alias/nope", SigningAlgorithmSpec::EcdsaSha256).await),
    );
    let verified = kms
        .verify()
        .key_id(&id)
        .message(Blob::new("payload"))
        .signature(signed.signature().unwrap().clone())
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    note(
        "Verify",
        format!(
            "{} {:?}",
            outcome(&verified),
            verified.as_ref().map(|v| v.signature_valid())
        ),
    );
    (log, id)
}

#[tokio::test]
async fn kms_answers_the_sdk_as_moto_does_and_as_aws_documents_where_moto_does_not() {
    let moto = Moto::start();
    let sandbox = Sandbox::start(1.0);
    let (from_moto, _) = kms_sequence(&moto.config().await).await;
    let conf = sandbox.config(None, 1).await;
    let (from_sandbox, id) = kms_sequence(&conf).await;
    eprintln!("{from_sandbox:?}");
    assert_eq!(from_moto, from_sandbox, "moto and the sandbox disagree");
    assert!(from_sandbox.contains(&("CreateAlias again".into(), "AlreadyExistsException".into())));
    assert!(from_sandbox.contains(&("Sign unknown alias".into(), "NotFoundException".into())));
    assert!(from_sandbox.contains(&("GetPublicKey DER length".into(), "91".into())));

    // Where moto departs from AWS: GetPublicKey names the KeySpec, a signature that does not
    // verify is an error, and DryRun signs nothing.
    let kms = aws_sdk_kms::Client::new(&conf);
    let public = kms.get_public_key().key_id(&id).send().await.unwrap();
    assert_eq!(public.key_spec(), Some(&KeySpec::EccNistP256));
    let bad = kms
        .verify()
        .key_id(&id)
        .message(Blob::new("payload"))
        .signature(Blob::new(vec![
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01,
        ]))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    assert_eq!(outcome(&bad), "KMSInvalidSignatureException");
    let dry = kms
        .sign()
        .key_id(&id)
        .message(Blob::new("payload"))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .dry_run(true)
        .send()
        .await;
    assert_eq!(outcome(&dry), "DryRunOperationException");
}
