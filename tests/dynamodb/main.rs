//! The DynamoDB state store, proven against a real DynamoDB-compatible server.
//!
//! Every test starts its own dynoxide server in this process on `127.0.0.1:0` and talks to
//! it over HTTP through the real `aws-sdk-dynamodb` client, with the table `template.yaml`
//! defines. Notifications go to loopback Slack and webhook receivers, and to a loopback
//! Slack Web API for the Slack app; Git sync status comes from the loopback
//! CodeConnections endpoint, through the real SDK client too.
//!
//! Run with `cargo test --test dynamodb`; add `-- --nocapture` to see the DynamoDB calls
//! per tick that `calls::calls_per_tick_in_steady_state_and_under_change` measures.

mod batching;
mod calls;
mod cli;
mod contract;
mod deadline;
mod delivery;
mod hub;
mod lifecycle;
#[path = "../support/mod.rs"]
mod shared;
mod support;
mod template;
mod threads;
mod upgrade;
