//! The sandbox's configuration and in-memory state, shared behind one mutex that is never held
//! across an await.

use crate::clock::Clock;
use crate::ecs::{EcsState, Task};
use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What a sandbox is started with (`--config FILE`, JSON; every field optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct Config {
    pub account_id: String,
    pub region: String,
    /// The CircleCI organisation tokens are minted for by default.
    pub org_id: String,
    pub public_alias: String,
    /// Sandbox seconds per real second, for ECS rollouts and credential expiry.
    pub clock_speed: f64,
    /// Long-lived keys for the sandbox's administrator (what `up` exports).
    pub admin_access_key_id: String,
    pub admin_secret_access_key: String,
    pub roles: BTreeMap<String, RoleConfig>,
}

/// A role: its trust policy and, optionally, the permissions its sessions have.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleConfig {
    pub trust_policy: Value,
    #[serde(default)]
    pub permissions_policy: Option<Value>,
    #[serde(default = "default_max_session")]
    pub max_session_duration: i64,
}

fn default_max_session() -> i64 {
    3600
}

impl Default for Config {
    fn default() -> Self {
        let account = "123456789012".to_string();
        let org = "org-sandbox".to_string();
        let mut roles = BTreeMap::new();
        roles.insert(
            "circleci-deployer".to_string(),
            RoleConfig {
                trust_policy: circleci_trust_policy(&account, &org, "*"),
                permissions_policy: None,
                max_session_duration: 3600,
            },
        );
        Config {
            account_id: account,
            region: "us-east-1".into(),
            org_id: org,
            public_alias: "sandbox".into(),
            clock_speed: 1.0,
            admin_access_key_id: "AKIASANDBOXADMIN0001".into(),
            admin_secret_access_key: "sandbox-admin-secret-key-do-not-use-elsewhere".into(),
            roles,
        }
    }
}

/// The trust policy CircleCI's documentation gives, for projects matching `project` (`*` for all).
pub fn circleci_trust_policy(account: &str, org: &str, project: &str) -> Value {
    let provider = format!("oidc.circleci.com/org/{org}");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{provider}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{provider}:aud"): org},
                "StringLike": {format!("{provider}:sub"): format!("org/{org}/project/{project}/user/*")}
            }
        }]
    })
}

/// Credentials the sandbox accepts.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: String,
    pub session_token: Option<String>,
    /// On the sandbox clock; `None` never expires.
    pub expires: Option<f64>,
    pub arn: String,
    pub user_id: String,
    pub role: Option<String>,
}

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub arn: String,
    pub user_id: String,
    pub role: Option<String>,
    /// The region the request was signed for: regional resources are looked up there.
    pub region: String,
}

/// ECS per region, as AWS keeps it: a call sees only the clusters, services, task definitions
/// and tasks of the region it was signed for.
#[derive(Debug, Default)]
pub struct EcsRegions {
    /// Tasks run as real containers (see [`crate::docker`]), in every region.
    pub docker_mode: bool,
    /// See [`EcsState::settle_secs`]; copied into each region's state.
    pub settle_secs: f64,
    pub regions: BTreeMap<String, EcsState>,
}

impl EcsRegions {
    /// The state of one region, made empty on first use.
    pub fn region(&mut self, region: &str) -> &mut EcsState {
        let (docker_mode, settle_secs) = (self.docker_mode, self.settle_secs);
        self.regions
            .entry(region.to_string())
            .or_insert_with(|| EcsState {
                docker_mode,
                settle_secs,
                ..EcsState::default()
            })
    }

    /// A task by ARN (its region is the ARN's fourth field), with its region's state.
    pub fn task_mut(&mut self, arn: &str) -> Option<(&mut Task, &mut Vec<String>)> {
        let region = arn.split(':').nth(3)?;
        let st = self.regions.get_mut(region)?;
        let task = st.tasks.iter_mut().find(|t| t.arn == arn)?;
        Some((task, &mut st.to_remove))
    }
}

/// Fault injection, set through `/_sandbox/faults`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Faults {
    /// Share (0–1) of API calls answered with ThrottlingException.
    pub throttle_share: f64,
    /// Share of API calls answered with HTTP 500.
    pub error_share: f64,
    /// The next N API calls are throttled (deterministic).
    pub throttle_next: u32,
    /// Delay added to every API call.
    pub latency_ms: u64,
    /// Only these operations are affected (all when empty).
    pub operations: Vec<String>,
}

pub struct State {
    pub config: Config,
    pub clock: Clock,
    pub credentials: BTreeMap<String, Credential>,
    pub roles: BTreeMap<String, RoleConfig>,
    pub faults: Faults,
    pub ecr: EcrState,
    pub ecs: EcsRegions,
    /// CloudWatch Logs groups and the streams written to them.
    pub logs: crate::logs::LogsState,
    /// EventBridge Scheduler schedules and EventBridge rules.
    pub schedules: crate::schedules::SchedulesState,
    /// KMS keys and aliases.
    pub kms: crate::kms::KmsState,
    /// Every API call, as `Service.Operation`, for tests that count calls.
    pub calls: Vec<(f64, String)>,
}

impl State {
    pub fn new(config: Config) -> Self {
        let clock = Clock::new(config.clock_speed);
        let mut s = State {
            roles: config.roles.clone(),
            config,
            clock,
            credentials: BTreeMap::new(),
            faults: Faults::default(),
            ecr: EcrState::default(),
            ecs: EcsRegions::default(),
            schedules: Default::default(),
            logs: Default::default(),
            kms: Default::default(),
            calls: Vec::new(),
        };
        s.add_admin();
        s
    }

    fn add_admin(&mut self) {
        let c = &self.config;
        self.credentials.insert(
            c.admin_access_key_id.clone(),
            Credential {
                secret: c.admin_secret_access_key.clone(),
                session_token: None,
                expires: None,
                arn: format!("arn:aws:iam::{}:user/sandbox-admin", c.account_id),
                user_id: "AIDASANDBOXADMIN".into(),
                role: None,
            },
        );
    }

    /// Forget everything but the configuration (and the clock's speed).
    pub fn reset(&mut self) {
        let speed = self.clock.speed();
        let (docker_mode, settle_secs) = (self.ecs.docker_mode, self.ecs.settle_secs);
        *self = State::new(self.config.clone());
        self.clock.set_speed(speed);
        self.ecs.docker_mode = docker_mode;
        self.ecs.settle_secs = settle_secs;
    }

    /// Issue temporary credentials for a role session.
    pub fn issue(&mut self, role: &str, session: &str, duration: i64) -> (String, Credential) {
        let mut rng = rand::rng();
        let akid = format!(
            "ASIA{}",
            Alphanumeric.sample_string(&mut rng, 16).to_uppercase()
        );
        let cred = Credential {
            secret: Alphanumeric.sample_string(&mut rng, 40),
            session_token: Some(format!(
                "IQoJb3JpZ2luX2VjE{}",
                Alphanumeric.sample_string(&mut rng, 180)
            )),
            expires: Some(self.clock.now() + duration as f64),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{role}/{session}",
                self.config.account_id
            ),
            user_id: format!(
                "AROA{}:{session}",
                Alphanumeric.sample_string(&mut rng, 17).to_uppercase()
            ),
            role: Some(role.to_string()),
        };
        self.credentials.insert(akid.clone(), cred.clone());
        (akid, cred)
    }
}

/// Epoch seconds as ISO 8601 UTC with milliseconds, as STS writes `Expiration`.
pub fn iso8601(epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let millis = ((epoch - epoch.floor()) * 1000.0) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A repository, private or public.
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    pub public: bool,
    pub created_at: f64,
    pub scan_on_push: bool,
    pub mutability: String,
    pub exclusions: Vec<Value>,
    pub encryption: Value,
    pub tags: BTreeMap<String, String>,
    pub lifecycle: Option<String>,
    pub policy: Option<String>,
}

#[derive(Debug, Default)]
pub struct EcrState {
    /// Keyed by (public, name).
    pub repos: BTreeMap<(bool, String), Repo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_800_000_000.5), "2027-01-15T08:00:00.500Z");
    }

    #[test]
    fn issued_credentials_are_distinct_and_expire() {
        let mut s = State::new(Config::default());
        let (a, ca) = s.issue("r", "s", 900);
        let (b, _) = s.issue("r", "s", 900);
        assert_ne!(a, b);
        assert!(a.starts_with("ASIA") && a.len() == 20);
        assert!(ca.expires.unwrap() > s.clock.now() + 899.0);
        assert_eq!(ca.arn, "arn:aws:sts::123456789012:assumed-role/r/s");
        s.reset();
        assert!(!s.credentials.contains_key(&a));
        assert!(s.credentials.contains_key(&s.config.admin_access_key_id));
    }
}
