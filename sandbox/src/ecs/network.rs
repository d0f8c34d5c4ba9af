//! awsvpc networking as ECS reports it: each task of an `awsvpc` task definition gets an elastic
//! network interface, shown in DescribeTasks as an `ElasticNetworkInterface` attachment (its
//! `networkInterfaceId`, `privateIPv4Address`, …) and on each container as `networkInterfaces`;
//! EC2's DescribeNetworkInterfaces answers for it (see [`crate::ec2`]) while the task lives.
//!
//! With `assignPublicIp: ENABLED` the interface has a public IP: here a loopback address of its
//! own (127.77.x.y), on which [`crate::public_ips`] answers at each container port, so "does the
//! service answer on its public IP" can be asked of the sandbox as of AWS.

use super::model::{EcsState, Task};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

/// Interfaces numbered across every region, so no two share an address.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// How many public addresses there are to hand out: 127.77.0.2 to 127.77.249.251.
const PUBLIC_SPACE: u32 = 250 * 250;

/// The next public address to try. Several sandboxes run at once on a machine (a test suite
/// starts one a test): each starts at a random place, and skips an address another holds.
static NEXT_PUBLIC: std::sync::LazyLock<AtomicU32> =
    std::sync::LazyLock::new(|| AtomicU32::new(rand::random::<u32>() % PUBLIC_SPACE));

/// A loopback address on which every one of `ports` is free now.
fn free_public_ip(ports: &[u16]) -> String {
    let mut ip = String::new();
    for _ in 0..1000 {
        let n = NEXT_PUBLIC.fetch_add(1, Ordering::Relaxed) % PUBLIC_SPACE;
        ip = format!("127.77.{}.{}", n / 250, n % 250 + 2);
        if ports
            .iter()
            .all(|p| std::net::TcpListener::bind((ip.as_str(), *p)).is_ok())
        {
            break;
        }
    }
    ip
}

/// A task's elastic network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eni {
    pub id: String,
    pub attachment_id: String,
    pub subnet: String,
    pub security_groups: Vec<String>,
    pub private_ip: String,
    pub mac: String,
    pub public_ip: Option<String>,
    /// The container ports the task definition maps (what the public IP answers at).
    pub ports: Vec<u16>,
}

impl Eni {
    /// The next interface, in `subnet`, with a public IP free at `ports` when asked.
    fn allocate(subnet: &str, security_groups: Vec<String>, public: bool, ports: Vec<u16>) -> Eni {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (hi, lo) = ((n / 250) % 250, n % 250);
        Eni {
            id: format!("eni-{:017x}", u64::from(n) * 7919 + 0x0a1b_2c3d),
            attachment_id: super::model::new_uuid(),
            subnet: subnet.to_string(),
            security_groups,
            private_ip: format!("10.177.{hi}.{}", lo + 4),
            mac: format!("02:77:{:02x}:{:02x}:{:02x}:01", n >> 16 & 0xff, hi, lo),
            public_ip: public.then(|| free_public_ip(&ports)),
            ports,
        }
    }

    /// The private DNS name EC2 gives the address.
    pub fn private_dns(&self, region: &str) -> String {
        let suffix = if region == "us-east-1" {
            "ec2.internal".to_string()
        } else {
            format!("{region}.compute.internal")
        };
        format!("ip-{}.{suffix}", self.private_ip.replace('.', "-"))
    }
}

/// Give the task `id` an interface when its task definition is `awsvpc`, from the
/// `networkConfiguration` of its service or RunTask call.
pub(super) fn attach(st: &mut EcsState, id: &str, network_configuration: &Value, td: &Value) {
    let Some(t) = st.tasks.iter_mut().find(|t| t.id == id) else {
        return;
    };
    let vpc = &network_configuration["awsvpcConfiguration"];
    let subnet = vpc["subnets"][0].as_str().unwrap_or("subnet-sandbox");
    let groups = vpc["securityGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let public = vpc["assignPublicIp"].as_str() == Some("ENABLED");
    let ports = td["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["portMappings"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| u16::try_from(m["containerPort"].as_u64()?).ok())
        .collect();
    t.eni = Some(Eni::allocate(subnet, groups, public, ports));
}

/// Whether a task definition gives its tasks interfaces of their own.
pub(super) fn is_awsvpc(td: &Value) -> bool {
    td["networkMode"].as_str() == Some("awsvpc")
}

/// DescribeTasks' `attachments` of a task, and what each container's `networkInterfaces` says.
pub(super) fn attachments(t: &Task, region: &str) -> Option<(Value, Value)> {
    let eni = t.eni.as_ref()?;
    // ECS deletes the interface once the task has stopped.
    let status = match t.last_status.as_str() {
        "STOPPED" => "DELETED",
        "PROVISIONING" | "PENDING" => "ATTACHING",
        _ => "ATTACHED",
    };
    let detail = |name: &str, value: &str| json!({"name": name, "value": value});
    let attachment = json!([{
        "id": eni.attachment_id,
        "type": "ElasticNetworkInterface",
        "status": status,
        "details": [
            detail("subnetId", &eni.subnet),
            detail("networkInterfaceId", &eni.id),
            detail("macAddress", &eni.mac),
            detail("privateDnsName", &eni.private_dns(region)),
            detail("privateIPv4Address", &eni.private_ip),
        ],
    }]);
    let per_container =
        json!([{"attachmentId": eni.attachment_id, "privateIpv4Address": eni.private_ip}]);
    Some((attachment, per_container))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_are_distinct_and_public_only_when_asked() {
        let a = Eni::allocate("subnet-1", vec!["sg-1".into()], true, vec![8080]);
        let b = Eni::allocate("subnet-1", vec![], false, vec![]);
        assert_ne!(a.id, b.id);
        assert_ne!(a.private_ip, b.private_ip);
        assert!(a.public_ip.as_deref().unwrap().starts_with("127.77."));
        assert_eq!(b.public_ip, None);
        assert!(a.id.starts_with("eni-") && a.id.len() == 21, "{}", a.id);
        assert_eq!(
            Eni {
                private_ip: "10.0.0.5".into(),
                ..a.clone()
            }
            .private_dns("us-east-1"),
            "ip-10-0-0-5.ec2.internal"
        );
    }
}
