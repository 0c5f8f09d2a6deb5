//! sync-notifier: tells a team, in Slack or through any webhook, the moment an AWS
//! CloudFormation Git sync starts, fails or succeeds.
//!
//! The crate is a pure core ([`domain`]) surrounded by ports named after their roles:
//! where status comes from ([`source`]), where state is kept ([`store`]) and who is told
//! ([`notify`]). [`run`] wires one tick through them; [`cli`] and [`lambda`] are the two
//! ways in. [`loopback`] holds real local servers that stand in for AWS and webhooks.

pub mod aws;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod lambda;
pub mod loopback;
pub mod notify;
pub mod run;
pub mod scenario;
pub mod secret;
pub mod source;
pub mod store;
pub mod text;
