//! A blue/green deployment's listeners, in both task modes: while a pause hook holds the
//! deployment after test traffic has shifted, the test listener reaches the green revision and
//! the production listener the blue one. In Docker mode that is the real containers answering
//! (busybox httpd serving the file each image carries); simulated, the revisions' identities.

use crate::harness::*;
use aws_sdk_ecs::types::{
    AdvancedConfiguration, ContainerDefinition, DeploymentConfiguration, DeploymentLifecycleHook,
    DeploymentLifecycleHookStage, DeploymentLifecycleHookTargetType, DeploymentStrategy,
    LoadBalancer, PortMapping,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const ELB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:";

/// GET `url` until `done` says yes of (status, revision header, body); the last answer.
async fn get_until(
    sb: &Sandbox,
    url: &str,
    limit: u64,
    done: impl Fn(u16, &str, &str) -> bool,
) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(limit);
    loop {
        let (status, revision, body) = match sb.http.get(url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let revision = r
                    .headers()
                    .get("x-stevedore-revision")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                (status, revision, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, String::new(), e.to_string()),
        };
        if done(status, &revision, &body) || Instant::now() > deadline {
            return (status, revision, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_test_listener_reaches_green_and_production_blue_while_a_pause_hook_waits() {
    let sb = Sandbox::start(20.0);
    let docker = sb.env["STEVEDORE_SANDBOX_TASKS"] == "docker";
    let tmp = tempfile::tempdir().unwrap();
    for tag in ["v1", "v2"] {
        let layout = oci_image(tmp.path(), &format!("web-{tag}"), &[]);
        sb.skopeo_push(&layout, "web", tag).await;
    }
    let ecs = aws_sdk_ecs::Client::new(&sb.config(None, 3).await);
    ecs.create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .unwrap();
    for tag in ["v1", "v2"] {
        ecs.register_task_definition()
            .family("web")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(format!("{}/web:{tag}", sb.registry()))
                    // The image's own file, served: each revision answers with its name.
                    .set_command(Some(
                        ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"]
                            .map(String::from)
                            .to_vec(),
                    ))
                    .port_mappings(PortMapping::builder().container_port(8080).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let lb = LoadBalancer::builder()
        .target_group_arn(format!("{ELB}targetgroup/blue/1"))
        .container_name("web")
        .container_port(8080)
        .advanced_configuration(
            AdvancedConfiguration::builder()
                .alternate_target_group_arn(format!("{ELB}targetgroup/green/2"))
                .production_listener_rule(format!("{ELB}listener-rule/app/lb/1/2/3"))
                .test_listener_rule(format!("{ELB}listener-rule/app/lb/1/4/5"))
                .role_arn("arn:aws:iam::123456789012:role/lb")
                .build(),
        )
        .build();
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(0)
        .lifecycle_hooks(
            DeploymentLifecycleHook::builder()
                .target_type(DeploymentLifecycleHookTargetType::Pause)
                .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
                .build(),
        )
        .build();
    ecs.create_service()
        .cluster("c1")
        .service_name("s1")
        .task_definition("web:1")
        .desired_count(1)
        .load_balancers(lb)
        .deployment_configuration(config)
        .send()
        .await
        .unwrap();
    let listeners: BTreeMap<String, String> = sb
        .http
        .get(format!("{}/_sandbox/listeners", sb.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let production = format!(
        "{}/hello.txt",
        listeners[&format!("{ELB}listener-rule/app/lb/1/2/3")]
    );
    let test = format!(
        "{}/hello.txt",
        listeners[&format!("{ELB}listener-rule/app/lb/1/4/5")]
    );
    // Blue answers once its task runs (in Docker mode, once httpd listens).
    let (status, _, body) = get_until(&sb, &production, 60, |s, _, _| s == 200).await;
    assert_eq!(status, 200, "{body}");
    ecs.update_service()
        .cluster("c1")
        .service("s1")
        .task_definition("web:2")
        .send()
        .await
        .unwrap();
    // Wait at the pause hook: test traffic is on green, production still on blue.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let arn = ecs
            .list_service_deployments()
            .cluster("c1")
            .service("s1")
            .send()
            .await
            .unwrap()
            .service_deployments()[0]
            .service_deployment_arn()
            .unwrap()
            .to_string();
        let d = ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .unwrap()
            .service_deployments()[0]
            .clone();
        if d.lifecycle_hook_details()
            .iter()
            .any(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reached the pause hook: {d:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, revision, body) = get_until(&sb, &test, 30, |s, _, _| s == 200).await;
    assert_eq!(status, 200, "{body}");
    let (_, _, blue) = get_until(&sb, &production, 30, |s, _, _| s == 200).await;
    if docker {
        assert_eq!(body, "image web-v2\n", "the green container's own file");
        assert_eq!(revision, "green");
        assert_eq!(
            blue, "image web-v1\n",
            "production stays on the blue container"
        );
    } else {
        let green: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (green["revision"].as_str(), green["taskDefinition"].as_str()),
            (Some("green"), Some("web:2"))
        );
        let blue: serde_json::Value = serde_json::from_str(&blue).unwrap();
        assert_eq!(
            (blue["revision"].as_str(), blue["taskDefinition"].as_str()),
            (Some("blue"), Some("web:1"))
        );
    }
}
