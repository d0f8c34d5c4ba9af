//! `--check-url PATH`: "does it answer?" without writing curl. Once a rollout completes, an
//! HTTP GET of PATH goes to each of the new revision's tasks (its public IP, else its private
//! one, at the container port; see [`crate::ecs::addresses`]) until each answers the expected
//! status, within `--check-timeout` (and the deploy's `--timeout`). One that never does fails
//! the deployment (exit 3), and `--rollback` puts the previous revision back.

use super::check::Check;
use super::outcome::DeployResult;
use super::plan::{say, Plan};
use crate::ecs::addresses::Addresses;
use std::time::{Duration, Instant};

/// One answer (or the failure to get one), as a check's line says it.
fn outcome(result: &Result<u16, String>) -> String {
    match result {
        Ok(status) => format!("answered {status}"),
        Err(e) => e.clone(),
    }
}

/// GET PATH on every address until each answers as expected, or the time is up.
pub async fn run(plan: &Plan, service: &str, check: &Check, found: &Addresses) -> DeployResult {
    let urls: Vec<String> = found
        .urls()
        .into_iter()
        .map(|u| format!("{u}{}", check.path))
        .collect();
    if urls.is_empty() {
        return DeployResult::Failed(format!(
            "--check-url {}: the new revision's tasks have no IP address to check (awsvpc tasks have one; for bridge or host networking use --verify)",
            check.path
        ));
    }
    if found.tasks.iter().all(|t| t.public_ip.is_none()) {
        // The common set-up behind a load balancer: said up front, so a timeout is understood.
        say(plan, service, "the new tasks have private IPs only (no assignPublicIp): a runner inside the VPC reaches them, one outside does not (stevedore does not ask the load balancer yet)");
    }
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => return DeployResult::Failed(format!("--check-url: {e}")),
    };
    let until = plan.deadline.min(Instant::now() + check.within);
    for url in &urls {
        let started = Instant::now();
        let mut tries = 0u32;
        loop {
            tries += 1;
            let result = match http.get(url).send().await {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) => Err(format!(
                    "did not answer ({})",
                    crate::aws::error::root_cause(&e)
                )),
            };
            if matches!(result, Ok(s) if check.expect.accepts(s)) {
                say(
                    plan,
                    service,
                    &format!(
                        "checked {url}: {} in {:.1} s",
                        outcome(&result),
                        started.elapsed().as_secs_f64()
                    ),
                );
                break;
            }
            if Instant::now() + Duration::from_secs(1) >= until {
                return DeployResult::Failed(format!(
                    "GET {url} {}, expected {} ({} within {})",
                    outcome(&result),
                    check.expect,
                    crate::units::count(tries as usize, "attempt"),
                    crate::validate::human_duration(check.within.min(plan.timeout))
                ));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    DeployResult::Deployed
}
