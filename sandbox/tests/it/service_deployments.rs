//! ECS's own blue/green deployments through the unmodified AWS SDK for Rust: every field and
//! enum the sandbox answers must parse into the SDK's model types (an unknown enum value would
//! arrive as `Unknown`), and its refusals must map onto the SDK's typed errors. (moto has no
//! service deployments to cross-check against; the SDK's model is the witness.)

use crate::harness::*;
use aws_sdk_ecs::operation::continue_service_deployment::ContinueServiceDeploymentError;
use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentError;
use aws_sdk_ecs::types::{
    AdvancedConfiguration, ContainerDefinition, DeploymentConfiguration, DeploymentLifecycleHook,
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStage, DeploymentLifecycleHookStatus,
    DeploymentLifecycleHookTargetType, DeploymentStrategy, LoadBalancer, PortMapping,
    ServiceDeploymentLifecycleStage, ServiceDeploymentRollbackMonitorsStatus,
    ServiceDeploymentStatus, StopServiceDeploymentStopType,
};
use std::time::Duration;

async fn describe(ecs: &aws_sdk_ecs::Client, arn: &str) -> aws_sdk_ecs::types::ServiceDeployment {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .expect("DescribeServiceDeployments");
    out.service_deployments()[0].clone()
}

#[tokio::test]
async fn a_blue_green_deployment_reads_as_the_sdk_models_it() {
    let sandbox = Sandbox::start(20.0);
    let ecs = aws_sdk_ecs::Client::new(&sandbox.config(None, 1).await);
    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    for tag in ["v1", "v2"] {
        ecs.register_task_definition()
            .family("web")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(format!("example.com/web:{tag}"))
                    .port_mappings(PortMapping::builder().container_port(80).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let arn = |kind: &str| format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:{kind}");
    let lb = LoadBalancer::builder()
        .target_group_arn(arn("targetgroup/blue/1"))
        .container_name("web")
        .container_port(80)
        .advanced_configuration(
            AdvancedConfiguration::builder()
                .alternate_target_group_arn(arn("targetgroup/green/2"))
                .production_listener_rule(arn("listener-rule/app/lb/1/2/3"))
                .test_listener_rule(arn("listener-rule/app/lb/1/4/5"))
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
                .lifecycle_stages(DeploymentLifecycleHookStage::PostScaleUp)
                .build(),
        )
        .build();
    // No tasks: the revisions scale to zero, so only the deployment's own machinery runs.
    ecs.create_service()
        .cluster("c")
        .service_name("s")
        .task_definition("web:1")
        .desired_count(0)
        .load_balancers(lb)
        .deployment_configuration(config)
        .send()
        .await
        .unwrap();
    // The first deployment settles (in Docker mode the sandbox holds it a few real seconds).
    for _ in 0..400 {
        let s = ecs
            .describe_services()
            .cluster("c")
            .services("s")
            .send()
            .await
            .unwrap();
        let state = s.services()[0].deployments()[0].rollout_state().cloned();
        if state == Some(aws_sdk_ecs::types::DeploymentRolloutState::Completed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ecs.update_service()
        .cluster("c")
        .service("s")
        .task_definition("web:2")
        .send()
        .await
        .unwrap();
    let list = ecs
        .list_service_deployments()
        .cluster("c")
        .service("s")
        .status(ServiceDeploymentStatus::Pending)
        .status(ServiceDeploymentStatus::InProgress)
        .send()
        .await
        .unwrap();
    let briefs = list.service_deployments();
    assert_eq!(briefs.len(), 1, "{briefs:#?}");
    let sd_arn = briefs[0].service_deployment_arn().unwrap().to_string();
    assert!(sd_arn.contains(":service-deployment/c/s/"), "{sd_arn}");
    assert!(briefs[0]
        .target_service_revision_arn()
        .unwrap()
        .contains(":service-revision/c/s/"));
    // Wait for the pause hook.
    let mut sd = describe(&ecs, &sd_arn).await;
    for _ in 0..100 {
        if !sd.lifecycle_hook_details().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        sd = describe(&ecs, &sd_arn).await;
    }
    assert_eq!(sd.status(), Some(&ServiceDeploymentStatus::InProgress));
    assert_eq!(
        sd.lifecycle_stage(),
        Some(&ServiceDeploymentLifecycleStage::PostScaleUp)
    );
    let hook = &sd.lifecycle_hook_details()[0];
    assert_eq!(
        hook.target_type(),
        Some(&DeploymentLifecycleHookTargetType::Pause)
    );
    assert_eq!(
        hook.status(),
        Some(&DeploymentLifecycleHookStatus::AwaitingAction)
    );
    assert_eq!(
        hook.timeout_action(),
        Some(&DeploymentLifecycleHookAction::Rollback)
    );
    assert!(hook.expires_at().is_some() && hook.target_arn().is_none());
    let target = sd.target_service_revision().unwrap();
    assert_eq!(target.requested_production_traffic_weight(), Some(0.0));
    assert_eq!(
        sd.source_service_revisions()[0].requested_production_traffic_weight(),
        Some(100.0)
    );
    assert_eq!(
        sd.deployment_circuit_breaker().unwrap().status(),
        Some(&ServiceDeploymentRollbackMonitorsStatus::Disabled)
    );
    assert_eq!(
        sd.deployment_configuration().unwrap().strategy(),
        Some(&DeploymentStrategy::BlueGreen)
    );
    // A wrong hook id is refused as the SDK's typed InvalidParameterException.
    let wrong = ecs
        .continue_service_deployment()
        .service_deployment_arn(&sd_arn)
        .hook_id("ecs-pause-nope")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        wrong.into_service_error(),
        ContinueServiceDeploymentError::InvalidParameterException(_)
    ));
    let ok = ecs
        .continue_service_deployment()
        .service_deployment_arn(&sd_arn)
        .hook_id(hook.hook_id().unwrap())
        .action(DeploymentLifecycleHookAction::Continue)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.service_deployment_arn(), Some(sd_arn.as_str()));
    for _ in 0..200 {
        sd = describe(&ecs, &sd_arn).await;
        if sd.status() == Some(&ServiceDeploymentStatus::Successful) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sd.status(), Some(&ServiceDeploymentStatus::Successful));
    assert!(sd.finished_at().is_some());
    assert_eq!(
        sd.lifecycle_stage(),
        Some(&ServiceDeploymentLifecycleStage::CleanUp)
    );
    // A finished deployment cannot be stopped; an unknown one is not found.
    let done = ecs
        .stop_service_deployment()
        .service_deployment_arn(&sd_arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        done.into_service_error(),
        StopServiceDeploymentError::ConflictException(_)
    ));
    let missing = ecs
        .stop_service_deployment()
        .service_deployment_arn(format!("{}x", sd_arn))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        missing.into_service_error(),
        StopServiceDeploymentError::ServiceDeploymentNotFoundException(_)
    ));
}
