//! The one HTTP endpoint: AWS APIs routed by protocol (X-Amz-Target for awsJson1_1, the form's
//! Action for STS's awsQuery), request authentication, fault injection, and `/_sandbox/*` control.

use crate::app::App;
use crate::awsjson::{json_response, xml_error, xml_response, AwsError};
use crate::containers::{probe, start_containers};
use crate::ecs::{self, Ctx};
use crate::sigv4;
use crate::state::Caller;
use crate::{ecr, sts};
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::{any, get, post, put};
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::control::*;

/// The AWS endpoint and the `/_sandbox/*` control routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/faults", get(get_faults).put(put_faults))
        .route(
            "/_sandbox/registry-faults",
            get(get_registry_faults).put(put_registry_faults),
        )
        .route("/_sandbox/clock", get(get_clock).post(post_clock))
        .route("/_sandbox/roles/{name}", put(put_role))
        .route("/_sandbox/token", post(post_token))
        .route("/_sandbox/calls", get(get_calls))
        .route("/_sandbox/alarms", put(put_alarm))
        .route("/_sandbox/hooks", put(put_hook))
        .route("/_sandbox/listeners", get(crate::listeners::list))
        .route(
            "/_sandbox/registry-calls",
            get(get_registry_calls).delete(delete_registry_calls),
        )
        .route("/", any(api))
        .route("/schedules/{name}", any(crate::schedules_api::scheduler))
        .route(
            "/_sandbox/schedules/{group}/{name}/run",
            post(crate::schedules_api::run_schedule),
        )
        .route(
            "/_sandbox/rules/{bus}/{name}/run",
            post(crate::schedules_api::run_rule),
        )
        .fallback(|| async {
            json_response(Err(AwsError::new(
                404,
                "UnknownOperationException",
                "no such path on the sandbox",
            )))
        })
        .with_state(app)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Service {
    Ecr,
    EcrPublic,
    Ecs,
    CodeDeploy,
    Kms,
    Sts,
    Events,
    Scheduler,
    Logs,
    Ec2,
}

impl Service {
    /// The service name in a SigV4 credential scope.
    fn signing_name(self) -> &'static str {
        match self {
            Service::Ecr => "ecr",
            Service::EcrPublic => "ecr-public",
            Service::Ecs => "ecs",
            Service::CodeDeploy => "codedeploy",
            Service::Kms => "kms",
            Service::Sts => "sts",
            Service::Events => "events",
            Service::Scheduler => "scheduler",
            Service::Logs => "logs",
            Service::Ec2 => "ec2",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::Ecr => "ECR",
            Service::EcrPublic => "ECRPublic",
            Service::Ecs => "ECS",
            Service::CodeDeploy => "CodeDeploy",
            Service::Kms => "KMS",
            Service::Sts => "STS",
            Service::Events => "EventBridge",
            Service::Scheduler => "Scheduler",
            Service::Logs => "CloudWatchLogs",
            Service::Ec2 => "EC2",
        }
    }
}

/// Check the request's SigV4 signature and credentials; return the caller.
pub(crate) fn authenticate(
    app: &App,
    service: Service,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, AwsError> {
    let sts = service == Service::Sts;
    let err = |sts_code: &str, json_code: &str, msg: &str| {
        if service == Service::Ec2 {
            // EC2 answers every credential problem as AuthFailure.
            AwsError::new(401, "AuthFailure", msg)
        } else if sts {
            AwsError::new(403, sts_code, msg)
        } else {
            AwsError::client(json_code, msg)
        }
    };
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let auth = sigv4::parse(header).ok_or_else(|| {
        err(
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    })?;
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    // ECR Public's API lives in us-east-1 only; the other services answer in any region here.
    let region = (service == Service::EcrPublic).then_some("us-east-1");
    if let Err(e) = sigv4::check_scope(&auth, amz_date, service.signing_name(), region, now) {
        return Err(match e {
            sigv4::ScopeError::Incomplete(m) => AwsError::new(403, "IncompleteSignature", m),
            sigv4::ScopeError::Invalid(m) if sts => AwsError::new(403, "SignatureDoesNotMatch", m),
            sigv4::ScopeError::Invalid(m) => AwsError::new(403, "InvalidSignatureException", m),
        });
    }
    let st = app.lock();
    let invalid = || {
        err(
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    };
    let cred = st.credentials.get(&auth.access_key).ok_or_else(invalid)?;
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    if cred.session_token.as_deref() != token {
        return Err(invalid());
    }
    if cred.expires.is_some_and(|e| e <= st.clock.now()) {
        return Err(if sts {
            AwsError::client(
                "ExpiredToken",
                "The security token included in the request is expired",
            )
        } else {
            AwsError::client(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            )
        });
    }
    if !sigv4::verify(
        &auth,
        &cred.secret,
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        headers,
        body,
    ) {
        return Err(err(
            "SignatureDoesNotMatch",
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(Caller {
        arn: cred.arn.clone(),
        user_id: cred.user_id.clone(),
        role: cred.role.clone(),
        region: auth.region.clone(),
    })
}

/// Record the call and apply the configured faults. `Err` is the injected failure.
pub(crate) async fn faults(app: &App, service: Service, op: &str) -> Result<(), AwsError> {
    let (latency, fail) = {
        let mut st = app.lock();
        let now = st.clock.now();
        st.calls.push((now, format!("{}.{op}", service.name())));
        let f = &mut st.faults;
        let applies = f.operations.is_empty() || f.operations.iter().any(|o| o == op);
        let mut fail = None;
        if applies {
            if f.throttle_next > 0 {
                f.throttle_next -= 1;
                fail = Some(AwsError::throttling());
            } else if f.throttle_share > 0.0 && rand::random::<f64>() < f.throttle_share {
                fail = Some(AwsError::throttling());
            } else if f.error_share > 0.0 && rand::random::<f64>() < f.error_share {
                fail = Some(AwsError::new(
                    500,
                    "InternalFailure",
                    "injected server error",
                ));
            }
        }
        (if applies { f.latency_ms } else { 0 }, fail)
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    match fail {
        Some(mut e) if service == Service::Sts && e.code == "ThrottlingException" => {
            e.code = "Throttling".into();
            Err(e)
        }
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn api(
    AxState(app): AxState<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = match prefix {
            "AmazonEC2ContainerRegistry_V20150921" => Service::Ecr,
            "SpencerFrontendService" => Service::EcrPublic,
            "AmazonEC2ContainerServiceV20141113" => Service::Ecs,
            "Logs_20140328" => Service::Logs,
            "CodeDeploy_20141006" => Service::CodeDeploy,
            "TrentService" => Service::Kms,
            "AWSEvents" => {
                return crate::schedules_api::events(&app, &method, &uri, &headers, &body, op).await
            }
            _ => {
                return json_response(Err(AwsError::client(
                    "UnknownOperationException",
                    format!("The sandbox does not implement {target}"),
                )))
            }
        };
        let req: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return json_response(Err(AwsError::client(
                        "SerializationException",
                        format!("request body is not JSON: {e}"),
                    )))
                }
            }
        };
        let caller = match authenticate(&app, service, &method, &uri, &headers, &body) {
            Ok(c) => c,
            Err(e) => return json_response(Err(e)),
        };
        if let Err(e) = authorize(&app, service, op, &req, &caller) {
            return json_response(Err(e));
        }
        if let Err(e) = faults(&app, service, op).await {
            return json_response(Err(e));
        }
        let result = match service {
            Service::Ecr => ecr::handle(&app, false, op, &req).await,
            Service::EcrPublic => ecr::handle(&app, true, op, &req).await,
            Service::Logs => logs_op(&app, op, &req, &caller),
            Service::Kms => kms_op(&app, op, &req, &caller),
            Service::CodeDeploy => ecs_call(&app, &caller, |st, ctx| {
                ecs::codedeploy_api::handle(st, ctx, op, &req)
            }),
            _ => ecs_op(&app, op, &req, &caller),
        };
        let result = match (op, result) {
            ("GetAuthorizationToken", Ok(v)) => Ok(issue_registry_password(&app, &caller, v)),
            (_, r) => r,
        };
        return json_response(result);
    }
    let params: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let Some(action) = params.get("Action").cloned() else {
        return json_response(Err(AwsError::client(
            "UnknownOperationException",
            "no X-Amz-Target header and no Action parameter: not an AWS request the sandbox knows",
        )));
    };
    if crate::ec2::answers(&action) {
        return ec2_op(&app, &action, &method, &uri, &headers, &body, &params).await;
    }
    let result = if action == "AssumeRoleWithWebIdentity" {
        // Unsigned by design: the token is the credential.
        match faults(&app, Service::Sts, &action).await {
            Ok(()) => sts::assume_role_with_web_identity(&mut app.lock(), &app.issuer, &params),
            Err(e) => Err(e),
        }
    } else {
        match authenticate(&app, Service::Sts, &method, &uri, &headers, &body) {
            Err(e) => Err(e),
            Ok(caller) => match faults(&app, Service::Sts, &action).await {
                Err(e) => Err(e),
                Ok(()) => match action.as_str() {
                    "GetCallerIdentity" => Ok(sts::get_caller_identity(&app.lock(), &caller)),
                    "AssumeRole" => sts::assume_role(&mut app.lock(), &caller, &params),
                    other => Err(AwsError::client(
                        "InvalidAction",
                        format!("The sandbox does not implement STS {other}"),
                    )),
                },
            },
        }
    };
    match result {
        Ok(inner) => xml_response(&action, &inner),
        Err(e) => xml_error(&e),
    }
}

/// An EC2 query call: authenticated, authorized (`ec2:<Action>` on `*`: EC2's Describe actions
/// take no resource), faults applied, answered in EC2's XML.
async fn ec2_op(
    app: &Arc<App>,
    action: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    params: &BTreeMap<String, String>,
) -> Response {
    let caller = match authenticate(app, Service::Ec2, method, uri, headers, body) {
        Ok(c) => c,
        Err(e) => return crate::ec2::error(&e),
    };
    let need = crate::iam::Need::new(&format!("ec2:{action}"), "*");
    if let Err(mut e) = authorize_needs(app, &caller, &[need]) {
        e.code = "UnauthorizedOperation".into();
        e.message = format!(
            "You are not authorized to perform this operation. User: {} is not authorized to perform: ec2:{action} because no identity-based policy allows the ec2:{action} action",
            caller.arn
        );
        return crate::ec2::error(&e);
    }
    if let Err(e) = faults(app, Service::Ec2, action).await {
        let mut e = e;
        if e.code == "ThrottlingException" {
            e.code = "RequestLimitExceeded".into();
            e.message = "Request limit exceeded.".into();
        }
        return crate::ec2::error(&e);
    }
    crate::ec2::describe_network_interfaces(app, &caller.region, params)
}

/// The permissions policy of the caller's role; `None` when the caller may do anything.
fn caller_policy(app: &App, caller: &Caller) -> Option<Value> {
    let role = caller.role.as_ref()?;
    app.lock().roles.get(role)?.permissions_policy.clone()
}

/// IAM's check of an identity policy, before the service sees the request (as in AWS, a call
/// that is not allowed fails with AccessDeniedException whatever its parameters).
fn authorize(
    app: &App,
    service: Service,
    op: &str,
    req: &Value,
    caller: &Caller,
) -> Result<(), AwsError> {
    let Some(policy) = caller_policy(app, caller) else {
        return Ok(());
    };
    // ECS resources live in the region the call was signed for; the sandbox's ECR in its own.
    let scope = crate::iam::Scope {
        region: if matches!(service, Service::Ecs | Service::CodeDeploy | Service::Kms) {
            &caller.region
        } else {
            app.region()
        },
        account: app.account(),
    };
    let needs = match service {
        Service::Ecr => crate::iam::ecr_needs(&scope, false, op, req),
        Service::EcrPublic => crate::iam::ecr_needs(&scope, true, op, req),
        Service::Ecs => crate::iam::ecs_needs(&scope, op, req),
        Service::CodeDeploy => {
            let (group, config) = deployment_group_of(app, &caller.region, req);
            crate::iam::codedeploy_needs(&scope, op, req, group, &config)
        }
        Service::Kms => {
            let st = app.lock();
            let key = st.kms.resource(&caller.region, app.account(), op, req);
            vec![crate::iam::Need::new(&format!("kms:{op}"), key)]
        }
        Service::Logs => vec![crate::iam::Need::new(
            &format!("logs:{op}"),
            crate::logs::resource(&caller.region, app.account(), op, req),
        )],
        Service::Ec2 => vec![crate::iam::Need::new(&format!("ec2:{op}"), "*")],
        Service::Sts | Service::Events | Service::Scheduler => return Ok(()),
    };
    check_needs(&policy, caller, &needs)
}

/// The first of `needs` the caller's role policy does not allow, as AccessDeniedException.
pub(crate) fn authorize_needs(
    app: &App,
    caller: &Caller,
    needs: &[crate::iam::Need],
) -> Result<(), AwsError> {
    match caller_policy(app, caller) {
        None => Ok(()),
        Some(policy) => check_needs(&policy, caller, needs),
    }
}

fn check_needs(
    policy: &Value,
    caller: &Caller,
    needs: &[crate::iam::Need],
) -> Result<(), AwsError> {
    match crate::iam::first_denied(policy, needs) {
        None => Ok(()),
        Some((need, d)) => Err(AwsError::client(
            "AccessDeniedException",
            crate::iam::denial(&caller.arn, need, d),
        )),
    }
}

/// Replace the registry's own password in a GetAuthorizationToken answer with one issued to
/// the caller, so the registry front can hold registry requests to the caller's policy.
fn issue_registry_password(app: &App, caller: &Caller, mut answer: Value) -> Value {
    use base64::Engine;
    use rand::distr::{Alphanumeric, SampleString};
    let password = Alphanumeric.sample_string(&mut rand::rng(), 40);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    app.registry_grants
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            password,
            crate::proxy::Grant {
                principal: caller.arn.clone(),
                policy: caller_policy(app, caller),
                region: app.region().to_string(),
                account: app.account().to_string(),
            },
        );
    let data = &mut answer["authorizationData"];
    match data {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| i["authorizationToken"] = Value::String(token.clone())),
        other => other["authorizationToken"] = Value::String(token),
    }
    answer
}

/// A CloudWatch Logs call: the ECS simulation is advanced first, so a task's stream holds what
/// it has printed by now.
fn logs_op(app: &Arc<App>, op: &str, req: &Value, caller: &Caller) -> Result<Value, AwsError> {
    let region = caller.region.as_str();
    let mut guard = app.lock();
    let st = &mut *guard;
    let (account, now) = (st.config.account_id.clone(), st.clock.now());
    let ctx = Ctx {
        region,
        account: &account,
        now,
    };
    let ecs = st.ecs.region(region);
    ecs::tick(ecs, &ctx);
    crate::logs::handle(&mut st.logs, ecs, (region, &account), now, op, req)
}

/// One KMS call in the caller's region.
fn kms_op(app: &App, op: &str, req: &Value, caller: &Caller) -> Result<Value, AwsError> {
    let mut st = app.lock();
    let (account, now) = (st.config.account_id.clone(), st.clock.now());
    crate::kms::handle(&mut st.kms, (&caller.region, &account), now, op, req)
}

/// The application and deployment group a CodeDeploy request's deploymentId belongs to, and
/// the deployment configuration a CreateDeployment would use (its own, else its group's).
fn deployment_group_of(app: &App, region: &str, req: &Value) -> (Option<(String, String)>, String) {
    let mut st = app.lock();
    let cd = &st.ecs.region(region).codedeploy;
    let group = req["deploymentId"].as_str().and_then(|id| {
        let d = cd.deployments.iter().find(|d| d.id == id)?;
        Some((d.app.clone(), d.group.clone()))
    });
    let named = (
        req["applicationName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        req["deploymentGroupName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    let config = req["deploymentConfigName"]
        .as_str()
        .map(String::from)
        .or_else(|| cd.groups.get(&named).map(|g| g.config_name().to_string()))
        .unwrap_or_else(|| "CodeDeployDefault.ECSAllAtOnce".into());
    (group, config)
}

pub(crate) fn ecs_op(
    app: &Arc<App>,
    op: &str,
    req: &Value,
    caller: &Caller,
) -> Result<Value, AwsError> {
    ecs_call(app, caller, |ecs, ctx| {
        ecs::handle(ecs, ctx, op, req, &caller.arn)
    })
}

/// One call into the ECS simulation of the caller's region (ECS itself or CodeDeploy, which
/// drives it): the simulation is advanced first, then the containers and listeners it asks
/// for are started outside the call.
fn ecs_call(
    app: &Arc<App>,
    caller: &Caller,
    call: impl FnOnce(&mut crate::ecs::EcsState, &Ctx) -> Result<Value, AwsError>,
) -> Result<Value, AwsError> {
    in_region(app, &caller.region, call)
}

/// Run `call` on the ECS simulation of `region` after advancing it, then start what the
/// simulation asks for outside the lock: containers, image probes, listeners.
pub(crate) fn in_region<T>(
    app: &Arc<App>,
    region: &str,
    call: impl FnOnce(&mut crate::ecs::EcsState, &Ctx) -> T,
) -> T {
    let (result, probes) = {
        let mut guard = app.lock();
        let st = &mut *guard;
        let (account, now) = (st.config.account_id.clone(), st.clock.now());
        let ctx = Ctx {
            region,
            account: &account,
            now,
        };
        let ecs = st.ecs.region(region);
        ecs::tick(ecs, &ctx);
        let r = call(ecs, &ctx);
        // The next tick may have more to start or remove; take what there is now.
        let runs = std::mem::take(&mut ecs.to_run);
        let removals = std::mem::take(&mut ecs.to_remove);
        if let Some(docker) = app.docker.clone() {
            start_containers(app, docker, runs, removals);
        }
        crate::listeners::open_new(app, region, ecs);
        crate::public_ips::open_new(app, region, ecs);
        (r, std::mem::take(&mut ecs.to_probe))
    };
    for image in probes {
        let (app, region) = (app.clone(), region.to_string());
        tokio::spawn(async move {
            let fate = probe(&app, &image).await;
            app.lock().ecs.region(&region).fates.insert(image, fate);
        });
    }
    result
}
