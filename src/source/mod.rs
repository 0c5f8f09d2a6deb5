//! The status source port: where the current Git sync status of a resource comes from.

mod codeconnections;

use std::future::Future;

use crate::domain::{ResourceName, ResourceStatus};

pub use codeconnections::CodeConnectionsSource;

/// Why one resource could not be checked (rule 8: it keeps its recorded state).
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
    /// Network, timeouts, 5xx, anything else.
    Unavailable,
}

impl std::fmt::Display for SourceErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceErrorKind::Throttled => "throttled",
            SourceErrorKind::AccessDenied => "access denied",
            SourceErrorKind::NotFound => "not found",
            SourceErrorKind::Malformed => "malformed answer",
            SourceErrorKind::Unavailable => "unavailable",
        })
    }
}

pub trait StatusSource: Send + Sync {
    /// The current status of one resource.
    fn fetch(
        &self,
        name: &ResourceName,
    ) -> impl Future<Output = Result<ResourceStatus, SourceError>> + Send;

    /// Every resource with a `CFN_STACK_SYNC` sync configuration.
    fn discover(&self) -> impl Future<Output = Result<Vec<ResourceName>, SourceError>> + Send;
}
