//! `deploy --report DIR`: a rolled-back rolling deploy of 50 tasks writes report.json (valid
//! against docs/report.schema.json), summary.md and report.html, which a real browser (Debian's
//! chromium, headless) renders without a console error; its screenshot goes to
//! target/report-screenshots/ (docs/report-rolled-back.png is one).

use crate::deploy::CRASH;
use crate::harness::*;
use std::process::Command;

#[test]
fn a_rolled_back_deploy_writes_a_report_a_browser_renders() {
    let sb = SandboxProc::start();
    let good = sb.push_image("app", "v1", &[]);
    let mut labels = CRASH.to_vec();
    labels.push(("stevedore.sandbox.log-lines", "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nValueError: DATABASE_URL is not set"));
    let bad = sb.push_image("app", "crash", &labels);
    let logged = "'logConfiguration': {'logDriver': 'awslogs', 'options': {'awslogs-group': '/ecs/web', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'web'}}";
    sb.boto3(&format!(
        "ecs.create_cluster(clusterName='c1')\n\
         ecs.register_task_definition(family='web', containerDefinitions=[{{'name': 'app', 'image': {good:?}, {logged}}}])\n\
         ecs.create_service(cluster='c1', serviceName='web', taskDefinition='web:1', desiredCount=50,\n\
           deploymentConfiguration={{'deploymentCircuitBreaker': {{'enable': True, 'rollback': True}}}})\n\
         import time\n\
         while ecs.describe_services(cluster='c1', services=['web'])['services'][0]['deployments'][0].get('rolloutState') != 'COMPLETED':\n\
         \x20   time.sleep(0.2)\n\
         print(1)"
    ));
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let out = crate::deploy::deploy(
        &sb,
        &[
            "--service",
            "web",
            "--image",
            &bad,
            "--timeout",
            "3m",
            "--report",
            report.to_str().unwrap(),
        ],
    )
    .run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stdout.contains("report: "), "{}", out.stdout);

    // report.json: the schema shipped, and what happened.
    let json = valid_report(&report);
    let s = &json["services"][0];
    assert_eq!(s["result"], "rolled back", "{}", out.stdout);
    assert!(
        s["stopped"].as_array().unwrap().len() >= 25,
        "the breaker's threshold for 50 tasks: {s}"
    );
    assert_eq!(s["log_tails"].as_array().unwrap().len(), 1);
    assert!(s["samples"].as_array().unwrap().len() >= 3);
    assert!(s["diff"][0]
        .as_str()
        .unwrap()
        .contains("containerDefinitions[app].image"));
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.starts_with("**web**: rolled back in "), "{md}");

    // report.html: small, and rendered by a real browser without a console error.
    let html = report.join("report.html");
    let size = std::fs::metadata(&html).unwrap().len();
    assert!(
        size < 300_000,
        "report.html is {size} bytes for a 50-task deploy"
    );
    render(&html, "rolled-back.png", dir.path());
}

/// Render `html` in headless chromium to target/report-screenshots/`name`: it must succeed,
/// draw something, and log no console message.
fn render(html: &std::path::Path, name: &str, scratch: &std::path::Path) {
    let shots = crate::orb::root().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(name);
    let _ = std::fs::remove_file(&shot);
    let browser = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,1300",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("chromium").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (make deps)");
    let log = String::from_utf8_lossy(&browser.stderr);
    assert!(browser.status.success(), "{log}");
    assert!(
        shot.exists() && std::fs::metadata(&shot).unwrap().len() > 10_000,
        "no screenshot: {log}"
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
}

/// A blue/green deploy's report: its lifecycle stages in report.json, in order, and as bands
/// in the timeline (target/report-screenshots/blue-green.png; docs/report-blue-green.png is one).
#[test]
fn a_blue_green_deploy_reports_its_stages() {
    let sb = SandboxProc::start();
    let v1 = sb.push_image("app", "v1", &[]);
    let v2 = sb.push_image("app", "v2", &[]);
    crate::strategies::setup(&sb, &v1, "'strategy': 'LINEAR', 'linearConfiguration': {'stepPercent': 50.0, 'stepBakeTimeInMinutes': 1}, 'bakeTimeInMinutes': 1", None);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let out = crate::deploy::deploy(
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
    let json = valid_report(&report);
    let s = &json["services"][0];
    assert_eq!(s["result"], "deployed", "{}", out.stdout);
    let stages: Vec<&str> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["message"].as_str().unwrap())
        .collect();
    assert_eq!(stages, stevedore::ecs::stages::STAGES[1..]);
    let times: Vec<f64> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["t"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let html = report.join("report.html");
    let text = std::fs::read_to_string(&html).unwrap();
    assert_eq!(text.matches("<rect ").count(), 9, "one band per stage");
    assert!(
        text.contains(">BAKE_TIME</text>"),
        "the long stages are named on their band"
    );
    render(&html, "blue-green.png", dir.path());
}

/// report.json in `dir`, checked against the schema shipped in docs/.
pub(crate) fn valid_report(dir: &std::path::Path) -> serde_json::Value {
    let check = Command::new(venv().join("bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(crate::orb::root().join("docs/report.schema.json"))
        .arg(dir.join("report.json"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}
