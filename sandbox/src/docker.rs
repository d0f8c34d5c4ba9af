//! Docker mode: where a Docker engine answers, ECS tasks run as real containers pulled from the
//! sandbox's registry, so an app really starts, crashes or exits with its own code.

use crate::ecs::RunRequest;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::process::Command;

/// A Docker engine the sandbox drives through the `docker` CLI (so DOCKER_HOST applies).
#[derive(Debug, Clone)]
pub struct Docker {
    /// A docker config directory holding the registry credentials.
    config: PathBuf,
    /// Every container carries `stevedore-sandbox=<label>`, for cleaning up.
    pub label: String,
    /// `docker run`s under way, and whether the sandbox is shutting down (then none start).
    inflight: Arc<AtomicUsize>,
    closing: Arc<AtomicBool>,
    /// Images pulled for tasks (tagged with the registry's random port, so no other run uses
    /// them): removed at [`Docker::cleanup`], so sandbox runs do not fill the engine.
    images: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl Docker {
    /// The engine, if `docker info` answers.
    pub async fn detect(dir: &std::path::Path) -> Option<Docker> {
        let ok = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .await
            .ok()?
            .status
            .success();
        ok.then(|| Docker {
            config: dir.join("docker-config"),
            label: format!("sb-{:08x}", rand::random::<u32>()),
            inflight: Default::default(),
            closing: Default::default(),
            images: Default::default(),
        })
    }

    /// Write the registries' credentials where `docker pull` will find them.
    pub fn login(&self, auths: &[(String, String)]) -> Result<()> {
        std::fs::create_dir_all(&self.config)?;
        let map: serde_json::Map<String, serde_json::Value> = auths
            .iter()
            .map(|(h, a)| (h.clone(), serde_json::json!({"auth": a})))
            .collect();
        std::fs::write(
            self.config.join("config.json"),
            serde_json::json!({"auths": map}).to_string(),
        )
        .context("writing the docker config")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("docker");
        c.arg("--config").arg(&self.config);
        c.stdin(std::process::Stdio::null());
        c
    }

    /// Pull and start a container; `Err` is the reason the task fails to start, worded as ECS does.
    pub async fn run(&self, task: &str, run: &RunRequest, speed: f64) -> Result<String, String> {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        let r = if self.closing.load(Ordering::SeqCst) {
            Err("CannotStartContainerError: the sandbox is shutting down".to_string())
        } else {
            self.images
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(run.image.clone());
            self.run_now(task, run, speed).await
        };
        self.inflight.fetch_sub(1, Ordering::SeqCst);
        r
    }

    async fn run_now(&self, task: &str, run: &RunRequest, speed: f64) -> Result<String, String> {
        let (image, command, env) = (&run.image, &run.command, &run.env);
        let mut c = self.cmd();
        c.args([
            "run",
            "-d",
            "--label",
            &format!("stevedore-sandbox={}", self.label),
            "--name",
            &format!("{}-{task}", self.label),
        ]);
        for (k, v) in env {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        // Each mapped port on a loopback port the engine picks, for the sandbox's listeners.
        for p in &run.ports {
            c.arg("-p").arg(format!("127.0.0.1::{p}"));
        }
        // The task definition's health check, run by the engine; its seconds are sandbox
        // seconds, so they pass `speed` times faster in real time.
        if let Some(hc) = &run.health {
            let real = |secs: f64| {
                format!(
                    "{}ms",
                    ((secs / speed.max(0.001)) * 1000.0).max(100.0) as u64
                )
            };
            c.arg("--health-cmd")
                .arg(hc.shell_command())
                .arg("--health-interval")
                .arg(real(hc.interval))
                .arg("--health-timeout")
                .arg(real(hc.timeout))
                .arg("--health-retries")
                .arg(hc.retries.to_string())
                .arg("--health-start-period")
                .arg(real(hc.start_period));
        }
        c.arg(image).args(command);
        let out = c
            .output()
            .await
            .map_err(|e| format!("CannotStartContainerError: {e}"))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find(|l| l.contains("Error") || l.contains("error"))
            // Past the engine's note that it will pull, to the reason the pull failed.
            .or_else(|| {
                err.lines()
                    .find(|l| !l.trim().is_empty() && !l.starts_with("Unable to find image"))
            })
            .unwrap_or("docker run failed")
            .trim()
            .trim_start_matches("docker: ")
            .to_string();
        let pull = [
            "pull",
            "manifest",
            "not found",
            "unauthorized",
            "Unable to find image",
        ]
        .iter()
        .any(|k| err.contains(k));
        Err(if pull {
            format!("CannotPullContainerError: {line}")
        } else {
            format!("CannotStartContainerError: {line}")
        })
    }

    /// Wait for a container to exit; its exit code.
    pub async fn wait(&self, id: &str) -> Option<i32> {
        let out = self.cmd().args(["wait", id]).output().await.ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// The loopback addresses a container's ports were published on: (container port, address).
    pub async fn ports(&self, id: &str) -> Vec<(u16, String)> {
        let Ok(out) = self.cmd().args(["port", id]).output().await else {
            return vec![];
        };
        published(&String::from_utf8_lossy(&out.stdout))
    }

    /// What a container has printed so far: its standard output and standard error lines.
    pub async fn logs(&self, id: &str) -> Option<(Vec<String>, Vec<String>)> {
        let out = self.cmd().args(["logs", id]).output().await.ok()?;
        let lines = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .lines()
                .map(String::from)
                .collect()
        };
        out.status
            .success()
            .then(|| (lines(&out.stdout), lines(&out.stderr)))
    }

    /// The engine's health status of a container: `starting`, `healthy` or `unhealthy`.
    pub async fn health(&self, id: &str) -> Option<String> {
        let out = self
            .cmd()
            .args([
                "inspect",
                "--format",
                "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                id,
            ])
            .output()
            .await
            .ok()?;
        let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !status.is_empty()).then_some(status)
    }

    pub async fn remove(&self, id: &str) {
        let _ = self.cmd().args(["rm", "-f", id]).output().await;
    }

    /// Remove every container this sandbox started, once no `docker run` is under way.
    pub async fn cleanup(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for _ in 0..200 {
            if self.inflight.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let Ok(out) = self
            .cmd()
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=stevedore-sandbox={}", self.label),
            ])
            .output()
            .await
        else {
            return;
        };
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        if !ids.is_empty() {
            let _ = self.cmd().args(["rm", "-f"]).args(&ids).output().await;
        }
        let images: Vec<String> =
            std::mem::take(&mut *self.images.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if !images.is_empty() {
            let _ = self
                .cmd()
                .args(["image", "rm", "--force"])
                .args(&images)
                .output()
                .await;
        }
    }
}

/// `docker port`'s lines (`8080/tcp -> 127.0.0.1:32768`) as (container port, address).
pub fn published(text: &str) -> Vec<(u16, String)> {
    text.lines()
        .filter_map(|l| {
            let (port, addr) = l.split_once(" -> ")?;
            let port = port.split('/').next()?.trim().parse().ok()?;
            Some((port, addr.trim().to_string()))
        })
        .filter(|(_, a)| a.starts_with("127.0.0.1:"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn published_ports_are_read_off_docker_port() {
        let text =
            "8080/tcp -> 127.0.0.1:32768\n9090/udp -> 127.0.0.1:32769\n80/tcp -> [::1]:32770\n";
        assert_eq!(
            super::published(text),
            vec![
                (8080, "127.0.0.1:32768".to_string()),
                (9090, "127.0.0.1:32769".to_string())
            ]
        );
        assert!(super::published("").is_empty());
    }
}
