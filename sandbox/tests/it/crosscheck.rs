//! The same ECR and ECS request sequence against moto's server and against the sandbox: both
//! must accept what it does right and refuse what it does wrong, with the same error codes, so
//! the sandbox cannot drift into accepting what AWS would refuse.

use crate::harness::*;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration,
    NetworkMode,
};

fn outcome<T, E: ProvideErrorMetadata>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().unwrap_or("?").to_string(),
    }
}

async fn sequence(
    conf: &aws_config::SdkConfig,
    (subnet, group): (String, String),
) -> Vec<(String, String)> {
    let ecr = aws_sdk_ecr::Client::new(conf);
    let ecs = aws_sdk_ecs::Client::new(conf);
    let mut log: Vec<(String, String)> = Vec::new();
    let mut note = |step: &str, what: String| log.push((step.to_string(), what));

    let r = ecr
        .create_repository()
        .repository_name("xcheck/app")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        )
        .send()
        .await;
    note("CreateRepository", outcome(&r));
    let r = ecr
        .create_repository()
        .repository_name("xcheck/app")
        .send()
        .await;
    note("CreateRepository again", outcome(&r));
    let r = ecr
        .describe_repositories()
        .repository_names("xcheck/app")
        .send()
        .await;
    note(
        "DescribeRepositories",
        r.map(|o| {
            format!(
                "{:?} {:?}",
                o.repositories()[0].image_tag_mutability(),
                o.repositories()[0]
                    .image_scanning_configuration()
                    .map(|c| c.scan_on_push())
            )
        })
        .unwrap_or_else(|e| e.code().unwrap_or("?").into()),
    );
    let r = ecr
        .describe_repositories()
        .repository_names("missing")
        .send()
        .await;
    note("DescribeRepositories missing", outcome(&r));
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    let r = ecr
        .put_lifecycle_policy()
        .repository_name("xcheck/app")
        .lifecycle_policy_text(policy)
        .send()
        .await;
    note("PutLifecyclePolicy", outcome(&r));
    let r = ecr
        .get_lifecycle_policy()
        .repository_name("xcheck/app")
        .send()
        .await;
    note(
        "GetLifecyclePolicy",
        r.map(|o| {
            o.lifecycle_policy_text()
                .unwrap_or_default()
                .contains("imageCountMoreThan")
                .to_string()
        })
        .unwrap_or_default(),
    );
    let r = ecr
        .put_lifecycle_policy()
        .repository_name("missing")
        .lifecycle_policy_text(policy)
        .send()
        .await;
    note("PutLifecyclePolicy missing repo", outcome(&r));
    let r = ecr
        .get_repository_policy()
        .repository_name("xcheck/app")
        .send()
        .await;
    note("GetRepositoryPolicy none", outcome(&r));
    let r = ecr.get_authorization_token().send().await;
    note(
        "GetAuthorizationToken",
        r.map(|o| (o.authorization_data().len() == 1).to_string())
            .unwrap_or_default(),
    );

    let r = ecs.create_cluster().cluster_name("xc").send().await;
    note("CreateCluster", outcome(&r));
    for image in ["repo/app:1", "repo/app:2"] {
        let r = ecs
            .register_task_definition()
            .family("xfam")
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(image)
                    .essential(true)
                    .build(),
            )
            .container_definitions(
                ContainerDefinition::builder()
                    .name("sidecar")
                    .image("repo/side:1")
                    .essential(false)
                    .build(),
            )
            .send()
            .await;
        note(
            "RegisterTaskDefinition",
            r.map(|o| {
                o.task_definition()
                    .map(|t| t.revision())
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_else(|e| e.code().unwrap_or("?").into()),
        );
    }
    let r = ecs
        .describe_task_definition()
        .task_definition("xfam")
        .send()
        .await;
    note(
        "DescribeTaskDefinition latest",
        r.map(|o| {
            o.task_definition()
                .map(|t| t.revision())
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default(),
    );
    let net = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(subnet)
                .security_groups(group)
                .build()
                .unwrap(),
        )
        .build();
    let r = ecs
        .create_service()
        .cluster("xc")
        .service_name("xs")
        .task_definition("xfam:1")
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(net)
        .send()
        .await;
    note(
        "CreateService",
        r.map(|o| {
            o.service()
                .map(|s| s.deployments()[0].status().unwrap_or_default().to_string())
                .unwrap_or_default()
        })
        .unwrap_or_else(|e| e.code().unwrap_or("?").into()),
    );
    let r = ecs
        .update_service()
        .cluster("xc")
        .service("xs")
        .task_definition("xfam:2")
        .send()
        .await;
    note("UpdateService", outcome(&r));
    let r = ecs
        .describe_services()
        .cluster("xc")
        .services("xs")
        .send()
        .await;
    note(
        "DescribeServices",
        r.map(|o| {
            o.services()
                .first()
                .and_then(|s| s.task_definition())
                .unwrap_or("none")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_else(|e| e.code().unwrap_or("?").into()),
    );
    let r = ecs
        .update_service()
        .cluster("xc")
        .service("nope")
        .desired_count(1)
        .send()
        .await;
    note("UpdateService missing service", outcome(&r));
    let r = ecs
        .describe_services()
        .cluster("nope")
        .services("xs")
        .send()
        .await;
    note("DescribeServices missing cluster", outcome(&r));
    let r = ecs.list_tasks().cluster("xc").send().await;
    note("ListTasks", outcome(&r));
    let r = ecs
        .deregister_task_definition()
        .task_definition("xfam:1")
        .send()
        .await;
    note(
        "DeregisterTaskDefinition",
        r.map(|o| format!("{:?}", o.task_definition().and_then(|t| t.status())))
            .unwrap_or_default(),
    );
    log
}

#[tokio::test]
async fn the_same_requests_get_the_same_answers_from_moto_and_the_sandbox() {
    let moto = Moto::start();
    let sandbox = Sandbox::start(1.0);
    let from_moto = sequence(&moto.config().await, moto.network()).await;
    let from_sandbox = sequence(
        &sandbox.config(None, 1).await,
        ("subnet-0123".into(), "sg-0123".into()),
    )
    .await;
    for (m, s) in from_moto.iter().zip(&from_sandbox) {
        assert_eq!(m, s, "moto and the sandbox disagree");
    }
    assert_eq!(from_moto.len(), from_sandbox.len());
    // And the sequence is not vacuous: successes and refusals both occur.
    assert!(from_sandbox
        .iter()
        .any(|(_, o)| o == "RepositoryAlreadyExistsException"));
    assert!(from_sandbox
        .iter()
        .any(|(_, o)| o == "ServiceNotFoundException"));
    assert!(from_sandbox.iter().filter(|(_, o)| o == "ok").count() >= 5);
}

/// EventBridge rules and targets and EventBridge Scheduler schedules, through the AWS SDK for
/// Rust: what `stevedore schedule` reads and writes, and the refusals it branches on.
async fn schedule_sequence(conf: &aws_config::SdkConfig) -> Vec<(String, String)> {
    use aws_sdk_eventbridge::types as ev;
    use aws_sdk_scheduler::types as sc;
    let events = aws_sdk_eventbridge::Client::new(conf);
    let scheduler = aws_sdk_scheduler::Client::new(conf);
    let mut log: Vec<(String, String)> = Vec::new();
    let mut note = |step: &str, what: String| log.push((step.to_string(), what));
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c1";
    let role = "arn:aws:iam::123456789012:role/scheduled";
    let td = |rev: u32| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/report:{rev}");

    let r = events
        .put_rule()
        .name("nightly")
        .schedule_expression("rate(1 day)")
        .send()
        .await;
    note("PutRule", outcome(&r));
    let ev_params = ev::EcsParameters::builder()
        .task_definition_arn(td(1))
        .task_count(2)
        .launch_type(ev::LaunchType::Fargate)
        .network_configuration(
            ev::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    ev::AwsVpcConfiguration::builder()
                        .subnets("subnet-1")
                        .assign_public_ip(ev::AssignPublicIp::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    let target = ev::Target::builder()
        .id("report")
        .arn(cluster)
        .role_arn(role)
        .ecs_parameters(ev_params)
        .build()
        .unwrap();
    let r = events
        .put_targets()
        .rule("nightly")
        .targets(target.clone())
        .send()
        .await;
    note(
        "PutTargets",
        r.map(|o| format!("failed {}", o.failed_entry_count()))
            .unwrap_or_else(|e| e.code().unwrap_or("?").to_string()),
    );
    let r = events.list_targets_by_rule().rule("nightly").send().await;
    note(
        "ListTargetsByRule",
        r.map(|o| {
            let t = &o.targets()[0];
            let p = t.ecs_parameters().unwrap();
            format!(
                "{} {} {:?} {:?} {:?}",
                t.id(),
                p.task_definition_arn(),
                p.task_count(),
                p.launch_type(),
                p.network_configuration()
                    .and_then(|n| n.awsvpc_configuration())
                    .map(|v| (v.subnets().to_vec(), v.assign_public_ip().cloned()))
            )
        })
        .unwrap_or_else(|e| e.code().unwrap_or("?").to_string()),
    );
    let r = events.list_targets_by_rule().rule("missing").send().await;
    note("ListTargetsByRule missing", outcome(&r));
    let r = events
        .put_targets()
        .rule("missing")
        .targets(target)
        .send()
        .await;
    note("PutTargets missing", outcome(&r));
    let r = events.describe_rule().name("nightly").send().await;
    note(
        "DescribeRule",
        r.map(|o| format!("{:?} {:?}", o.schedule_expression(), o.state()))
            .unwrap_or_default(),
    );

    let sc_target = |rev: u32| {
        sc::Target::builder()
            .arn(cluster)
            .role_arn(role)
            .ecs_parameters(
                sc::EcsParameters::builder()
                    .task_definition_arn(td(rev))
                    .task_count(1)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let window = sc::FlexibleTimeWindow::builder()
        .mode(sc::FlexibleTimeWindowMode::Off)
        .build()
        .unwrap();
    let create = || {
        scheduler
            .create_schedule()
            .name("report")
            .schedule_expression("rate(1 hour)")
            .flexible_time_window(window.clone())
            .target(sc_target(1))
    };
    note("CreateSchedule", outcome(&create().send().await));
    note("CreateSchedule again", outcome(&create().send().await));
    let get = || scheduler.get_schedule().name("report").send();
    let show = |r: Result<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput, _>| {
        r.map(|o| {
            format!(
                "{:?} {:?} {:?}",
                o.group_name(),
                o.state(),
                o.target()
                    .and_then(|t| t.ecs_parameters())
                    .map(|p| p.task_definition_arn().to_string())
            )
        })
        .unwrap_or_else(|e: aws_sdk_scheduler::error::SdkError<_>| {
            e.code().unwrap_or("?").to_string()
        })
    };
    note("GetSchedule", show(get().await));
    let r = scheduler.get_schedule().name("missing").send().await;
    note("GetSchedule missing", outcome(&r));
    let r = scheduler
        .update_schedule()
        .name("report")
        .schedule_expression("rate(1 hour)")
        .flexible_time_window(window.clone())
        .target(sc_target(2))
        .send()
        .await;
    note("UpdateSchedule", outcome(&r));
    // Not the state here: moto leaves an update's State unset when it is not given, where the
    // sandbox (as CreateSchedule does in both) puts the default ENABLED back; AWS never answers
    // a schedule without a state.
    let updated = show(get().await);
    let updated = updated
        .replace(" Some(Enabled) ", " ")
        .replace(" None ", " ");
    note("GetSchedule updated", updated);
    let r = scheduler
        .update_schedule()
        .name("missing")
        .schedule_expression("rate(1 hour)")
        .flexible_time_window(window)
        .target(sc_target(2))
        .send()
        .await;
    note("UpdateSchedule missing", outcome(&r));
    let r = scheduler.delete_schedule().name("report").send().await;
    note("DeleteSchedule", outcome(&r));
    note("GetSchedule deleted", show(get().await));
    log
}

#[tokio::test]
async fn schedules_and_rule_targets_get_the_same_answers_from_moto_and_the_sandbox() {
    let moto = Moto::start();
    let sandbox = Sandbox::start(1.0);
    let from_moto = schedule_sequence(&moto.config().await).await;
    let from_sandbox = schedule_sequence(&sandbox.config(None, 1).await).await;
    assert_eq!(from_moto, from_sandbox, "moto and the sandbox disagree");
    for code in ["ResourceNotFoundException", "ConflictException"] {
        assert!(
            from_sandbox.iter().any(|(_, o)| o == code),
            "{code}: {from_sandbox:?}"
        );
    }
    assert!(from_sandbox.iter().filter(|(_, o)| o == "ok").count() >= 4);
}

/// CloudWatch Logs through the AWS SDK for Rust: what stevedore reads (GetLogEvents forward from
/// the head, the tail, the token at the end of a stream) and the refusals around it.
async fn logs_sequence(conf: &aws_config::SdkConfig) -> Vec<(String, String)> {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    let mut log: Vec<(String, String)> = Vec::new();
    let mut note = |step: &str, what: String| log.push((step.to_string(), what));
    let (g, s) = ("/ecs/xcheck", "ecs/app/task1");
    note(
        "CreateLogGroup",
        outcome(&logs.create_log_group().log_group_name(g).send().await),
    );
    note(
        "CreateLogGroup again",
        outcome(&logs.create_log_group().log_group_name(g).send().await),
    );
    note(
        "CreateLogStream",
        outcome(
            &logs
                .create_log_stream()
                .log_group_name(g)
                .log_stream_name(s)
                .send()
                .await,
        ),
    );
    note(
        "CreateLogStream again",
        outcome(
            &logs
                .create_log_stream()
                .log_group_name(g)
                .log_stream_name(s)
                .send()
                .await,
        ),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event = |i: i64| {
        InputLogEvent::builder()
            .timestamp(now + i)
            .message(format!("m{i}"))
            .build()
            .unwrap()
    };
    let r = logs
        .put_log_events()
        .log_group_name(g)
        .log_stream_name(s)
        .set_log_events(Some((0..5).map(event).collect()))
        .send()
        .await;
    note("PutLogEvents", outcome(&r));
    let r = logs
        .put_log_events()
        .log_group_name(g)
        .log_stream_name(s)
        .log_events(event(9))
        .log_events(event(8))
        .send()
        .await;
    note("PutLogEvents out of order", outcome(&r));
    let messages = |o: &aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput| {
        o.events()
            .iter()
            .filter_map(|e| e.message())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut token: Option<String> = None;
    for page in 0..4 {
        let mut req = logs
            .get_log_events()
            .log_group_name(g)
            .log_stream_name(s)
            .limit(2);
        req = match &token {
            Some(t) => req.next_token(t),
            None => req.start_from_head(true),
        };
        match req.send().await {
            Ok(o) => {
                let same = token.as_deref() == o.next_forward_token();
                note(
                    &format!("GetLogEvents page {page}"),
                    format!("{} end={same}", messages(&o)),
                );
                token = o.next_forward_token().map(String::from);
            }
            Err(e) => note(
                &format!("GetLogEvents page {page}"),
                e.code().unwrap_or("?").to_string(),
            ),
        }
    }
    let r = logs
        .get_log_events()
        .log_group_name(g)
        .log_stream_name(s)
        .limit(2)
        .send()
        .await;
    note(
        "GetLogEvents tail",
        r.map(|o| messages(&o)).unwrap_or_default(),
    );
    let r = logs
        .filter_log_events()
        .log_group_name(g)
        .filter_pattern("m3")
        .send()
        .await;
    note(
        "FilterLogEvents",
        r.map(|o| {
            o.events()
                .iter()
                .filter_map(|e| e.message())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default(),
    );
    let r = logs.describe_log_streams().log_group_name(g).send().await;
    note(
        "DescribeLogStreams",
        r.map(|o| {
            o.log_streams()
                .iter()
                .filter_map(|s| s.log_stream_name())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default(),
    );
    note(
        "GetLogEvents no stream",
        outcome(
            &logs
                .get_log_events()
                .log_group_name(g)
                .log_stream_name("nope")
                .send()
                .await,
        ),
    );
    note(
        "GetLogEvents no group",
        outcome(
            &logs
                .get_log_events()
                .log_group_name("/nope")
                .log_stream_name(s)
                .send()
                .await,
        ),
    );
    log
}

#[tokio::test]
async fn log_reads_get_the_same_answers_from_moto_and_the_sandbox() {
    let moto = Moto::start();
    let sandbox = Sandbox::start(1.0);
    let from_moto = logs_sequence(&moto.config().await).await;
    let from_sandbox = logs_sequence(&sandbox.config(None, 1).await).await;
    eprintln!("{from_sandbox:?}");
    assert_eq!(from_moto, from_sandbox, "moto and the sandbox disagree");
    assert!(
        from_sandbox.iter().any(|(_, o)| o == "m4 end=false"),
        "{from_sandbox:?}"
    );
    assert!(
        from_sandbox.iter().any(|(_, o)| o == " end=true"),
        "{from_sandbox:?}"
    );
}
