//! Org-wide (hub) mode end to end, through the real SDK clients: STS (`AssumeRoleProvider`,
//! `GetCallerIdentity`) and Organizations (`ListAccounts`) against a loopback stand-in,
//! CodeConnections against the loopback CBOR endpoint serving one scenario per account
//! and Region, and the real binary in Lambda mode and as the CLI.

mod cli;
mod lambda;
#[path = "../support/mod.rs"]
mod shared;
mod source;
mod support;
