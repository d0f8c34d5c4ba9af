//! One DescribeServices per ten services per poll: the services of one deploy share their reads
//! (the API takes up to ten names a call), so following twenty rollouts costs two calls a poll,
//! not twenty.

use crate::aws::json::CallError;
use crate::ecs::api::{Ecs, Service};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// DescribeServices takes at most this many services a call.
pub const PER_CALL: usize = 10;

/// Shared, briefly cached DescribeServices answers for a deploy's services.
#[derive(Debug, Default)]
pub struct ServiceReads {
    services: Vec<String>,
    /// Answers younger than this are reused (a little under the poll interval).
    fresh_for: Duration,
    cache: tokio::sync::Mutex<Option<(Instant, HashMap<String, Service>)>>,
}

impl ServiceReads {
    pub fn new(services: &[String], poll: Duration) -> ServiceReads {
        ServiceReads {
            services: services.to_vec(),
            fresh_for: poll.mul_f64(0.8),
            cache: Default::default(),
        }
    }

    /// The service as DescribeServices describes it (`None` when ECS does not know it): from a
    /// read made for all services moments ago (and not before `not_before`, such as the moment
    /// this service's update returned), or from a new one.
    pub async fn describe(
        &self,
        ecs: &Ecs,
        cluster: &str,
        service: &str,
        not_before: Instant,
    ) -> Result<Option<Service>, CallError> {
        let key = short(service);
        let mut cache = self.cache.lock().await;
        if let Some((at, answers)) = cache.as_ref() {
            if at.elapsed() < self.fresh_for && *at >= not_before {
                if let Some(v) = answers.get(key) {
                    return Ok(Some(v.clone()));
                }
            }
        }
        let names: Vec<&str> = if self.services.iter().any(|s| short(s) == key) {
            self.services.iter().map(String::as_str).collect()
        } else {
            vec![service]
        };
        let started = Instant::now();
        let mut answers = HashMap::new();
        for chunk in names.chunks(PER_CALL) {
            for s in ecs.describe_services(cluster, chunk).await? {
                answers.insert(s.service_name.clone(), s);
            }
        }
        let found = answers.get(key).cloned();
        // Stamped with when the read began: every answer in it is at least that recent.
        *cache = Some((started, answers));
        Ok(found)
    }
}

/// A service's name from a name or an ARN.
fn short(service: &str) -> &str {
    service.rsplit('/').next().unwrap_or(service)
}
