//! What every request handler shares: the state behind its lock, the fixed configuration, the
//! registries and the fault switches.

use crate::jwt::Issuer;
use crate::registry::Registry;
use crate::state::State;
use std::sync::{Mutex, MutexGuard};

/// Everything a request handler needs.
pub struct App {
    state: Mutex<State>,
    /// Copies of the fixed configuration, readable without the lock.
    account: String,
    region: String,
    alias: String,
    pub issuer: Issuer,
    pub registry_faults: crate::proxy::SharedFaults,
    /// Registry passwords issued by GetAuthorizationToken, checked by the registry fronts.
    pub registry_grants: crate::proxy::Grants,
    /// The repositories the registry fronts let requests through to.
    pub registry_repositories: crate::proxy::Repositories,
    /// The requests the registry fronts answered.
    pub registry_calls: crate::proxy::CallLog,
    /// Docker mode: tasks run as real containers.
    pub docker: Option<crate::docker::Docker>,
    pub registry: Option<Registry>,
    pub public_registry: Option<Registry>,
    /// The load balancer front's listeners (see [`crate::listeners`]).
    pub listeners: crate::listeners::Listeners,
    /// The public IPs' fronts (see [`crate::public_ips`]).
    pub public_ips: crate::public_ips::Fronts,
}

impl App {
    pub fn new(
        state: State,
        issuer: Issuer,
        registry: Option<Registry>,
        public_registry: Option<Registry>,
        shared: crate::proxy::Shared,
        docker: Option<crate::docker::Docker>,
    ) -> Self {
        let account = state.config.account_id.clone();
        let region = state.config.region.clone();
        let alias = state.config.public_alias.clone();
        App {
            state: Mutex::new(state),
            account,
            region,
            alias,
            issuer,
            registry_faults: shared.faults,
            registry_grants: shared.grants,
            registry_repositories: shared.repositories,
            registry_calls: shared.calls,
            docker,
            registry,
            public_registry,
            listeners: Default::default(),
            public_ips: Default::default(),
        }
    }

    /// The state; never hold the guard across an await.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn account(&self) -> &str {
        &self.account
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn alias(&self) -> &str {
        &self.alias
    }
    pub fn registry(&self, public: bool) -> Option<&Registry> {
        if public {
            self.public_registry.as_ref()
        } else {
            self.registry.as_ref()
        }
    }
}
