//! `stevedore deploy` with ECS's own blue/green, linear and canary strategies, against the
//! sandbox's service deployments (lifecycle stages, hooks, alarms, the circuit breaker).

use crate::deploy::{deploy, service, CRASH};
use crate::harness::*;
use serde_json::Value;
use std::process::Command;

/// The three native strategies, with settings that keep each run short at the sandbox's 20x
/// clock (a one-minute step is three real seconds).
const STRATEGIES: [(&str, &str); 3] = [
    ("BLUE_GREEN", "'strategy': 'BLUE_GREEN'"),
    ("LINEAR", "'strategy': 'LINEAR', 'linearConfiguration': {'stepPercent': 50.0, 'stepBakeTimeInMinutes': 1}"),
    ("CANARY", "'strategy': 'CANARY', 'canaryConfiguration': {'canaryPercent': 10.0, 'canaryBakeTimeInMinutes': 1}"),
];

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke";

/// Cluster `c1`, service `web` on web:1 (container `app` from `image`, port 8080) behind a
/// load balancer with an alternate target group, deploying with `config` (Python dict body),
/// settled. Also registers web:2 with `next` (to promote), when given.
pub(crate) fn setup(sb: &SandboxProc, image: &str, config: &str, next: Option<&str>) {
    setup_in(sb, "c1", image, config, next)
}

/// [`setup`] in another cluster.
fn setup_in(sb: &SandboxProc, cluster: &str, image: &str, config: &str, next: Option<&str>) {
    let td = |img: &str| {
        format!("ecs.register_task_definition(family='web', requiresCompatibilities=['FARGATE'], networkMode='awsvpc', cpu='256', memory='512',\n  containerDefinitions=[{{'name': 'app', 'image': {img:?}, 'portMappings': [{{'containerPort': 8080}}]}}])\n")
    };
    let mut py = format!("ecs.create_cluster(clusterName={cluster:?})\n{}", td(image));
    if let Some(n) = next {
        py.push_str(&td(n));
    }
    py.push_str(&format!(
        "lb = [{{'targetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1', 'containerName': 'app', 'containerPort': 8080,\n\
           'advancedConfiguration': {{'alternateTargetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2',\n\
             'productionListenerRule': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3',\n\
             'testListenerRule': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/4/5', 'roleArn': 'arn:aws:iam::123456789012:role/lb'}}}}]\n\
         ecs.create_service(cluster={cluster:?}, serviceName='web', taskDefinition='web:1', desiredCount=2, launchType='FARGATE', loadBalancers=lb,\n\
           networkConfiguration={{'awsvpcConfiguration': {{'subnets': ['subnet-1']}}}}, deploymentConfiguration={{{config}}})\n\
         import time\n\
         def settled():\n  s = ecs.describe_services(cluster={cluster:?}, services=['web'])['services'][0]\n  return s['deployments'][0].get('rolloutState') == 'COMPLETED'\n\
         ok = any(settled() or time.sleep(0.05) for _ in range(200))\n\
         print(json.dumps(ok))"
    ));
    assert_eq!(sb.boto3(&py), Value::Bool(true));
}

/// A sandbox with service `web` on v1 under `config` (see [`setup`]), and the v2 image to deploy.
pub(crate) fn with_service(config: &str) -> (SandboxProc, String) {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, config, None);
    (sb, v2)
}

/// The service's newest service deployment, as boto3 reads it.
fn newest(sb: &SandboxProc) -> Value {
    sb.boto3("arn = ecs.list_service_deployments(cluster='c1', service='web')['serviceDeployments'][0]['serviceDeploymentArn']\nprint(json.dumps(ecs.describe_service_deployments(serviceDeploymentArns=[arn])['serviceDeployments'][0], default=str))")
}

/// The revision the service runs (`family:revision`).
fn runs(sb: &SandboxProc) -> String {
    let td = service(sb)["taskDefinition"].as_str().unwrap().to_string();
    td.rsplit('/').next().unwrap().to_string()
}

/// The newest service deployment of `web` in c1 once its status is `status` (boto3 polls for
/// up to 20 s); its status then.
fn newest_once(sb: &SandboxProc, status: &str) -> Value {
    sb.boto3(&format!("import time\nfor _ in range(200):\n  arn = ecs.list_service_deployments(cluster='c1', service='web')['serviceDeployments'][0]['serviceDeploymentArn']\n  d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])['serviceDeployments'][0]\n  if d['status'] == {status:?}: break\n  time.sleep(0.1)\nprint(json.dumps(d['status']))"))
}

fn task_definition_count(sb: &SandboxProc) -> usize {
    sb.boto3("print(json.dumps(len(ecs.list_task_definitions(familyPrefix='web')['taskDefinitionArns'])))")
        .as_u64()
        .unwrap() as usize
}

/// The position of each `stage X began` line, in STAGES order; every stage must appear.
fn stage_positions(text: &str) -> Vec<usize> {
    // RECONCILE_SERVICE happens only with several ACTIVE revisions: not in these deployments.
    stevedore::ecs::stages::STAGES[1..]
        .iter()
        .map(|s| {
            text.find(&format!("stage {s} began"))
                .unwrap_or_else(|| panic!("stage {s} not printed:\n{text}"))
        })
        .collect()
}

#[test]
fn each_strategy_succeeds_with_every_stage_printed_in_order() {
    for (name, config) in STRATEGIES {
        let (sb, v2) = with_service(&format!("{config}, 'bakeTimeInMinutes': 1"));
        let out = deploy(&sb, &["--service", "web", "--image", &v2])
            .run()
            .success();
        let text = &out.stdout;
        let pos = stage_positions(text);
        assert!(
            pos.windows(2).all(|w| w[0] < w[1]),
            "{name}: stages out of order:\n{text}"
        );
        assert!(
            text.contains("stage BAKE_TIME ended after"),
            "{name}:\n{text}"
        );
        assert!(
            text.contains("service deployment SUCCESSFUL"),
            "{name}:\n{text}"
        );
        let shifts: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("production traffic: "))
            .collect();
        let expected: &[&str] = match name {
            "LINEAR" => &[
                "production traffic: 0% on the new revision",
                "production traffic: 50% on the new revision",
                "production traffic: 100% on the new revision",
            ],
            "CANARY" => &[
                "production traffic: 0% on the new revision",
                "production traffic: 10% on the new revision",
                "production traffic: 100% on the new revision",
            ],
            _ => &[
                "production traffic: 0% on the new revision",
                "production traffic: 100% on the new revision",
            ],
        };
        assert_eq!(shifts, expected, "{name}:\n{text}");
        assert!(
            text.lines()
                .last()
                .unwrap()
                .starts_with("web: deployed web:2"),
            "{name}:\n{text}"
        );
        assert_eq!(newest(&sb)["status"], "SUCCESSFUL");
        assert_eq!(runs(&sb), "web:2");
    }
}

#[test]
fn a_failing_lambda_hook_rolls_back_with_the_hook_named() {
    for (name, config) in STRATEGIES {
        let sb = SandboxProc::start();
        let v1 = sb.push_image("app", "v1", &[]);
        let v2 = sb.push_image("app", "v2", &[]);
        let hook = format!("{config}, 'lifecycleHooks': [{{'targetType': 'AWS_LAMBDA', 'hookTargetArn': {LAMBDA:?}, 'roleArn': 'arn:aws:iam::123456789012:role/hook', 'lifecycleStages': ['POST_SCALE_UP']}}]");
        setup(&sb, &v1, &hook, None);
        sb.control("PUT", "/_sandbox/hooks", &format!("{{\"targetArn\": {LAMBDA:?}, \"answers\": [\"IN_PROGRESS\", \"FAILED\"], \"callBackDelaySeconds\": 30}}"));
        let dir = tempfile::tempdir().unwrap();
        let report_dir = dir.path().join("report");
        let report_arg = report_dir.to_str().unwrap();
        let out = deploy(
            &sb,
            &["--service", "web", "--image", &v2, "--report", report_arg],
        )
        .run();
        assert_eq!(out.code, 3, "{name}: {}", out.all());
        assert!(
            out.stdout
                .contains("hook smoke at POST_SCALE_UP: IN_PROGRESS"),
            "{name}:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("hook smoke at POST_SCALE_UP: FAILED"),
            "{name}:\n{}",
            out.stdout
        );
        // ECS's rollback is followed to its end: the previous revision runs again, as boto3
        // reads the service deployment and the service.
        assert!(
            out.stdout.contains("following ECS's rollback to web:1"),
            "{name}:\n{}",
            out.stdout
        );
        let last = out.stdout.lines().last().unwrap();
        assert!(
            last.contains("ROLLED BACK")
                && last.contains("hook smoke FAILED")
                && last.contains("; rolled back: web:1 running 2/2 again after "),
            "{name}: {last}"
        );
        assert_eq!(newest(&sb)["status"], "ROLLBACK_SUCCESSFUL", "{name}");
        assert_eq!(runs(&sb), "web:1", "{name}");
        let report = crate::report::valid_report(&report_dir);
        let rollback = &report["services"][0]["rollback"];
        assert_eq!(rollback["state"], "restored", "{name}: {report}");
        assert_eq!(rollback["to"], "web:1", "{name}: {report}");
        if name == STRATEGIES[0].0 {
            // --rollback-wait none: the verdict at ECS's decision, the rollback left to ECS.
            let again = &[
                "--service",
                "web",
                "--image",
                &v2,
                "--rollback-wait",
                "none",
            ];
            let out = deploy(&sb, again).run();
            assert_eq!(out.code, 3, "{name}: {}", out.all());
            let last = out.stdout.lines().last().unwrap();
            assert!(
                last.ends_with("ECS is rolling back to web:1 (not followed: --rollback-wait none)"),
                "{name}: {last}"
            );
        }
    }
}

#[test]
fn an_alarm_firing_during_the_bake_rolls_back_with_the_alarm_named() {
    for (name, config) in STRATEGIES {
        let (sb, v2) = with_service(config);
        let url = sb.env["STEVEDORE_SANDBOX_URL"].clone();
        let out = std::thread::scope(|s| {
            // The alarm fires once the deployment is baking, as a watcher sees it.
            s.spawn(|| {
                sb.boto3(&format!("import time, urllib.request\n\
                    for _ in range(600):\n  l = ecs.list_service_deployments(cluster='c1', service='web', status=['IN_PROGRESS'])['serviceDeployments']\n  \
                    d = l and ecs.describe_service_deployments(serviceDeploymentArns=[l[0]['serviceDeploymentArn']])['serviceDeployments'][0]\n  \
                    if d and d.get('lifecycleStage') == 'BAKE_TIME':\n    break\n  time.sleep(0.1)\n\
                    r = urllib.request.Request({url:?} + '/_sandbox/alarms', data=b'{{\"alarmName\": \"errors\", \"state\": \"ALARM\"}}', method='PUT', headers={{'Content-Type': 'application/json'}})\n\
                    urllib.request.urlopen(r)\nprint(json.dumps(True))"));
            });
            deploy(
                &sb,
                &[
                    "--service",
                    "web",
                    "--image",
                    &v2,
                    "--alarms",
                    "p99,errors",
                    "--bake-time",
                    "10m",
                ],
            )
            .run()
        });
        assert_eq!(out.code, 3, "{name}: {}", out.all());
        let text = &out.stdout;
        assert!(text.contains("stage BAKE_TIME began"), "{name}:\n{text}");
        let last = text.lines().last().unwrap();
        assert!(
            last.contains("ROLLED BACK") && last.contains("alarm errors in ALARM"),
            "{name}: {last}"
        );
        let d = newest(&sb);
        assert_eq!(d["alarms"]["triggeredAlarmNames"][0], "errors");
        assert_eq!(
            d["deploymentConfiguration"]["alarms"]["alarmNames"],
            serde_json::json!(["p99", "errors"])
        );
    }
}

#[test]
fn a_crash_looping_revision_trips_the_breaker_with_the_stop_reasons() {
    for (name, config) in STRATEGIES {
        let sb = SandboxProc::start();
        let v1 = sb.push_image("app", "v1", &[]);
        let bad = sb.push_image("app", "crash", CRASH);
        setup(
            &sb,
            &v1,
            &format!("{config}, 'deploymentCircuitBreaker': {{'enable': True, 'rollback': True}}"),
            None,
        );
        let out = deploy(&sb, &["--service", "web", "--image", &bad]).run();
        assert_eq!(out.code, 3, "{name}: {}", out.all());
        let text = &out.stdout;
        assert!(
            text.contains(
                "[EssentialContainerExited]: Essential container in task exited (app exited 3)"
            ),
            "{name}:\n{text}"
        );
        let last = text.lines().last().unwrap();
        assert!(
            last.contains("ROLLED BACK") && last.contains("circuit breaker"),
            "{name}: {last}"
        );
        assert!(
            !text.contains("stage TEST_TRAFFIC_SHIFT began"),
            "{name}: traffic never moved to a crashing revision:\n{text}"
        );
    }
}

#[test]
fn wait_until_traffic_shifted_leaves_the_bake_to_ecs() {
    for (name, config) in STRATEGIES {
        let (sb, v2) = with_service(config);
        let out = deploy(
            &sb,
            &[
                "--service",
                "web",
                "--image",
                &v2,
                "--bake-time",
                "1h",
                "--wait-until",
                "traffic-shifted",
            ],
        )
        .run()
        .success();
        assert!(
            out.stdout
                .contains("production traffic is on web:2; ECS finishes BAKE_TIME on its own"),
            "{name}:\n{}",
            out.stdout
        );
        // The sandbox is still baking: the deploy did not sit through the hour.
        let d = newest(&sb);
        assert_eq!(
            (d["status"].as_str(), d["lifecycleStage"].as_str()),
            (Some("IN_PROGRESS"), Some("BAKE_TIME")),
            "{name}"
        );
        assert_eq!(
            d["targetServiceRevision"]["requestedProductionTrafficWeight"],
            100.0
        );
    }
}

#[test]
fn verify_at_the_pause_hook_continues_or_rolls_back() {
    for (name, config) in STRATEGIES {
        for ok in [true, false] {
            let sb = SandboxProc::start();
            let v1 = sb.push_image("app", "v1", &[]);
            let v2 = sb.push_image("app", "v2", &[]);
            let hook = format!("{config}, 'lifecycleHooks': [{{'targetType': 'PAUSE', 'lifecycleStages': ['POST_TEST_TRAFFIC_SHIFT'], 'timeoutConfiguration': {{'timeoutInMinutes': 60, 'action': 'ROLLBACK'}}}}]");
            setup(&sb, &v1, &hook, None);
            // The check requests the test listener, which answers with the green revision's
            // identity, and sees the hook's stage; it fails on demand.
            let listeners = sb.control_get("/_sandbox/listeners");
            let test_url = listeners
                ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/4/5"]
                .as_str()
                .unwrap()
                .to_string();
            let cmd = format!(
                "body=$(curl -fsS {test_url}) && echo \"test listener: $body\" && case \"$body\" in *'\"revision\":\"green\"'*) ;; *) exit 9;; esac && case \"$body\" in *'\"taskDefinition\":\"web:2\"'*) ;; *) exit 9;; esac && test \"$STEVEDORE_VERIFY_STAGE\" = POST_TEST_TRAFFIC_SHIFT && case \"$STEVEDORE_VERIFY_TEST_LISTENER_RULE\" in *listener-rule/app/lb/1/4/5) echo checked $STEVEDORE_VERIFY_HOOK_ID;; *) exit 9;; esac && echo green at $STEVEDORE_VERIFY_PRIVATE_IPS port $STEVEDORE_VERIFY_PORT && {}",
                if ok { "true" } else { "exit 1" }
            );
            let out = deploy(&sb, &["--service", "web", "--image", &v2, "--verify", &cmd]).run();
            let text = &out.stdout;
            assert!(
                text.contains("checked ecs-pause-"),
                "{name}:\n{}",
                out.all()
            );
            // The green tasks' addresses, as DescribeTasks has them (no public IP asked for).
            let green = text
                .lines()
                .find_map(|l| l.strip_prefix("green at "))
                .unwrap_or_else(|| panic!("{name}: the green tasks' addresses:\n{text}"));
            let ips: Vec<&str> = green.trim_end_matches(" port 8080").split(' ').collect();
            assert!(
                green.ends_with(" port 8080")
                    && ips.len() == 2
                    && ips.iter().all(|ip| ip.starts_with("10.177.")),
                "{name}: {green}"
            );
            let answer = text
                .lines()
                .find_map(|l| l.strip_prefix("test listener: "))
                .unwrap_or_else(|| panic!("{name}: the listener's answer:\n{text}"));
            let answer: Value = serde_json::from_str(answer).unwrap();
            assert_eq!(
                (
                    answer["listener"].as_str(),
                    answer["revision"].as_str(),
                    answer["taskDefinition"].as_str()
                ),
                (Some("test"), Some("green"), Some("web:2"))
            );
            if ok {
                assert_eq!(out.code, 0, "{name}: {}", out.all());
                assert!(
                    text.contains("answered the pause hook CONTINUE"),
                    "{name}:\n{text}"
                );
                assert!(stage_positions(text).windows(2).all(|w| w[0] < w[1]));
                assert_eq!(runs(&sb), "web:2");
            } else {
                assert_eq!(out.code, 3, "{name}: {}", out.all());
                assert!(
                    text.contains("answered the pause hook ROLLBACK"),
                    "{name}:\n{text}"
                );
                let last = text.lines().last().unwrap();
                assert!(
                    last.contains("ROLLED BACK: the verification")
                        && last.contains("exited with code 1"),
                    "{name}: {last}"
                );
                // Production traffic never moved.
                assert!(
                    !text.contains("stage PRODUCTION_TRAFFIC_SHIFT began"),
                    "{name}:\n{text}"
                );
                let d = newest_once(&sb, "ROLLBACK_SUCCESSFUL");
                assert_eq!(d, "ROLLBACK_SUCCESSFUL");
                assert_eq!(runs(&sb), "web:1");
            }
        }
    }
}

#[test]
fn a_waiting_pause_hook_is_continued_from_a_later_step() {
    // A bake of 10 minutes (30 s at the sandbox's speed) keeps the deployment in progress after
    // the hook is continued, so the rollback below finds it under any load (without it the
    // deployment could end in between).
    let (sb, v2) = with_service("'strategy': 'BLUE_GREEN', 'bakeTimeInMinutes': 10, 'lifecycleHooks': [{'targetType': 'PAUSE', 'lifecycleStages': ['POST_SCALE_UP']}]");
    // Nothing waits yet: continue says so, exit 2.
    let early = stevedore(&["continue", "--cluster", "c1", "--service", "web"])
        .sandbox(&sb, true)
        .run();
    assert_eq!(early.code, 2, "{}", early.all());
    deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--wait-until", "none"],
    )
    .run()
    .success();
    let waiting = sb.boto3("import time\nfor _ in range(200):\n  arn = ecs.list_service_deployments(cluster='c1', service='web')['serviceDeployments'][0]['serviceDeploymentArn']\n  d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])['serviceDeployments'][0]\n  if any(h['status'] == 'AWAITING_ACTION' for h in d.get('lifecycleHookDetails', [])): break\n  time.sleep(0.1)\nprint(json.dumps(d['lifecycleStage']))");
    assert_eq!(waiting, "POST_SCALE_UP");
    let out = stevedore(&["continue", "--cluster", "c1", "--service", "web"])
        .sandbox(&sb, true)
        .run()
        .success();
    assert!(
        out.stdout
            .contains("answered the pause hook in POST_SCALE_UP CONTINUE"),
        "{}",
        out.stdout
    );
    // And a rollback of what is left of it.
    let out = stevedore(&["rollback", "--cluster", "c1", "--service", "web"])
        .sandbox(&sb, true)
        .run()
        .success();
    assert!(out.stdout.contains("with a rollback"), "{}", out.stdout);
    let status = newest_once(&sb, "ROLLBACK_SUCCESSFUL");
    assert_eq!(status, "ROLLBACK_SUCCESSFUL");
}

#[test]
fn promoting_an_existing_revision_registers_nothing() {
    for (name, config) in STRATEGIES {
        let sb = SandboxProc::start();
        let v1 = sb.push_image("app", "v1", &[]);
        let v2 = sb.push_image("app", "v2", &[]);
        setup(&sb, &v1, config, Some(&v2));
        assert_eq!(task_definition_count(&sb), 2);
        let out = deploy(&sb, &["--service", "web", "--task-definition", "web:2"])
            .run()
            .success();
        assert!(
            !out.stdout.contains("registered"),
            "{name}:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("service deployment SUCCESSFUL"),
            "{name}:\n{}",
            out.stdout
        );
        assert_eq!(task_definition_count(&sb), 2, "{name}");
        assert_eq!(runs(&sb), "web:2");
    }
}

#[test]
fn what_a_strategy_cannot_do_exits_2_and_registers_nothing() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    // A rolling service behind a plain target group.
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\n\
        ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v1:?}, 'portMappings': [{{'containerPort': 8080}}]}}])\n\
        ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1,\n\
          loadBalancers=[{{'targetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1', 'containerName': 'app', 'containerPort': 8080}}])\n\
        print(json.dumps(True))"));
    for (args, says) in [
        (
            vec!["--strategy", "blue-green"],
            "needs an alternate target group",
        ),
        (
            vec!["--strategy", "canary", "--bake-time", "25h"],
            "--bake-time: 25h is not whole minutes",
        ),
        (
            vec!["--strategy", "linear", "--linear-step", "2"],
            "--linear-step: 2 is not a percentage from 3",
        ),
        (
            vec!["--bake-time", "10m"],
            "--bake-time is for the blue-green, linear and canary strategies",
        ),
    ] {
        let mut all = vec!["--service", "web", "--image", &v2];
        all.extend(args.iter().copied());
        let out = deploy(&sb, &all).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{args:?}: one line: {}",
            out.stderr
        );
    }
    // --verify on blue/green without a pause hook: the service has the target groups now.
    sb.boto3("lb = ecs.describe_services(cluster='c1', services=['web'])['services'][0]['loadBalancers']\n\
        lb[0]['advancedConfiguration'] = {'alternateTargetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2', 'productionListenerRule': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3', 'roleArn': 'arn:aws:iam::123456789012:role/lb'}\n\
        ecs.update_service(cluster='c1', service='web', loadBalancers=lb, deploymentConfiguration={'strategy': 'BLUE_GREEN'})\nprint(json.dumps(True))");
    let out = deploy(
        &sb,
        &["--service", "web", "--image", &v2, "--verify", "true"],
    )
    .run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("no PAUSE lifecycle hook"),
        "{}",
        out.stderr
    );
    assert_eq!(task_definition_count(&sb), 1, "nothing registered");
    assert_eq!(runs(&sb), "web:1");
}

/// The orb's blue/green example, as a project's config, through the orb harness: the pushed
/// image deployed blue/green, the repository's smoke test run at the pause hook, the job done
/// once production traffic moved while ECS still bakes.
#[test]
fn the_orbs_blue_green_example_runs_end_to_end() {
    use crate::orb::{packed_orb, project, root, Files, Job};
    let tmp = tempfile::tempdir().unwrap();
    let orb = packed_orb(tmp.path());
    let sb = SandboxProc::start();
    let base = sb.push_image("web", "v0", &[]);
    setup_in(&sb, "production", &base, "'strategy': 'BLUE_GREEN', 'lifecycleHooks': [{'targetType': 'PAUSE', 'lifecycleStages': ['POST_TEST_TRAFFIC_SHIFT'], 'timeoutConfiguration': {'timeoutInMinutes': 30, 'action': 'ROLLBACK'}}]", None);
    let policy = rendered(
        &sb,
        &[
            "iam",
            "policy",
            "--repo",
            "web",
            "--cluster",
            "production",
            "--service",
            "web",
            "--service-deployments",
        ],
    );
    sb.put_role("circleci-deployer", None, Some(&policy));
    // The example's `usage`, as the project's config.
    let config = tmp.path().join("config.yml");
    let extracted = std::process::Command::new(venv().join("bin/python"))
        .args(["-c", "import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))['usage'], open(sys.argv[2], 'w'))"])
        .arg(root().join("orb/src/examples/blue_green_smoke_test.yml"))
        .arg(&config)
        .status()
        .unwrap();
    assert!(extracted.success());
    let checkout = tmp.path().join("project");
    project(&checkout, false);
    std::fs::create_dir_all(checkout.join("scripts")).unwrap();
    let smoke = checkout.join("scripts/smoke-test.sh");
    std::fs::write(&smoke, "#!/bin/sh\nset -eu\ntest \"$STEVEDORE_VERIFY_STAGE\" = POST_TEST_TRAFFIC_SHIFT\necho \"smoke test passed against $STEVEDORE_VERIFY_TEST_LISTENER_RULE\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&smoke, std::fs::Permissions::from_mode(0o755)).unwrap();
    let files = Files::serve(&crate::orb::dist_dir());
    let job = Job::new(&sb, orb, tmp.path(), &files);
    let out = job.run_config(&config, "release", &checkout);
    job.forget_built(&["web"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = &out.stdout;
    assert!(text.contains("smoke test passed against arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/4/5"), "{text}");
    assert!(text.contains("answered the pause hook CONTINUE"), "{text}");
    assert!(
        text.contains("production traffic is on web:2; ECS finishes BAKE_TIME on its own"),
        "{text}"
    );
    let d = sb.boto3("arn = ecs.list_service_deployments(cluster='production', service='web')['serviceDeployments'][0]['serviceDeploymentArn']\nd = ecs.describe_service_deployments(serviceDeploymentArns=[arn])['serviceDeployments'][0]\nprint(json.dumps([d['lifecycleStage'], d['deploymentConfiguration']['bakeTimeInMinutes'], d['deploymentConfiguration']['alarms']['alarmNames']]))");
    assert_eq!(
        d,
        serde_json::json!(["BAKE_TIME", 15, ["web-5xx", "web-p99-latency"]])
    );
}

#[test]
fn external_services_and_codedeploy_ones_without_their_group_are_refused_before_anything_is_registered(
) {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\n\
        ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v1:?}}}])\n\
        for name, kind in [('cd', 'CODE_DEPLOY'), ('ext', 'EXTERNAL')]:\n  ecs.create_service(cluster='c1', serviceName=name, taskDefinition='web:1', desiredCount=1, deploymentController={{'type': kind}})\n\
        print(json.dumps(True))"));
    // The sandbox refuses as ECS does, so the refusal before registering is what saves the user.
    let direct = sb.boto3("try:\n  ecs.update_service(cluster='c1', service='cd', taskDefinition='web:1')\n  print(json.dumps('accepted'))\nexcept ecs.exceptions.InvalidParameterException as e:\n  print(json.dumps(str(e)))");
    assert!(
        direct
            .as_str()
            .unwrap()
            .contains("CODE_DEPLOY deployment controller"),
        "{direct}"
    );
    for (service, says) in [
        ("cd", "CodeDeploy application AppECS-c1-cd not found"),
        ("ext", "EXTERNAL deployment controller"),
    ] {
        let out = deploy(&sb, &["--service", service, "--image", &v2]).run();
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains(says), "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    assert_eq!(task_definition_count(&sb), 1, "nothing registered");
}

#[test]
fn a_dry_run_shows_the_strategy_settings_and_changes_nothing() {
    let (sb, v2) = with_service("'strategy': 'BLUE_GREEN'");
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--strategy",
            "canary",
            "--canary-percent",
            "10",
            "--step-bake-time",
            "5m",
            "--bake-time",
            "1h",
            "--alarms",
            "errors",
            "--dry-run",
        ],
    )
    .run()
    .success();
    for line in [
        "~ deploymentConfiguration.strategy: \"BLUE_GREEN\" -> \"CANARY\"",
        "~ deploymentConfiguration.bakeTimeInMinutes: null -> 60",
        "~ deploymentConfiguration.canaryConfiguration: null -> {\"canaryPercent\":10.0,\"canaryBakeTimeInMinutes\":5}",
        "~ deploymentConfiguration.alarms: null -> {\"alarmNames\":[\"errors\"],\"enable\":true,\"rollback\":true}",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    assert_eq!(task_definition_count(&sb), 1);
    assert_eq!(
        service(&sb)["deploymentConfiguration"]["strategy"],
        "BLUE_GREEN"
    );
}

#[test]
fn in_docker_mode_verify_at_the_pause_hook_reaches_the_green_container() {
    let sb = SandboxProc::start_docker();
    let v1 = sb.push_runnable_image("app", "v1");
    let v2 = sb.push_runnable_image("app", "v2");
    // The containers serve their own files: `/hello.txt` names the image each was made from.
    sb.boto3(&format!("ecs.create_cluster(clusterName='c1')\n\
        for image in [{v1:?}, {v2:?}]:\n  ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': image,\n    'command': ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/'], 'portMappings': [{{'containerPort': 8080}}]}}])\n\
        lb = [{{'targetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1', 'containerName': 'app', 'containerPort': 8080,\n\
          'advancedConfiguration': {{'alternateTargetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2',\n\
            'productionListenerRule': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3',\n\
            'testListenerRule': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/4/5', 'roleArn': 'arn:aws:iam::123456789012:role/lb'}}}}]\n\
        ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1, loadBalancers=lb,\n\
          deploymentConfiguration={{'strategy': 'BLUE_GREEN', 'lifecycleHooks': [{{'targetType': 'PAUSE', 'lifecycleStages': ['POST_TEST_TRAFFIC_SHIFT']}}]}})\n\
        print(json.dumps(True))"));
    let listeners = sb.control_get("/_sandbox/listeners");
    let url = |rule: &str| {
        listeners[&format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/{rule}"
        )]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (production, test) = (url("2/3"), url("4/5"));
    // Blue serves once its container listens.
    let blue = Command::new("sh")
        .arg("-c")
        .arg(format!("for i in $(seq 1 150); do curl -fsS {production}/hello.txt && exit 0; sleep 0.2; done; exit 1"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&blue.stdout),
        "image app-v1\n",
        "{}",
        String::from_utf8_lossy(&blue.stderr)
    );
    // The check: the test listener must answer with green's own file, production with blue's.
    let cmd = format!(
        "green=$(curl -fsS {test}/hello.txt) && blue=$(curl -fsS {production}/hello.txt) && echo \"test: $green; production: $blue\" && test \"$green\" = 'image app-v2' && test \"$blue\" = 'image app-v1'"
    );
    let out = stevedore(&[
        "deploy",
        "--cluster",
        "c1",
        "--service",
        "web",
        "--task-definition",
        "web:2",
        "--verify",
        &cmd,
        "--poll-interval",
        "500ms",
        "--timeout",
        "120s",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("test: image app-v2; production: image app-v1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("answered the pause hook CONTINUE"),
        "{}",
        out.stdout
    );
}
