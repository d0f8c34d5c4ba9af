//! Docker mode's containers: a task's real container started, followed to its exit (its health
//! and what it prints), removed; and what an image does when a task runs it.

use crate::app::App;
use crate::ecs::{self, Fate};
use std::sync::Arc;

/// Docker mode: start the tasks' containers and follow them to their exit; remove stopped ones.
pub(crate) fn start_containers(
    app: &Arc<App>,
    docker: crate::docker::Docker,
    runs: Vec<ecs::RunRequest>,
    removals: Vec<String>,
) {
    for id in removals {
        let docker = docker.clone();
        tokio::spawn(async move { docker.remove(&id).await });
    }
    for mut run in runs {
        let (app, docker) = (app.clone(), docker.clone());
        run.image = own_registry(&app, &run.image);
        tokio::spawn(async move {
            let short = run
                .task_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            let speed = app.lock().clock.speed();
            let result = docker.run(&short, &run, speed).await;
            let id = {
                let mut st = app.lock();
                let Some((t, to_remove)) = st.ecs.task_mut(&run.task_arn) else {
                    return;
                };
                match result {
                    Ok(id) => {
                        t.docker = ecs::RealContainer::Started(id.clone());
                        // Stopped while its container was starting: remove it now.
                        if t.desired_status == "STOPPED" {
                            to_remove.push(id);
                            return;
                        }
                        id
                    }
                    Err(reason) => {
                        t.docker = ecs::RealContainer::Failed(reason);
                        return;
                    }
                }
            };
            if !run.ports.is_empty() {
                let ports = docker.ports(&id).await;
                if let Some((t, _)) = app.lock().ecs.task_mut(&run.task_arn) {
                    t.published = ports;
                }
            }
            if run.health.is_some() {
                follow_health(
                    app.clone(),
                    docker.clone(),
                    run.task_arn.clone(),
                    id.clone(),
                );
            }
            follow_logs(
                app.clone(),
                docker.clone(),
                run.task_arn.clone(),
                id.clone(),
            );
            if let Some(code) = docker.wait(&id).await {
                // The rest of what it printed (read before it is removed).
                if let Some(printed) = docker.logs(&id).await {
                    append_logs(&app, &run.task_arn, printed);
                }
                {
                    let mut st = app.lock();
                    if let Some((t, _)) = st.ecs.task_mut(&run.task_arn) {
                        if matches!(t.docker, ecs::RealContainer::Started(_))
                            && t.desired_status == "RUNNING"
                        {
                            t.docker = ecs::RealContainer::Exited(id.clone(), code);
                        }
                    }
                }
                docker.remove(&id).await;
            }
        });
    }
}

/// Docker mode: what a task's container printed feeds its awslogs stream, read every second
/// while it runs (the lines stamped with the sandbox time they were read).
fn follow_logs(app: Arc<App>, docker: crate::docker::Docker, task_arn: String, id: String) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let running = app
                .lock()
                .ecs
                .task_mut(&task_arn)
                .is_some_and(|(t, _)| matches!(t.docker, ecs::RealContainer::Started(_)));
            match docker.logs(&id).await {
                Some(printed) if running => append_logs(&app, &task_arn, printed),
                _ => return,
            }
        }
    });
}

/// Add the lines of `printed` (standard output, standard error) not read before to the task's.
fn append_logs(app: &App, task_arn: &str, (out, err): (Vec<String>, Vec<String>)) {
    let mut st = app.lock();
    let now = st.clock.now();
    if let Some((t, _)) = st.ecs.task_mut(task_arn) {
        let (read_out, read_err) = t.docker_log_read;
        let log = t.docker_log.get_or_insert_with(Vec::new);
        for line in out.iter().skip(read_out).chain(err.iter().skip(read_err)) {
            log.push((now, line.clone()));
        }
        t.docker_log_read = (out.len().max(read_out), err.len().max(read_err));
    }
}

/// Docker mode: copy the engine's health status of a task's container into the task, every
/// half second while the task should be running.
fn follow_health(app: Arc<App>, docker: crate::docker::Docker, task_arn: String, id: String) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let status = docker.health(&id).await;
            let mut st = app.lock();
            let Some((t, _)) = st.ecs.task_mut(&task_arn) else {
                return;
            };
            if t.desired_status != "RUNNING" {
                return;
            }
            if let (Some(h), Some(s)) = (t.health.as_mut(), status.as_deref()) {
                h.from_docker(s);
            }
        }
    });
}

/// An image named with the standard ECR host of the sandbox's account and region
/// (`<account>.dkr.ecr.<region>.amazonaws.com/…`) is in the sandbox's private registry: the
/// same image under the registry's local host, which is where a container can pull it from.
fn own_registry(app: &App, image: &str) -> String {
    let host = format!("{}.dkr.ecr.{}.amazonaws.com/", app.account(), app.region());
    match (image.strip_prefix(&host), app.registry(false)) {
        (Some(rest), Some(reg)) => format!("{}/{rest}", reg.host),
        _ => image.to_string(),
    }
}

/// What an image does when a task runs it: read from the registry that holds it.
pub(crate) async fn probe(app: &App, image: &str) -> Fate {
    let image = own_registry(app, image);
    let image = image.as_str();
    let (host, path, reference) = ecs::parse_image(image);
    let reg = [false, true]
        .into_iter()
        .filter_map(|p| app.registry(p))
        .find(|r| Some(r.host.as_str()) == host.as_deref());
    match reg {
        None => ecs::fate_from_labels(None, image),
        Some(reg) => match reg.labels(&path, &reference).await {
            Ok(labels) => ecs::fate_from_labels(labels.as_ref(), image),
            Err(e) => Fate::PullFails(format!("CannotPullContainerError: {e:#}")),
        },
    }
}
