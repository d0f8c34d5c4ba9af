//! Container health checks as ECS runs them: a task whose essential container has a
//! `healthCheck` is UNKNOWN until its first check passes, HEALTHY after, and UNHEALTHY once
//! `retries` checks in a row fail outside the `startPeriod`; a service stops an UNHEALTHY task
//! ("Task failed container health checks"), replaces it, and counts it as a failed task for the
//! circuit breaker. Only HEALTHY tasks (or RUNNING ones without a check) count towards
//! `minimumHealthyPercent`.
//!
//! The check's outcome: in Docker mode the engine runs the real command (see
//! [`crate::docker`]); simulated, the image label `stevedore.sandbox.unhealthy-after=S` makes the
//! check fail once the container has run S seconds (0: it never passes).

use serde_json::Value;

/// Image label: the health check starts failing after the container ran this many seconds.
pub const LABEL_UNHEALTHY_AFTER: &str = "stevedore.sandbox.unhealthy-after";

/// A container definition's `healthCheck`, with ECS's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// `["CMD-SHELL", "…"]` or `["CMD", "bin", "arg", …]`.
    pub command: Vec<String>,
    pub interval: f64,
    pub timeout: f64,
    pub retries: u32,
    pub start_period: f64,
}

impl HealthCheck {
    /// The health check of a container definition, if it has one with a command.
    pub fn of(container: &Value) -> Option<HealthCheck> {
        let hc = container.get("healthCheck")?;
        let command: Vec<String> = hc
            .get("command")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        if command.is_empty() {
            return None;
        }
        let num = |k: &str, default: f64| hc.get(k).and_then(Value::as_f64).unwrap_or(default);
        Some(HealthCheck {
            command,
            interval: num("interval", 30.0).max(1.0),
            timeout: num("timeout", 5.0),
            retries: num("retries", 3.0).max(1.0) as u32,
            start_period: num("startPeriod", 0.0),
        })
    }

    /// The shell command Docker's `--health-cmd` takes (`CMD` arguments joined with spaces).
    pub fn shell_command(&self) -> String {
        match self.command.first().map(String::as_str) {
            Some("CMD-SHELL") | Some("CMD") => self.command[1..].join(" "),
            _ => self.command.join(" "),
        }
    }
}

/// A task's health as the agent reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub check: HealthCheck,
    /// HEALTHY, UNHEALTHY or UNKNOWN.
    pub status: &'static str,
    /// Failed checks in a row, outside the start period.
    pub failures: u32,
    /// When the next simulated check runs (sandbox seconds).
    pub next_check: f64,
}

impl Health {
    pub fn new(check: HealthCheck) -> Self {
        Health {
            check,
            status: "UNKNOWN",
            failures: 0,
            next_check: f64::INFINITY,
        }
    }

    /// The container started at `started`: checks run every interval from then on.
    pub fn start(&mut self, started: f64) {
        self.next_check = started + self.check.interval;
    }

    /// Run the simulated checks due by `now` for a container that started at `started` and
    /// whose check fails after `unhealthy_after` seconds of running (never, when `None`).
    pub fn simulate(&mut self, now: f64, started: f64, unhealthy_after: Option<f64>) {
        while self.next_check <= now && self.status != "UNHEALTHY" {
            let at = self.next_check;
            let passes = unhealthy_after.is_none_or(|after| at - started < after);
            self.record(passes, at - started < self.check.start_period);
            self.next_check += self.check.interval;
        }
    }

    /// One check's result. A pass makes the container HEALTHY; failures inside the start period
    /// do not count; `retries` failures in a row make it UNHEALTHY.
    pub fn record(&mut self, passed: bool, in_start_period: bool) {
        if passed {
            self.status = "HEALTHY";
            self.failures = 0;
        } else if !in_start_period {
            self.failures += 1;
            if self.failures >= self.check.retries {
                self.status = "UNHEALTHY";
            }
        }
    }

    /// The status Docker's engine reports (`starting`, `healthy`, `unhealthy`), which has
    /// applied the interval, retries and start period itself.
    pub fn from_docker(&mut self, docker_status: &str) {
        self.status = match docker_status {
            "healthy" => "HEALTHY",
            "unhealthy" => "UNHEALTHY",
            _ => self.status,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(retries: u32, start_period: f64) -> HealthCheck {
        HealthCheck::of(&json!({"healthCheck": {"command": ["CMD-SHELL", "curl -f localhost || exit 1"], "interval": 10, "retries": retries, "startPeriod": start_period}})).unwrap()
    }

    #[test]
    fn defaults_and_commands_follow_ecs() {
        let hc =
            HealthCheck::of(&json!({"healthCheck": {"command": ["CMD", "/bin/check", "--fast"]}}))
                .unwrap();
        assert_eq!(
            (hc.interval, hc.timeout, hc.retries, hc.start_period),
            (30.0, 5.0, 3, 0.0)
        );
        assert_eq!(hc.shell_command(), "/bin/check --fast");
        assert_eq!(check(3, 0.0).shell_command(), "curl -f localhost || exit 1");
        assert!(HealthCheck::of(&json!({"name": "app"})).is_none());
        assert!(HealthCheck::of(&json!({"healthCheck": {"command": []}})).is_none());
    }

    #[test]
    fn a_healthy_container_passes_its_first_check() {
        let mut h = Health::new(check(3, 0.0));
        h.start(100.0);
        h.simulate(105.0, 100.0, None);
        assert_eq!(h.status, "UNKNOWN", "no check has run yet");
        h.simulate(110.0, 100.0, None);
        assert_eq!(h.status, "HEALTHY");
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy_outside_the_start_period() {
        let mut h = Health::new(check(3, 25.0));
        h.start(0.0);
        // Healthy for 35 s: checks at 10, 20, 30 pass; 40, 50 fail; 60 is the third failure.
        h.simulate(50.0, 0.0, Some(35.0));
        assert_eq!((h.status, h.failures), ("HEALTHY", 2));
        h.simulate(60.0, 0.0, Some(35.0));
        assert_eq!(h.status, "UNHEALTHY");
        // Never healthy: failures inside the 25 s start period do not count.
        let mut h = Health::new(check(2, 25.0));
        h.start(0.0);
        h.simulate(20.0, 0.0, Some(0.0));
        assert_eq!((h.status, h.failures), ("UNKNOWN", 0));
        h.simulate(40.0, 0.0, Some(0.0));
        assert_eq!(h.status, "UNHEALTHY");
    }

    #[test]
    fn docker_reports_map_to_ecs_statuses() {
        let mut h = Health::new(check(3, 0.0));
        h.from_docker("starting");
        assert_eq!(h.status, "UNKNOWN");
        h.from_docker("healthy");
        assert_eq!(h.status, "HEALTHY");
        h.from_docker("unhealthy");
        assert_eq!(h.status, "UNHEALTHY");
    }
}
