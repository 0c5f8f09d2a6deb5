//! Notifications end to end: rendered payloads (snapshots and limits), Standard Webhooks
//! signing, delivery through the real HTTP client to loopback receivers for every
//! destination type and failure mode, the AWS-service destinations through the real SDK
//! clients to a loopback SNS and EventBridge, and routing with `DESTINATIONS`.

mod aws_destinations;
mod delivery;
mod edges;
mod google_chat;
mod limits;
mod pagerduty;
mod rendering;
mod routing;
#[path = "../support/mod.rs"]
mod shared;
mod signing;
mod slack_app;
mod support;
