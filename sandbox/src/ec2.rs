//! EC2's DescribeNetworkInterfaces, for the interfaces of awsvpc tasks ([`crate::ecs::network`]),
//! in EC2's own query protocol as botocore's `ec2/2016-11-15` model has it: a form with
//! `Action`, `Version`, `NetworkInterfaceId.N` and `Filter.N.Name` / `Filter.N.Value.M`; an
//! answer of `<DescribeNetworkInterfacesResponse>` with `requestId` and a `networkInterfaceSet`
//! of `item`s (no Result wrapper, unlike awsQuery); errors as
//! `<Response><Errors><Error><Code>…` with `RequestID`.

use crate::app::App;
use crate::awsjson::{xml_escape, AwsError};
use crate::ecs::network::Eni;
use crate::ecs::EcsState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// The operations this module answers.
pub fn answers(action: &str) -> bool {
    action == "DescribeNetworkInterfaces"
}

/// DescribeNetworkInterfaces in the caller's region.
pub fn describe_network_interfaces(
    app: &Arc<App>,
    region: &str,
    params: &BTreeMap<String, String>,
) -> Response {
    if params.get("Version").map(String::as_str) != Some("2016-11-15") {
        return error(&AwsError::client(
            "InvalidParameterValue",
            "Version must be 2016-11-15",
        ));
    }
    let ids = numbered(params, "NetworkInterfaceId");
    let filters = filters(params);
    if params.get("DryRun").map(String::as_str) == Some("true") {
        return error(&AwsError::new(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    let found: Result<Vec<(Eni, String)>, AwsError> =
        crate::server::in_region(app, region, |ecs, _| select(ecs, &ids, &filters));
    match found {
        Ok(enis) => {
            let items: String = enis
                .iter()
                .map(|(e, _)| item(e, region, app.account()))
                .collect();
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeNetworkInterfacesResponse xmlns=\"{NAMESPACE}\"><requestId>{}</requestId><networkInterfaceSet>{items}</networkInterfaceSet></DescribeNetworkInterfacesResponse>",
                crate::awsjson::request_id()
            );
            xml(StatusCode::OK, body)
        }
        Err(e) => error(&e),
    }
}

/// `Name.1`, `Name.2`, … in order.
fn numbered(params: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    (1..)
        .map_while(|i| params.get(&format!("{name}.{i}")).cloned())
        .collect()
}

/// `Filter.N.Name` with its `Filter.N.Value.M`.
fn filters(params: &BTreeMap<String, String>) -> Vec<(String, Vec<String>)> {
    (1..)
        .map_while(|i| {
            let name = params.get(&format!("Filter.{i}.Name"))?.clone();
            Some((name, numbered(params, &format!("Filter.{i}.Value"))))
        })
        .collect()
}

/// The live interfaces asked for (all of them without ids), with their task's ARN; an id that
/// is not there is EC2's InvalidNetworkInterfaceID.NotFound.
fn select(
    ecs: &EcsState,
    ids: &[String],
    filters: &[(String, Vec<String>)],
) -> Result<Vec<(Eni, String)>, AwsError> {
    // ECS deletes a task's interface once the task has stopped.
    let live: Vec<(Eni, String)> = ecs
        .tasks
        .iter()
        .filter(|t| t.last_status != "STOPPED")
        .filter_map(|t| Some((t.eni.clone()?, t.arn.clone())))
        .collect();
    for id in ids {
        if !id.starts_with("eni-") {
            return Err(AwsError::client(
                "InvalidNetworkInterfaceID.Malformed",
                format!("Invalid id: \"{id}\" (expecting \"eni-...\")"),
            ));
        }
        if !live.iter().any(|(e, _)| &e.id == id) {
            return Err(AwsError::client(
                "InvalidNetworkInterfaceID.NotFound",
                format!("The networkInterface ID '{id}' does not exist"),
            ));
        }
    }
    let mut out = vec![];
    for (eni, task) in live {
        if !ids.is_empty() && !ids.contains(&eni.id) {
            continue;
        }
        let keep = filters.iter().all(|(name, values)| {
            let have = match name.as_str() {
                "network-interface-id" => Some(eni.id.clone()),
                "subnet-id" => Some(eni.subnet.clone()),
                "addresses.private-ip-address" | "private-ip-address" => {
                    Some(eni.private_ip.clone())
                }
                "association.public-ip" => eni.public_ip.clone(),
                _ => None,
            };
            have.is_some_and(|h| values.contains(&h))
        });
        if keep {
            out.push((eni, task));
        }
    }
    Ok(out)
}

/// One `item` of the networkInterfaceSet, as ECS's Fargate interfaces look.
fn item(e: &Eni, region: &str, account: &str) -> String {
    let t = |name: &str, value: &str| format!("<{name}>{}</{name}>", xml_escape(value));
    let groups: String = e
        .security_groups
        .iter()
        .map(|g| format!("<item>{}{}</item>", t("groupId", g), t("groupName", g)))
        .collect();
    let association = e
        .public_ip
        .as_ref()
        .map(|ip| {
            format!(
                "<association>{}{}{}</association>",
                t("ipOwnerId", "amazon"),
                t("publicDnsName", ""),
                t("publicIp", ip)
            )
        })
        .unwrap_or_default();
    format!(
        "<item>{}{}{}{}{}{}{}{}{}<groupSet>{groups}</groupSet>{association}{}{}{}{}<privateIpAddressesSet><item>{}{}{}{association}</item></privateIpAddressesSet></item>",
        t("networkInterfaceId", &e.id),
        t("subnetId", &e.subnet),
        t("vpcId", "vpc-sandbox"),
        t("availabilityZone", &format!("{region}a")),
        t("description", &format!("arn:aws:ecs:{region}:{account}:attachment/{}", e.attachment_id)),
        t("ownerId", account),
        t("requesterId", "578734482556"),
        t("requesterManaged", "true"),
        t("status", "in-use"),
        t("macAddress", &e.mac),
        t("privateIpAddress", &e.private_ip),
        t("privateDnsName", &e.private_dns(region)),
        t("interfaceType", "interface"),
        t("privateIpAddress", &e.private_ip),
        t("privateDnsName", &e.private_dns(region)),
        t("primary", "true"),
    )
}

/// An EC2 error document.
pub fn error(e: &AwsError) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
        xml_escape(&e.code),
        xml_escape(&e.message),
        crate::awsjson::request_id()
    );
    xml(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    resp
}
