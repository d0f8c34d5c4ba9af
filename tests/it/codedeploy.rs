//! `stevedore deploy` of services with the CODE_DEPLOY deployment controller, against the
//! sandbox's CodeDeploy (applications, deployment groups, deployments over ECS task sets), and
//! that CodeDeploy read by boto3 as the witness of its shapes.

use crate::deploy::{deploy, CRASH};
use crate::harness::*;
use serde_json::{json, Value};

const SMOKE: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke";

/// Cluster `c1`, service `web` on web:1 (container `app`, port 8080) with the CODE_DEPLOY
/// controller behind a load balancer, settled; application AppECS-c1-web and deployment group
/// DgpECS-c1-web (the console's names) with `config`, the termination wait `wait` minutes and
/// auto-rollback `rollback` (Python literals).
pub(crate) fn setup(sb: &SandboxProc, image: &str, config: &str, wait: u32, rollback: &str) {
    setup_with(
        sb,
        image,
        config,
        wait,
        rollback,
        "{'actionOnTimeout': 'CONTINUE_DEPLOYMENT'}",
    )
}

/// [`setup`] with the group's deploymentReadyOption (a Python dict).
fn setup_with(sb: &SandboxProc, image: &str, config: &str, wait: u32, rollback: &str, ready: &str) {
    let py = format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', requiresCompatibilities=['FARGATE'], networkMode='awsvpc', cpu='256', memory='512',\n\
           containerDefinitions=[{{'name': 'app', 'image': {image:?}, 'portMappings': [{{'containerPort': 8080}}]}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=2, launchType='FARGATE',\n\
           deploymentController={{'type': 'CODE_DEPLOY'}}, networkConfiguration={{'awsvpcConfiguration': {{'subnets': ['subnet-1']}}}},\n\
           loadBalancers=[{{'targetGroupArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1', 'containerName': 'app', 'containerPort': 8080}}])\n\
         cd.create_application(applicationName='AppECS-c1-web', computePlatform='ECS')\n\
         cd.create_deployment_group(applicationName='AppECS-c1-web', deploymentGroupName='DgpECS-c1-web', deploymentConfigName={config:?},\n\
           serviceRoleArn='arn:aws:iam::123456789012:role/codedeploy', ecsServices=[{{'serviceName': 'web', 'clusterName': 'c1'}}],\n\
           deploymentStyle={{'deploymentType': 'BLUE_GREEN', 'deploymentOption': 'WITH_TRAFFIC_CONTROL'}},\n\
           blueGreenDeploymentConfiguration={{'terminateBlueInstancesOnDeploymentSuccess': {{'action': 'TERMINATE', 'terminationWaitTimeInMinutes': {wait}}},\n\
             'deploymentReadyOption': {ready}}},\n\
           autoRollbackConfiguration={{'enabled': {rollback}, 'events': ['DEPLOYMENT_FAILURE']}},\n\
           loadBalancerInfo={{'targetGroupPairInfoList': [{{'targetGroups': [{{'name': 'blue'}}, {{'name': 'green'}}],\n\
             'prodTrafficRoute': {{'listenerArns': ['arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/2']}},\n\
             'testTrafficRoute': {{'listenerArns': ['arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/3']}}}}]}})\n\
         import time\n\
         def settled():\n  s = ecs.describe_services(cluster='c1', services=['web'])['services'][0]\n  return s['runningCount'] == 2\n\
         print(json.dumps(any(settled() or time.sleep(0.05) for _ in range(200))))"
    );
    assert_eq!(sb.boto3(&py), Value::Bool(true));
}

pub(crate) const ALL_AT_ONCE: &str = "CodeDeployDefault.ECSAllAtOnce";

fn with_service(config: &str, wait: u32, rollback: &str) -> (SandboxProc, String) {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, config, wait, rollback);
    (sb, v2)
}

/// The newest CodeDeploy deployment of the group: GetDeployment and its target, by boto3.
fn newest(sb: &SandboxProc, id: &str) -> Value {
    sb.boto3(&format!("d = cd.get_deployment(deploymentId={id:?})['deploymentInfo']\n\
        t = cd.batch_get_deployment_targets(deploymentId={id:?}, targetIds=['c1:web'])['deploymentTargets'][0]['ecsTarget']\n\
        print(json.dumps({{'info': d, 'target': t}}, default=str))"))
}

fn runs(sb: &SandboxProc) -> String {
    let v = sb.boto3("print(json.dumps(ecs.describe_services(cluster='c1', services=['web'])['services'][0]['taskDefinition']))");
    v.as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

fn task_definition_count(sb: &SandboxProc) -> usize {
    sb.boto3("print(json.dumps(len(ecs.list_task_definitions(familyPrefix='web')['taskDefinitionArns'])))")
        .as_u64()
        .unwrap() as usize
}

/// The deployment id a deploy printed.
fn deployment_id(out: &str) -> String {
    let at = out
        .find("created CodeDeploy deployment ")
        .expect("a deployment was created");
    out[at..].split_whitespace().nth(3).unwrap().to_string()
}

#[test]
fn codedeploy_answers_boto3_as_its_model_says() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup(&sb, &v1, ALL_AT_ONCE, 0, "False");
    let out = sb.boto3(&format!("import hashlib, time\n\
        ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v2:?}, 'portMappings': [{{'containerPort': 8080}}]}}])\n\
        spec = json.dumps({{'version': 0.0, 'Resources': [{{'TargetService': {{'Type': 'AWS::ECS::Service', 'Properties': {{'TaskDefinition': 'web:2', 'LoadBalancerInfo': {{'ContainerName': 'app', 'ContainerPort': 8080}}}}}}}}]}})\n\
        rev = {{'revisionType': 'AppSpecContent', 'appSpecContent': {{'content': spec, 'sha256': hashlib.sha256(spec.encode()).hexdigest()}}}}\n\
        errors = []\n\
        for call, exc in [(lambda: cd.create_deployment(applicationName='nope', deploymentGroupName='DgpECS-c1-web', revision=rev), cd.exceptions.ApplicationDoesNotExistException),\n\
                          (lambda: cd.create_deployment(applicationName='AppECS-c1-web', deploymentGroupName='nope', revision=rev), cd.exceptions.DeploymentGroupDoesNotExistException),\n\
                          (lambda: cd.get_deployment(deploymentId='d-NOTTHERE1'), cd.exceptions.DeploymentDoesNotExistException),\n\
                          (lambda: cd.create_deployment(applicationName='AppECS-c1-web', deploymentGroupName='DgpECS-c1-web', revision={{'revisionType': 'AppSpecContent', 'appSpecContent': {{'content': spec, 'sha256': '00'}}}}), cd.exceptions.InvalidRevisionException)]:\n  \
          try:\n    call()\n  except exc as e:\n    errors.append(type(e).__name__)\n\
        group = cd.get_deployment_group(applicationName='AppECS-c1-web', deploymentGroupName='DgpECS-c1-web')['deploymentGroupInfo']\n\
        did = cd.create_deployment(applicationName='AppECS-c1-web', deploymentGroupName='DgpECS-c1-web', revision=rev)['deploymentId']\n\
        try:\n  cd.create_deployment(applicationName='AppECS-c1-web', deploymentGroupName='DgpECS-c1-web', revision=rev)\nexcept cd.exceptions.DeploymentLimitExceededException as e:\n  errors.append(type(e).__name__)\n\
        for _ in range(400):\n  d = cd.get_deployment(deploymentId=did)['deploymentInfo']\n  if d['status'] in ('Succeeded', 'Failed', 'Stopped'): break\n  time.sleep(0.05)\n\
        targets = cd.list_deployment_targets(deploymentId=did)['targetIds']\n\
        t = cd.batch_get_deployment_targets(deploymentId=did, targetIds=targets)['deploymentTargets'][0]\n\
        svc = ecs.describe_services(cluster='c1', services=['web'])['services'][0]\n\
        print(json.dumps({{'errors': errors, 'group': [group['deploymentConfigName'], group['computePlatform'], group['ecsServices']],\n\
          'status': d['status'], 'creator': d['creator'], 'times': [type(d[k]).__name__ for k in ('createTime', 'startTime', 'completeTime')],\n\
          'targets': targets, 'type': t['deploymentTargetType'], 'target_status': t['ecsTarget']['status'],\n\
          'events': [(e['lifecycleEventName'], e['status']) for e in t['ecsTarget']['lifecycleEvents']],\n\
          'ordered': all(a['endTime'] <= b['startTime'] for a, b in zip(t['ecsTarget']['lifecycleEvents'], t['ecsTarget']['lifecycleEvents'][1:])),\n\
          'sets': sorted((s['taskSetLabel'], s['trafficWeight']) for s in t['ecsTarget']['taskSetsInfo']),\n\
          'service_td': svc['taskDefinition'].rsplit('/')[-1], 'task_sets': [(s['status'], s['taskDefinition'].rsplit('/')[-1], s.get('externalId') == did) for s in svc['taskSets']]}}))"));
    let events: Vec<Value> = [
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "AllowTestTraffic",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AllowTraffic",
        "AfterAllowTraffic",
    ]
    .iter()
    .map(|e| json!([e, "Succeeded"]))
    .collect();
    assert_eq!(
        out,
        json!({
            "errors": ["ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException", "DeploymentDoesNotExistException", "InvalidRevisionException", "DeploymentLimitExceededException"],
            "group": [ALL_AT_ONCE, "ECS", [{"serviceName": "web", "clusterName": "c1"}]],
            "status": "Succeeded", "creator": "user", "times": ["datetime", "datetime", "datetime"],
            "targets": ["c1:web"], "type": "ECSTarget", "target_status": "Succeeded",
            "events": events, "ordered": true,
            "sets": [["Blue", 0.0], ["Green", 100.0]],
            "service_td": "web:2", "task_sets": [["PRIMARY", "web:2", true]],
        })
    );
}

#[test]
fn a_codedeploy_service_deploys_with_each_lifecycle_event_in_order() {
    let (sb, v2) = with_service("CodeDeployDefault.ECSCanary10Percent5Minutes", 0, "True");
    let out = deploy(&sb, &["--service", "web", "--image", &v2])
        .run()
        .success();
    let o = &out.stdout;
    assert!(o.contains("application AppECS-c1-web, deployment group DgpECS-c1-web, CodeDeployDefault.ECSCanary10Percent5Minutes"), "{o}");
    let mut at = 0;
    for line in [
        "BeforeInstall succeeded",
        "Install succeeded",
        "AfterInstall succeeded",
        "AllowTestTraffic succeeded",
        "AfterAllowTestTraffic succeeded",
        "BeforeAllowTraffic succeeded",
        "production traffic on the replacement task set: 10%",
        "production traffic on the replacement task set: 100%",
        "AllowTraffic succeeded",
        "AfterAllowTraffic succeeded",
        "deployed web:2",
    ] {
        let i = o[at..]
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} after byte {at}:\n{o}"));
        at += i + line.len();
    }
    assert_eq!(runs(&sb), "web:2");
    let d = newest(&sb, &deployment_id(o));
    assert_eq!(d["info"]["status"], "Succeeded");
    assert_eq!(d["info"]["description"], "stevedore deploy of web:2 to web");
    // The AppSpec stevedore sent: the revision and the service's load-balanced container.
    let spec: Value = serde_json::from_str(
        d["info"]["revision"]["appSpecContent"]["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let props = &spec["Resources"][0]["TargetService"]["Properties"];
    assert!(
        props["TaskDefinition"]
            .as_str()
            .unwrap()
            .ends_with(":task-definition/web:2"),
        "{spec}"
    );
    assert_eq!(
        props["LoadBalancerInfo"],
        json!({"ContainerName": "app", "ContainerPort": 8080})
    );
}

#[test]
fn a_failed_hook_names_its_lifecycle_event_and_codedeploy_rolls_back() {
    let (sb, v2) = with_service(ALL_AT_ONCE, 0, "True");
    sb.control(
        "PUT",
        "/_sandbox/hooks",
        &format!("{{\"targetArn\": {SMOKE:?}, \"answers\": [\"FAILED\"]}}"),
    );
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--codedeploy-hook",
            "AfterAllowTestTraffic=smoke",
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    let o = &out.stdout;
    assert!(o.contains("AfterAllowTestTraffic FAILED"), "{o}");
    assert!(o.contains("ROLLED BACK: CodeDeploy deployment d-"), "{o}");
    assert!(
        o.contains("Failed in AfterAllowTestTraffic: HOOK_EXECUTION_FAILURE"),
        "{o}"
    );
    assert!(
        o.contains("; rolled back: web:1 running 2/2 again after "),
        "{o}"
    );
    assert!(!o.contains("BeforeAllowTraffic succeeded"), "{o}");
    assert_eq!(runs(&sb), "web:1");
    let d = newest(&sb, &deployment_id(o));
    assert_eq!(d["info"]["status"], "Failed");
    let back = d["info"]["rollbackInfo"]["rollbackDeploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(newest(&sb, &back)["info"]["status"], "Succeeded");
}

#[test]
fn a_crash_looping_image_fails_install_with_the_tasks_stop_reasons() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let bad = sb.push_image("app", "crash", CRASH);
    setup(&sb, &v1, ALL_AT_ONCE, 0, "False");
    let out = deploy(&sb, &["--service", "web", "--image", &bad]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    let o = &out.stdout;
    assert!(o.contains("Install FAILED"), "{o}");
    assert!(
        o.contains("FAILED: CodeDeploy deployment d-")
            && o.contains("Failed in Install: ECS_UPDATE_ERROR"),
        "{o}"
    );
    assert!(o.contains("Essential container in task exited"), "{o}");
    assert_eq!(runs(&sb), "web:1");
}

#[test]
fn traffic_shifted_exits_in_the_termination_wait_and_deployed_waits_it_out() {
    let (sb, v2) = with_service(ALL_AT_ONCE, 60, "False");
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--wait-until",
            "traffic-shifted",
        ],
    )
    .run()
    .success();
    assert!(
        out.stdout
            .contains("CodeDeploy terminates the original task set after the group's wait"),
        "{}",
        out.stdout
    );
    let d = newest(&sb, &deployment_id(&out.stdout));
    assert_eq!(d["info"]["status"], "InProgress", "{d}");
    assert_eq!(d["info"]["instanceTerminationWaitTimeStarted"], true, "{d}");
    assert_eq!(d["target"]["status"], "Succeeded", "{d}");
}

#[test]
fn rollback_stops_a_deployment_without_a_verdict_and_asks_codedeploy_to_roll_back() {
    // A canary whose second step comes after 15 sandbox minutes, far beyond the timeout.
    let (sb, v2) = with_service("CodeDeployDefault.ECSCanary10Percent15Minutes", 0, "False");
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--rollback",
            "--timeout",
            "8s",
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    let o = &out.stdout;
    assert!(
        o.contains("stopping CodeDeploy deployment d-")
            && o.contains("with a rollback (no verdict within 8s)"),
        "{o}"
    );
    assert!(
        o.contains("ROLLED BACK") && o.contains("MANUAL_STOP"),
        "{o}"
    );
    let d = newest(&sb, &deployment_id(o));
    assert_eq!(d["info"]["status"], "Stopped", "{d}");
    assert_eq!(
        d["info"]["autoRollbackConfiguration"]["enabled"], true,
        "--rollback asked CodeDeploy to roll back: {d}"
    );
    assert_eq!(runs(&sb), "web:1");
}

#[test]
fn promotion_registers_nothing_and_bad_input_is_refused_before_anything_is_registered() {
    let (sb, v2) = with_service(ALL_AT_ONCE, 0, "False");
    sb.boto3(&format!("ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v2:?}, 'portMappings': [{{'containerPort': 8080}}]}}])\nprint(json.dumps(True))"));
    assert_eq!(task_definition_count(&sb), 2);
    for (args, says) in [
        (
            vec!["--codedeploy-application", "other"],
            "CodeDeploy application other not found",
        ),
        (
            vec!["--codedeploy-deployment-group", "other"],
            "CodeDeploy deployment group other not found in application AppECS-c1-web",
        ),
        (
            vec!["--strategy", "canary"],
            "--strategy and its settings does not apply to service web",
        ),
        (
            vec!["--codedeploy-container", "sidecar"],
            "no container port for sidecar",
        ),
        (
            vec!["--codedeploy-hook", "Install=f"],
            "not an ECS AppSpec hook",
        ),
    ] {
        let mut all = vec!["--service", "web", "--task-definition", "web:2"];
        all.extend(args.iter().copied());
        let out = deploy(&sb, &all).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--task-definition",
            "web:2",
            "--dry-run",
        ],
    )
    .run()
    .success();
    assert!(out.stdout.contains("+ CodeDeploy deployment: application AppECS-c1-web, deployment group DgpECS-c1-web, CodeDeployDefault.ECSAllAtOnce (container app port 8080)"), "{}", out.stdout);
    deploy(&sb, &["--service", "web", "--task-definition", "web:2"])
        .run()
        .success();
    assert_eq!(runs(&sb), "web:2");
    assert_eq!(task_definition_count(&sb), 2, "promotion registers nothing");
}

#[test]
fn verify_runs_in_the_termination_wait_and_a_failure_stops_the_deployment_with_a_rollback() {
    let (sb, v2) = with_service(ALL_AT_ONCE, 1, "False");
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--verify",
            "test -n \"$STEVEDORE_VERIFY_CODEDEPLOY_DEPLOYMENT_ID\"",
        ],
    )
    .run()
    .success();
    assert!(out.stdout.contains("verifying: test -n"), "{}", out.stdout);
    assert_eq!(
        newest(&sb, &deployment_id(&out.stdout))["info"]["status"],
        "Succeeded"
    );
    assert_eq!(runs(&sb), "web:2");
    // The next revision fails its check while the original task set still waits: back to it.
    let v3 = sb.push_image("app", "v3", &[]);
    let out = deploy(
        &sb,
        &["--service", "web", "--image", &v3, "--verify", "exit 1"],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    let o = &out.stdout;
    assert!(
        o.contains("stopping CodeDeploy deployment d-") && o.contains("with a rollback"),
        "{o}"
    );
    assert!(
        o.contains("ROLLED BACK: the verification `exit 1` exited with code 1"),
        "{o}"
    );
    let d = newest(&sb, &deployment_id(o));
    assert_eq!(d["info"]["status"], "Stopped", "{d}");
    assert_eq!(runs(&sb), "web:2");
}

#[test]
fn a_codedeploy_deploy_reports_its_lifecycle_events() {
    let (sb, v2) = with_service(ALL_AT_ONCE, 0, "False");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &v2,
            "--report",
            report.to_str().unwrap(),
        ],
    )
    .run()
    .success();
    let r = crate::report::valid_report(&report);
    let s = &r["services"][0];
    assert_eq!(s["result"], "deployed");
    assert!(
        s["deployment_id"].as_str().unwrap().starts_with("d-"),
        "{s}"
    );
    let stages: Vec<&str> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        stages.contains(&"Install") && stages.contains(&"AllowTraffic"),
        "{stages:?}"
    );
    assert!(stages.windows(2).all(|w| w[0] != w[1]), "{stages:?}");
}

#[test]
fn verify_at_the_ready_wait_continues_the_deployment_or_stops_it() {
    let stop = "{'actionOnTimeout': 'STOP_DEPLOYMENT', 'waitTimeInMinutes': 60}";
    for ok in [true, false] {
        let sb = SandboxProc::start();
        let v1 = sb.push_image("app", "v1", &[]);
        let v2 = sb.push_image("app", "v2", &[]);
        setup_with(&sb, &v1, ALL_AT_ONCE, 0, "True", stop);
        let check = if ok {
            "test \"$STEVEDORE_VERIFY_TEST_LISTENER\" = arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/3"
        } else {
            "exit 1"
        };
        let out = deploy(
            &sb,
            &["--service", "web", "--image", &v2, "--verify", check],
        )
        .run();
        let o = &out.stdout;
        assert!(
            o.contains(
                "is Ready with test traffic on web:2: verifying before production traffic moves"
            ),
            "{o}"
        );
        let d = newest(&sb, &deployment_id(o));
        if ok {
            assert_eq!(out.code, 0, "{}", out.all());
            assert!(
                o.contains("continued it (ContinueDeployment READY_WAIT)"),
                "{o}"
            );
            assert_eq!(o.matches("verifying: ").count(), 1, "verified once: {o}");
            assert_eq!(d["info"]["status"], "Succeeded");
            assert_eq!(runs(&sb), "web:2");
        } else {
            assert_eq!(out.code, 3, "{}", out.all());
            assert!(
                o.contains("ROLLED BACK: the verification `exit 1` exited with code 1"),
                "{o}"
            );
            assert_eq!(d["info"]["status"], "Stopped");
            assert_eq!(runs(&sb), "web:1");
            assert!(
                !o.contains("production traffic on the replacement task set"),
                "production never moved: {o}"
            );
        }
    }
    // Without --verify the wait is said, and its end stops the deployment.
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    setup_with(
        &sb,
        &v1,
        ALL_AT_ONCE,
        0,
        "False",
        "{'actionOnTimeout': 'STOP_DEPLOYMENT', 'waitTimeInMinutes': 1}",
    );
    let out = deploy(&sb, &["--service", "web", "--image", &v2]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stdout.contains("--deployment-wait-type READY_WAIT"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Stopped") && out.stdout.contains("TIMEOUT"),
        "{}",
        out.stdout
    );
    // CONTINUE_DEPLOYMENT with a wait is refused as CodeDeploy refuses it.
    let refused = sb.boto3("try:\n  cd.create_deployment_group(applicationName='AppECS-c1-web', deploymentGroupName='other', serviceRoleArn='arn:aws:iam::123456789012:role/cd',\n    blueGreenDeploymentConfiguration={'deploymentReadyOption': {'actionOnTimeout': 'CONTINUE_DEPLOYMENT', 'waitTimeInMinutes': 5}})\n  print(json.dumps('accepted'))\nexcept cd.exceptions.InvalidBlueGreenDeploymentConfigurationException as e:\n  print(json.dumps(type(e).__name__))");
    assert_eq!(refused, "InvalidBlueGreenDeploymentConfigurationException");
}
