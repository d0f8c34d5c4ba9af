//! The AppSpec of an ECS deployment, built from the service and the deploy's flags (pure), and
//! the names CodeDeploy's console gives an ECS service's application and deployment group.

use serde_json::{json, Value};

/// The AppSpec hooks of an ECS deployment, in the order CodeDeploy runs them.
pub const HOOK_EVENTS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

/// One entry of the AppSpec's CapacityProviderStrategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityProvider {
    pub name: String,
    pub weight: u32,
    pub base: u32,
}

/// What the AppSpec says: the revision, the load-balanced container, and the optional parts.
#[derive(Debug, Clone, Default)]
pub struct AppSpec {
    pub task_definition: String,
    pub container: String,
    pub port: u16,
    pub capacity_providers: Vec<CapacityProvider>,
    /// (event, Lambda function name or ARN).
    pub hooks: Vec<(String, String)>,
}

impl AppSpec {
    /// The AppSpec as JSON (CodeDeploy reads JSON or YAML; JSON needs no extra crate).
    pub fn to_json(&self) -> Value {
        let mut props = json!({
            "TaskDefinition": self.task_definition,
            "LoadBalancerInfo": {"ContainerName": self.container, "ContainerPort": self.port},
        });
        if !self.capacity_providers.is_empty() {
            props["CapacityProviderStrategy"] = self
                .capacity_providers
                .iter()
                .map(|c| json!({"CapacityProvider": c.name, "Weight": c.weight, "Base": c.base}))
                .collect();
        }
        let mut spec = json!({
            "version": 0.0,
            "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}],
        });
        if !self.hooks.is_empty() {
            spec["Hooks"] = self
                .hooks
                .iter()
                .map(|(event, f)| json!({ event: f }))
                .collect();
        }
        spec
    }
}

/// The application and deployment group the ECS console creates for a blue/green service:
/// `AppECS-<cluster>-<service>` and `DgpECS-<cluster>-<service>`.
pub fn default_names(cluster: &str, service: &str) -> (String, String) {
    (
        format!("AppECS-{cluster}-{service}"),
        format!("DgpECS-{cluster}-{service}"),
    )
}

/// The container and port the deployment's traffic goes to: the flags where given, else the
/// service's load balancer (its only one, or the one naming the given container).
pub fn load_balanced(
    load_balancers: &[Value],
    container: Option<&str>,
    port: Option<u16>,
) -> Result<(String, u16), String> {
    let named = |lb: &&Value| container.is_none_or(|c| lb["containerName"].as_str() == Some(c));
    let lb = load_balancers.iter().find(named);
    let name = match (container, lb) {
        (Some(c), _) => c.to_string(),
        (None, Some(lb)) => lb["containerName"].as_str().unwrap_or_default().to_string(),
        (None, None) => return Err("the service has no load balancer to take the container from: pass --codedeploy-container NAME and --codedeploy-container-port PORT".into()),
    };
    let port = match (port, lb.and_then(|lb| lb["containerPort"].as_u64())) {
        (Some(p), _) => p,
        (None, Some(p)) => u16::try_from(p).map_err(|_| format!("the service's load balancer names container port {p}, which is not a port"))?,
        (None, None) => return Err(format!("no container port for {name}: the service's load balancer does not name it; pass --codedeploy-container-port PORT")),
    };
    if name.is_empty() {
        return Err(
            "the service's load balancer names no container: pass --codedeploy-container NAME"
                .into(),
        );
    }
    Ok((name, port))
}

/// `--codedeploy-hook EVENT=FUNCTION`.
pub fn parse_hook(s: &str) -> Result<(String, String), String> {
    let (event, f) = s.split_once('=').ok_or_else(|| {
        format!("{s:?} is not EVENT=FUNCTION (e.g. AfterAllowTestTraffic=smoke-test)")
    })?;
    let event = event.trim();
    if !HOOK_EVENTS.contains(&event) {
        return Err(format!(
            "{event:?} is not an ECS AppSpec hook: use one of {}",
            HOOK_EVENTS.join(", ")
        ));
    }
    let f = f.trim();
    if f.is_empty() {
        return Err(format!("{s:?} names no Lambda function"));
    }
    Ok((event.to_string(), f.to_string()))
}

/// `--codedeploy-capacity-provider NAME[:WEIGHT[:BASE]]` (weight 1 and base 0 by default, as
/// in the aws-ecs orb).
pub fn parse_capacity_provider(s: &str) -> Result<CapacityProvider, String> {
    let mut parts = s.split(':');
    let name = parts.next().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(format!(
            "{s:?} names no capacity provider: use NAME[:WEIGHT[:BASE]]"
        ));
    }
    let num = |p: Option<&str>, what: &str, default: u32| -> Result<u32, String> {
        match p {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("{s:?}: {what} {v:?} is not a whole number")),
        }
    };
    let weight = num(parts.next(), "weight", 1)?;
    let base = num(parts.next(), "base", 0)?;
    if parts.next().is_some() {
        return Err(format!("{s:?} has more than NAME:WEIGHT:BASE"));
    }
    if weight > 1000 || base > 100_000 {
        return Err(format!(
            "{s:?}: weight must be 0 to 1000 and base 0 to 100000"
        ));
    }
    Ok(CapacityProvider {
        name: name.to_string(),
        weight,
        base,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appspec_names_the_revision_container_and_hooks() {
        let spec = AppSpec {
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/web:3".into(),
            container: "app".into(),
            port: 8080,
            capacity_providers: vec![parse_capacity_provider("FARGATE_SPOT:3:1").unwrap()],
            hooks: vec![parse_hook("AfterAllowTestTraffic=smoke").unwrap()],
        };
        assert_eq!(
            spec.to_json(),
            json!({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
                "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080},
                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 3, "Base": 1}]}}}],
                "Hooks": [{"AfterAllowTestTraffic": "smoke"}]})
        );
        let bare = AppSpec {
            hooks: vec![],
            capacity_providers: vec![],
            ..spec
        };
        assert!(bare.to_json().get("Hooks").is_none());
        assert!(bare
            .to_json()
            .pointer("/Resources/0/TargetService/Properties/CapacityProviderStrategy")
            .is_none());
    }

    #[test]
    fn the_container_comes_from_the_flags_or_the_load_balancer() {
        let lbs =
            vec![json!({"targetGroupArn": "tg", "containerName": "app", "containerPort": 8080})];
        assert_eq!(
            load_balanced(&lbs, None, None).unwrap(),
            ("app".into(), 8080)
        );
        assert_eq!(
            load_balanced(&lbs, None, Some(9090)).unwrap(),
            ("app".into(), 9090)
        );
        assert_eq!(
            load_balanced(&lbs, Some("app"), None).unwrap(),
            ("app".into(), 8080)
        );
        let e = load_balanced(&lbs, Some("sidecar"), None).unwrap_err();
        assert!(e.contains("--codedeploy-container-port"), "{e}");
        assert_eq!(
            load_balanced(&[], Some("app"), Some(80)).unwrap(),
            ("app".into(), 80)
        );
        let e = load_balanced(&[], None, None).unwrap_err();
        assert!(e.contains("--codedeploy-container NAME"), "{e}");
    }

    #[test]
    fn hooks_and_capacity_providers_are_parsed_or_refused_with_the_fix() {
        assert_eq!(
            parse_hook("BeforeAllowTraffic=arn:aws:lambda:us-east-1:1:function:f").unwrap(),
            (
                "BeforeAllowTraffic".into(),
                "arn:aws:lambda:us-east-1:1:function:f".into()
            )
        );
        assert!(parse_hook("Install=f")
            .unwrap_err()
            .contains("AfterAllowTestTraffic"));
        assert!(parse_hook("smoke").unwrap_err().contains("EVENT=FUNCTION"));
        assert!(parse_hook("AfterInstall=")
            .unwrap_err()
            .contains("no Lambda"));
        assert_eq!(
            parse_capacity_provider("FARGATE").unwrap(),
            CapacityProvider {
                name: "FARGATE".into(),
                weight: 1,
                base: 0
            }
        );
        assert!(parse_capacity_provider("FARGATE:x")
            .unwrap_err()
            .contains("weight"));
        assert!(parse_capacity_provider(":1")
            .unwrap_err()
            .contains("no capacity provider"));
        assert!(parse_capacity_provider("A:1:2:3")
            .unwrap_err()
            .contains("more than"));
        assert_eq!(
            default_names("c1", "web"),
            ("AppECS-c1-web".into(), "DgpECS-c1-web".into())
        );
    }
}
