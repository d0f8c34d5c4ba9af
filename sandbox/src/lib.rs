//! stevedore-sandbox: a local AWS for stevedore's tests and demo. One HTTP endpoint speaks STS
//! (awsQuery), EC2 (DescribeNetworkInterfaces), ECR, ECR Public, ECS, CodeDeploy, CloudWatch Logs and KMS (awsJson1_1) with the real wire shapes, so the unmodified
//! AWS SDKs talk to it through `AWS_ENDPOINT_URL`; the CNCF registry runs behind ECR as a child.

pub mod app;
pub mod awsjson;
pub mod clock;
pub mod containers;
pub mod control;
pub mod docker;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod iam;
pub mod jwt;
pub mod kms;
pub mod listeners;
pub mod logs;
pub mod proxy;
pub mod public_ips;
pub mod referrers;
pub mod registry;
pub mod schedules;
pub mod schedules_api;
pub mod server;
pub mod sigv4;
pub mod state;
pub mod sts;
pub mod tls;
pub mod trust;
