//! Deploy flags that give the aws-ecs orb's parameters a home: Docker labels per container
//! (`container_docker_label_updates`) and a load balancer for a created service
//! (`target_group`, `container_name`, `container_port`), read back with boto3.

use crate::deploy::deploy;
use crate::harness::*;
use serde_json::json;

const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef";

#[test]
fn docker_labels_are_set_per_container_and_the_others_kept() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {v1:?}, 'dockerLabels': {{'team': 'web', 'tier': 'front'}}}}, {{'name': 'log', 'image': {v1:?}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=1)\nprint(1)"
    ));
    let out = deploy(
        &sb,
        &[
            "--service",
            "web",
            "--docker-label",
            "app:tier=back",
            "--docker-label",
            "log:com.datadoghq.ad.logs=[{}]",
        ],
    )
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    let labels = sb.boto3("print(json.dumps({c['name']: c.get('dockerLabels') for c in ecs.describe_task_definition(taskDefinition='web:2')['taskDefinition']['containerDefinitions']}))");
    assert_eq!(
        labels,
        json!({"app": {"team": "web", "tier": "back"}, "log": {"com.datadoghq.ad.logs": "[{}]"}})
    );
    let bad = deploy(&sb, &["--service", "web", "--docker-label", "db:x=1"]).run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(
        bad.stderr
            .contains("--docker-label: no container named 'db'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_created_service_gets_its_load_balancer_and_a_wrong_port_registers_nothing() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    sb.boto3("ecs.create_cluster(clusterName='c1')\nprint(1)");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("td.json");
    std::fs::write(&file, json!({"family": "api", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "api", "image": v1, "portMappings": [{"containerPort": 8080}]}]}).to_string()).unwrap();
    let f = file.display().to_string();
    let create = |lb: &str| {
        deploy(
            &sb,
            &[
                "--service",
                "api",
                "--task-definition-file",
                &f,
                "--create-service",
                "--subnets",
                "subnet-1",
                "--target-group",
                TG,
                "--lb-container",
                lb,
            ],
        )
        .run()
    };
    let bad = create("api:80");
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(
        bad.stderr.contains(
            "--lb-container api:80: container api maps no port 80 (its portMappings: 8080)"
        ),
        "{}",
        bad.stderr
    );
    let families = sb.boto3(
        "print(json.dumps(ecs.list_task_definitions(familyPrefix='api')['taskDefinitionArns']))",
    );
    assert_eq!(families, json!([]), "nothing registered");
    let report = dir.path().join("report");
    let r = report.display().to_string();
    let out = deploy(
        &sb,
        &[
            "--service",
            "api",
            "--task-definition-file",
            &f,
            "--create-service",
            "--subnets",
            "subnet-1",
            "--target-group",
            TG,
            "--lb-container",
            "api:8080",
            "--report",
            &r,
        ],
    )
    .run();
    assert_eq!(out.code, 0, "{}", out.all());
    // A created service's first deployment is in the report too.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["services"][0]["result"], "deployed");
    assert!(
        !json["services"][0]["samples"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{json}"
    );
    let lbs = sb.boto3("print(json.dumps(ecs.describe_services(cluster='c1', services=['api'])['services'][0]['loadBalancers']))");
    assert_eq!(
        lbs,
        json!([{"targetGroupArn": TG, "containerName": "api", "containerPort": 8080}])
    );
    for (args, says) in [
        (
            vec!["--target-group", "tg-1", "--lb-container", "api:8080"],
            "is not a target group ARN",
        ),
        (
            vec!["--target-group", TG, "--lb-container", "api"],
            "is not CONTAINER:PORT",
        ),
        (vec!["--target-group", TG], "--lb-container"),
    ] {
        let mut all = vec![
            "--service",
            "api2",
            "--task-definition-file",
            &f,
            "--create-service",
            "--subnets",
            "subnet-1",
        ];
        all.extend(args.iter().copied());
        let out = deploy(&sb, &all).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

/// `stevedore ecr tag` (the aws-ecr orb's `tag_image`): new tags name the same manifest,
/// read back with boto3; a tag naming another image is left alone when asked.
#[test]
fn ecr_tag_adds_tags_to_an_image_in_the_repository() {
    let sb = SandboxProc::start();
    sb.push_image("app", "v1", &[]);
    sb.push_image("app", "v2", &[("version", "2")]);
    let tag = |extra: &[&str]| {
        let mut args = vec!["ecr", "tag", "--repo", "app", "--source-tag", "v1"];
        args.extend_from_slice(extra);
        stevedore(&args).sandbox(&sb, true).run()
    };
    let out = tag(&["--tag", "prod,stable"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("as prod"), "{}", out.stdout);
    let digests = || {
        sb.boto3(
            "d = {t: i['imageDigest'] for i in ecr.describe_images(repositoryName='app')['imageDetails'] for t in i.get('imageTags', [])}\n\
             print(json.dumps([d['prod'] == d['v1'], d['stable'] == d['v1'], d['v2'] == d['v1']]))",
        )
    };
    assert_eq!(digests(), json!([true, true, false]));
    // v2 is taken: left alone with --skip-existing-tags, moved without.
    let out = tag(&["--tag", "v2", "--skip-existing-tags"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("tag v2 exists"), "{}", out.stdout);
    assert_eq!(digests(), json!([true, true, false]));
    let out = tag(&["--tag", "stable"]);
    assert!(
        out.stdout.contains("tag stable already names"),
        "{}",
        out.stdout
    );
    let missing = stevedore(&[
        "ecr",
        "tag",
        "--repo",
        "app",
        "--source-tag",
        "v9",
        "--tag",
        "x",
    ])
    .sandbox(&sb, true)
    .run();
    assert_eq!(missing.code, 2, "{}", missing.all());
    assert!(
        missing.stderr.contains("--source-tag"),
        "{}",
        missing.stderr
    );
}
