//! The pipeline end to end: the real `aws-sdk-codeconnections` client against the loopback
//! CBOR endpoint over HTTP (and `aws-sdk-cloudformation` against its awsQuery XML), the local
//! store, and reqwest to loopback receivers.

mod cli;
mod cloudformation;
mod delivery;
mod explain;
mod faults;
mod first_day;
mod optional;
mod rules;
#[path = "../support/mod.rs"]
mod shared;
mod source;
mod support;
