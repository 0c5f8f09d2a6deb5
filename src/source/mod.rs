//! The status source port: where the current Git sync status of a stack comes from, which
//! stacks there are, and what blocks them.

mod codeconnections;

use std::future::Future;

use futures_util::stream::BoxStream;

use crate::domain::{Blocker, Location, ResourceStatus, StackRef};

pub use codeconnections::CodeConnectionsSource;

/// Why one stack could not be checked (rule 8: it keeps its recorded state).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct SourceError {
    pub kind: SourceErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    Throttled,
    AccessDenied,
    NotFound,
    /// The answer did not have the shape the API promises.
    Malformed,
    /// No answer in time.
    TimedOut,
    /// Network, 5xx, anything else.
    Unavailable,
}

impl std::fmt::Display for SourceErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceErrorKind::Throttled => "throttled",
            SourceErrorKind::AccessDenied => "access denied",
            SourceErrorKind::NotFound => "not found",
            SourceErrorKind::Malformed => "malformed answer",
            SourceErrorKind::TimedOut => "timed out",
            SourceErrorKind::Unavailable => "unavailable",
        })
    }
}

impl SourceError {
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> SourceError {
        SourceError {
            kind,
            message: message.into(),
        }
    }
}

/// What discovery finds, as it finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    Stack(StackRef),
    /// A scope (the account, or in hub mode an account and Region) could not be listed.
    Failure {
        scope: String,
        error: SourceError,
    },
}

pub trait StatusSource: Send + Sync {
    /// The current status of one stack.
    fn fetch(
        &self,
        stack: &StackRef,
    ) -> impl Future<Output = Result<ResourceStatus, SourceError>> + Send;

    /// The stack's latest sync blockers (`GetSyncBlockerSummary`).
    fn blockers(
        &self,
        stack: &StackRef,
    ) -> impl Future<Output = Result<Vec<Blocker>, SourceError>> + Send;

    /// Every stack with a `CFN_STACK_SYNC` sync configuration, page by page, so checks can
    /// start as soon as the first page arrives. Each stack comes once.
    fn discover(&self) -> BoxStream<'_, Discovered>;

    /// The stacks synced from one repository link (the repository-level Git sync event).
    fn stacks_of_link(
        &self,
        location: Option<&Location>,
        link: &str,
    ) -> impl Future<Output = Result<Vec<StackRef>, SourceError>> + Send;

    /// The name of an account (hub mode), when known.
    fn account_name(&self, _stack: &StackRef) -> Option<String> {
        None
    }
}
