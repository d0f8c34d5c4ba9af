//! Where a new revision answers: its running tasks' private IPs (from DescribeTasks'
//! `ElasticNetworkInterface` attachment), their public IPs (EC2 DescribeNetworkInterfaces on the
//! attachment's interface, where `assignPublicIp` gave one), and the container port to knock on
//! (the service's load balancer's `containerPort`, else the first essential container's first
//! port mapping). Parsing and choosing are pure; [`find`] makes the calls.

use crate::aws::json::{CallError, Client};
use crate::ecs::api::{Ecs, Task};
use anyhow::Result;
use serde_json::Value;

/// One task's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskAddress {
    pub task: String,
    pub eni: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
}

/// The revision's tasks' addresses and the port they serve on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub tasks: Vec<TaskAddress>,
    pub port: Option<u16>,
    /// Why there are no public IPs although interfaces were found (e.g. the role may not call
    /// DescribeNetworkInterfaces), said once.
    pub note: Option<String>,
}

/// Each task's interface id and private IP, from its `ElasticNetworkInterface` attachment.
pub fn of_tasks(tasks: &[Task]) -> Vec<TaskAddress> {
    tasks
        .iter()
        .map(|t| {
            let detail = |name: &str| {
                t.attachments
                    .iter()
                    .filter(|a| a["type"] == "ElasticNetworkInterface")
                    .flat_map(|a| a["details"].as_array().cloned().unwrap_or_default())
                    .find(|d| d["name"] == name)
                    .and_then(|d| d["value"].as_str().map(String::from))
            };
            TaskAddress {
                task: t.id().to_string(),
                eni: detail("networkInterfaceId"),
                private_ip: detail("privateIPv4Address"),
                public_ip: None,
            }
        })
        .collect()
}

/// `(interface id, public IP)` of each interface in a DescribeNetworkInterfaces answer that has
/// one (`networkInterfaceSet/item/association/publicIp`).
pub fn public_ips(xml: &str) -> Result<Vec<(String, String)>> {
    use aws_smithy_xml::decode::{try_data, Document};
    let mut doc = Document::new(xml);
    let mut root = doc
        .root_element()
        .map_err(|e| anyhow::anyhow!("EC2's DescribeNetworkInterfaces answer is not XML: {e}"))?;
    let mut out = vec![];
    while let Some(mut set) = root.next_tag() {
        if !set.start_el().matches("networkInterfaceSet") {
            continue;
        }
        while let Some(mut item) = set.next_tag() {
            let (mut id, mut ip) = (None, None);
            while let Some(mut field) = item.next_tag() {
                if field.start_el().matches("networkInterfaceId") {
                    id = try_data(&mut field).ok().map(|s| s.to_string());
                } else if field.start_el().matches("association") {
                    while let Some(mut a) = field.next_tag() {
                        if a.start_el().matches("publicIp") {
                            ip = try_data(&mut a).ok().map(|s| s.to_string());
                        }
                    }
                }
            }
            if let (Some(id), Some(ip)) = (id, ip) {
                out.push((id, ip));
            }
        }
    }
    Ok(out)
}

/// The port to check: the load balancer's container port, else the first port mapping of the
/// first essential container that has one.
pub fn port(task_definition: &Value, load_balancers: &[Value]) -> Option<u16> {
    let from_lb = load_balancers
        .iter()
        .find_map(|lb| lb["containerPort"].as_u64());
    let from_td = || {
        task_definition["containerDefinitions"]
            .as_array()?
            .iter()
            .filter(|c| c["essential"].as_bool().unwrap_or(true))
            .find_map(|c| c["portMappings"][0]["containerPort"].as_u64())
    };
    from_lb.or_else(from_td).and_then(|p| u16::try_from(p).ok())
}

impl Addresses {
    /// One URL per task: its public IP where it has one, else its private IP (reachable from a
    /// runner inside the VPC).
    pub fn urls(&self) -> Vec<String> {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        self.tasks
            .iter()
            .filter_map(|t| t.public_ip.as_ref().or(t.private_ip.as_ref()))
            .map(|ip| format!("http://{ip}{port}"))
            .collect()
    }

    /// What `--verify` is told, one value per line.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let lines = |f: fn(&TaskAddress) -> Option<&String>| {
            self.tasks
                .iter()
                .filter_map(f)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        };
        vec![
            ("STEVEDORE_VERIFY_URLS", self.urls().join("\n")),
            (
                "STEVEDORE_VERIFY_PUBLIC_IPS",
                lines(|t| t.public_ip.as_ref()),
            ),
            (
                "STEVEDORE_VERIFY_PRIVATE_IPS",
                lines(|t| t.private_ip.as_ref()),
            ),
            (
                "STEVEDORE_VERIFY_PORT",
                self.port.map(|p| p.to_string()).unwrap_or_default(),
            ),
        ]
    }
}

/// The addresses of the RUNNING tasks deployment `deployment` started, with their public IPs
/// when EC2 answers for their interfaces.
pub async fn find(
    ecs: &Ecs,
    ec2: &Client,
    cluster: &str,
    deployment: &str,
    task_definition: &Value,
    load_balancers: &[Value],
) -> Result<Addresses, CallError> {
    let arns = ecs.list_tasks(cluster, deployment, "RUNNING").await?;
    let refs: Vec<&str> = arns.iter().map(String::as_str).collect();
    let tasks = if refs.is_empty() {
        vec![]
    } else {
        ecs.describe_tasks(cluster, &refs).await?
    };
    let mut found = Addresses {
        tasks: of_tasks(&tasks),
        port: port(task_definition, load_balancers),
        note: None,
    };
    let enis: Vec<(String, String)> = found
        .tasks
        .iter()
        .filter_map(|t| t.eni.clone())
        .enumerate()
        .map(|(i, e)| (format!("NetworkInterfaceId.{}", i + 1), e))
        .collect();
    if enis.is_empty() {
        return Ok(found);
    }
    match ec2.query("DescribeNetworkInterfaces", &enis).await {
        Ok(xml) => {
            let ips = public_ips(&xml).map_err(CallError::Transport)?;
            for t in &mut found.tasks {
                t.public_ip = ips
                    .iter()
                    .find(|(id, _)| Some(id) == t.eni.as_ref())
                    .map(|(_, ip)| ip.clone());
            }
        }
        // Without the permission the private IPs still serve a runner inside the VPC.
        Err(CallError::Api(e)) if e.code == "UnauthorizedOperation" => {
            found.note = Some(format!("no public IPs, only private ones: EC2 refused DescribeNetworkInterfaces ({}: {}); `stevedore iam policy` grants it", e.code, e.message));
        }
        Err(e) => return Err(e),
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_task_s_interface_and_private_ip_come_from_its_attachment() {
        let t: Task = serde_json::from_value(json!({
            "taskArn": "arn:aws:ecs:us-east-1:1:task/c1/abc",
            "attachments": [{"type": "ElasticNetworkInterface", "status": "ATTACHED", "details": [
                {"name": "subnetId", "value": "subnet-1"},
                {"name": "networkInterfaceId", "value": "eni-0a1"},
                {"name": "privateIPv4Address", "value": "10.0.1.7"}]}]
        }))
        .unwrap();
        let bridge = Task {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c1/def".into(),
            ..Task::default()
        };
        let a = of_tasks(&[t, bridge]);
        assert_eq!(a[0].eni.as_deref(), Some("eni-0a1"));
        assert_eq!(a[0].private_ip.as_deref(), Some("10.0.1.7"));
        assert_eq!(
            a[1],
            TaskAddress {
                task: "def".into(),
                ..TaskAddress::default()
            }
        );
    }

    #[test]
    fn public_ips_are_read_from_the_association_of_each_interface() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>
<networkInterfaceSet>
 <item><networkInterfaceId>eni-1</networkInterfaceId><groupSet><item><groupId>sg-1</groupId></item></groupSet>
  <association><ipOwnerId>amazon</ipOwnerId><publicIp>3.80.1.2</publicIp></association>
  <privateIpAddressesSet><item><association><publicIp>9.9.9.9</publicIp></association></item></privateIpAddressesSet></item>
 <item><networkInterfaceId>eni-2</networkInterfaceId><privateIpAddress>10.0.0.9</privateIpAddress></item>
</networkInterfaceSet></DescribeNetworkInterfacesResponse>"#;
        assert_eq!(
            public_ips(xml).unwrap(),
            [("eni-1".to_string(), "3.80.1.2".to_string())]
        );
        // An answer that is not EC2's (a proxy's HTML page) gives no address, never a wrong one.
        assert_eq!(public_ips("<html><body>502</body></html>").unwrap(), []);
        assert!(public_ips("").is_err());
    }

    #[test]
    fn the_port_is_the_load_balancer_s_else_the_first_mapping() {
        let td = json!({"containerDefinitions": [
            {"name": "log", "essential": false, "portMappings": [{"containerPort": 9000}]},
            {"name": "app", "portMappings": [{"containerPort": 8080}, {"containerPort": 8081}]}]});
        assert_eq!(port(&td, &[]), Some(8080));
        assert_eq!(port(&td, &[json!({"containerPort": 80})]), Some(80));
        assert_eq!(port(&json!({}), &[]), None);
        let a = Addresses {
            tasks: vec![
                TaskAddress {
                    task: "a".into(),
                    eni: None,
                    private_ip: Some("10.0.0.1".into()),
                    public_ip: Some("3.3.3.3".into()),
                },
                TaskAddress {
                    task: "b".into(),
                    eni: None,
                    private_ip: Some("10.0.0.2".into()),
                    public_ip: None,
                },
            ],
            port: Some(8080),
            note: None,
        };
        assert_eq!(a.urls(), ["http://3.3.3.3:8080", "http://10.0.0.2:8080"]);
        let vars = a.vars();
        assert_eq!(
            vars[0],
            (
                "STEVEDORE_VERIFY_URLS",
                "http://3.3.3.3:8080\nhttp://10.0.0.2:8080".into()
            )
        );
        assert_eq!(vars[1], ("STEVEDORE_VERIFY_PUBLIC_IPS", "3.3.3.3".into()));
        assert_eq!(vars[3], ("STEVEDORE_VERIFY_PORT", "8080".into()));
    }
}
