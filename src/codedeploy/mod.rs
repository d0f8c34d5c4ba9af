//! CodeDeploy blue/green deployments of ECS services that use the CODE_DEPLOY deployment
//! controller: the AppSpec built from the service (`appspec`), the calls (`api`), and what a
//! deployment's target shows as it goes (`events`, pure).

pub mod api;
pub mod appspec;
pub mod events;
