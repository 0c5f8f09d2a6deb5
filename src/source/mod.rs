//! The status source port: where the current Git sync status of a stack comes from, which
//! stacks there are, and what blocks them; and, as optional capabilities, the
//! CloudFormation events that explain a sync and the stack tags that route it.
//!
//! Two adapters: [`CodeConnectionsSource`] reads one account and Region (the function's
//! own, in single-account mode), with a [`CloudFormationReader`] beside it when given one;
//! [`HubSource`] reads every target account and Region of org-wide mode through one of
//! those per pair. [`AnySource`] is whichever the configuration chose, built by
//! [`connect`].

mod cloudformation;
mod codeconnections;
pub mod hub;

use std::future::Future;

use futures_util::stream::BoxStream;

use crate::domain::{Blocker, Location, ResourceStatus, StackHistory, StackRef, Timestamp};

pub use cloudformation::{
    CloudFormationReader, NESTED_LEVELS, NESTED_STACKS_READ, PAGES_PER_STACK, STACK_PAGES,
    StackTags, TAG_KEY_CHARS, TAG_VALUE_CHARS, TAGS_PER_STACK, Tags, cloudformation_client,
};
pub use codeconnections::{CodeConnectionsSource, LINKS_AT_ONCE, codeconnections_client};
pub use hub::{HubError, HubSource};

/// Why one stack could not be checked (rule 8: it keeps its recorded state).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct SourceError {
    pub kind: SourceErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// This source cannot make this read at all (an optional read it was built without,
    /// such as CloudFormation's): not a failure to warn about.
    Unsupported,
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
            SourceErrorKind::Unsupported => "not supported here",
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

    /// The answer of a source built without the reader an optional `api` needs.
    pub fn unsupported(api: &str) -> SourceError {
        SourceError::new(
            SourceErrorKind::Unsupported,
            format!("this status source has no CloudFormation reader for {api}"),
        )
    }
}

/// A read that explains or routes a notification but is not the stack's status
/// (ARCHITECTURE §13): one that fails leaves what it would have added unknown for the
/// tick, and stops nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptionalRead {
    /// `GetSyncBlockerSummary` (rule 9).
    Blockers,
    /// CloudFormation `DescribeStackEvents` (§14): why a sync failed, what it changed.
    StackEvents,
}

impl OptionalRead {
    /// The API, as the `Api` dimension of the `OptionalReadFailures` metric names it.
    pub fn api(self) -> &'static str {
        match self {
            OptionalRead::Blockers => "GetSyncBlockerSummary",
            OptionalRead::StackEvents => "DescribeStackEvents",
        }
    }

    /// The IAM action it needs.
    pub fn permission(self) -> &'static str {
        match self {
            OptionalRead::Blockers => "codeconnections:GetSyncBlockerSummary",
            OptionalRead::StackEvents => "cloudformation:DescribeStackEvents",
        }
    }

    /// What is unknown while it fails.
    pub fn adds(self) -> &'static str {
        match self {
            OptionalRead::Blockers => "sync blockers",
            OptionalRead::StackEvents => "the root cause and the changes of syncs",
        }
    }

    /// What to do about a failure of this kind, in a hub (`hub`) or one account.
    pub fn fix(self, kind: SourceErrorKind, hub: bool) -> String {
        let unknown = format!("{} stay unknown until it works", self.adds());
        match kind {
            SourceErrorKind::AccessDenied if hub => format!(
                "add {} to the function's role and to the member role (MEMBER_ROLE_NAME) of that account; {unknown}",
                self.permission()
            ),
            SourceErrorKind::AccessDenied => format!(
                "add {} to the function's role (and check no service control policy denies it); {unknown}",
                self.permission()
            ),
            SourceErrorKind::Throttled => format!(
                "the API is throttling: it is tried again next tick (a lower FETCH_CONCURRENCY makes fewer calls at once); {unknown}"
            ),
            _ => format!("it is tried again next tick; {unknown}"),
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

    /// Whether stacks here carry their account and Region (org-wide hub mode): events and
    /// manual checks then name stacks by account and Region too.
    fn is_hub(&self) -> bool {
        false
    }

    /// Hub mode: whether an account and Region are among the targets. Events from anywhere
    /// else are ignored (the organization bus admits every account of the organization).
    fn is_target(&self, _location: &Location) -> impl Future<Output = bool> + Send {
        std::future::ready(false)
    }

    /// Optional (§13, §14): the CloudFormation events of the stack's attempt that started
    /// at `since`, and of the failed nested stacks they lead to (see
    /// [`CloudFormationReader::stack_history`] for the bound on calls). A source without a
    /// CloudFormation reader answers [`SourceErrorKind::Unsupported`].
    fn stack_history(
        &self,
        _stack: &StackRef,
        _since: Timestamp,
    ) -> impl Future<Output = Result<StackHistory, SourceError>> + Send {
        std::future::ready(Err(SourceError::unsupported("DescribeStackEvents")))
    }

    /// Optional (§13, §16): the tags of every stack of an account and Region (`None`: this
    /// account, in single-account mode), `DescribeStacks` page by page. A source without a
    /// CloudFormation reader answers [`SourceErrorKind::Unsupported`].
    fn stack_tags(
        &self,
        _location: Option<&Location>,
    ) -> impl Future<Output = Result<StackTags, SourceError>> + Send {
        std::future::ready(Err(SourceError::unsupported("DescribeStacks")))
    }
}

/// A stack a person named that the source does not watch, or names in the other mode's
/// form: which one (from 0) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {} {message}", index + 1)]
pub struct NotWatched {
    pub index: usize,
    pub message: String,
}

/// Checks the stacks a manual check names against the source: bare stack names in one
/// account; `ACCOUNT/REGION/STACK` of a target account and Region in hub mode (a bare name
/// there is ambiguous, and checking outside the targets would assume roles the hub was
/// never meant to).
pub async fn named_stacks<S: StatusSource>(
    source: &S,
    stacks: Vec<StackRef>,
) -> Result<Vec<StackRef>, NotWatched> {
    for (index, stack) in stacks.iter().enumerate() {
        let refuse = |message: String| Err(NotWatched { index, message });
        match (&stack.location, source.is_hub()) {
            (None, true) => {
                return refuse(format!(
                    "{:?} names no account and Region; an org-wide hub checks ACCOUNT/REGION/STACK, like 111122223333/us-east-1/{}",
                    stack.name.as_str(),
                    stack.name
                ));
            }
            (Some(_), false) => {
                return refuse(format!(
                    "{:?} names an account and Region, which only an org-wide hub (TARGET_ACCOUNTS) checks; give the stack name",
                    stack.key()
                ));
            }
            (Some(location), true) if !source.is_target(location).await => {
                return refuse(format!(
                    "{:?}: account {} in {} is not a target of this hub (TARGET_ACCOUNTS, TARGET_REGIONS)",
                    stack.key(),
                    location.account,
                    location.region
                ));
            }
            _ => {}
        }
    }
    Ok(stacks)
}

/// The source the configuration chose: this account and Region, or a hub's targets.
#[derive(Debug)]
pub enum AnySource {
    Account(CodeConnectionsSource),
    /// Boxed: one per process, and much larger than the single-account source.
    Hub(Box<HubSource>),
}

/// The status source for `config`: a hub when `TARGET_ACCOUNTS` is set, else this account
/// through the SDK configuration; either way with CloudFormation readers from the same
/// configuration (endpoints, credentials, timeouts, HTTP client).
pub async fn connect(
    sdk_config: &aws_config::SdkConfig,
    config: &crate::config::Config,
) -> Result<AnySource, HubError> {
    Ok(match &config.hub {
        Some(hub) => AnySource::Hub(Box::new(HubSource::connect(sdk_config, hub).await?)),
        None => AnySource::Account(
            CodeConnectionsSource::new(codeconnections_client(sdk_config))
                .with_cloudformation(CloudFormationReader::new(cloudformation_client(sdk_config))),
        ),
    })
}

impl StatusSource for AnySource {
    async fn fetch(&self, stack: &StackRef) -> Result<ResourceStatus, SourceError> {
        match self {
            AnySource::Account(source) => source.fetch(stack).await,
            AnySource::Hub(source) => source.fetch(stack).await,
        }
    }

    async fn blockers(&self, stack: &StackRef) -> Result<Vec<Blocker>, SourceError> {
        match self {
            AnySource::Account(source) => source.blockers(stack).await,
            AnySource::Hub(source) => source.blockers(stack).await,
        }
    }

    fn discover(&self) -> BoxStream<'_, Discovered> {
        match self {
            AnySource::Account(source) => source.discover(),
            AnySource::Hub(source) => source.discover(),
        }
    }

    async fn stacks_of_link(
        &self,
        location: Option<&Location>,
        link: &str,
    ) -> Result<Vec<StackRef>, SourceError> {
        match self {
            AnySource::Account(source) => source.stacks_of_link(location, link).await,
            AnySource::Hub(source) => source.stacks_of_link(location, link).await,
        }
    }

    fn account_name(&self, stack: &StackRef) -> Option<String> {
        match self {
            AnySource::Account(source) => source.account_name(stack),
            AnySource::Hub(source) => source.account_name(stack),
        }
    }

    fn is_hub(&self) -> bool {
        matches!(self, AnySource::Hub(_))
    }

    async fn is_target(&self, location: &Location) -> bool {
        match self {
            AnySource::Account(source) => source.is_target(location).await,
            AnySource::Hub(source) => source.is_target(location).await,
        }
    }

    async fn stack_history(
        &self,
        stack: &StackRef,
        since: Timestamp,
    ) -> Result<StackHistory, SourceError> {
        match self {
            AnySource::Account(source) => source.stack_history(stack, since).await,
            AnySource::Hub(source) => source.stack_history(stack, since).await,
        }
    }

    async fn stack_tags(&self, location: Option<&Location>) -> Result<StackTags, SourceError> {
        match self {
            AnySource::Account(source) => source.stack_tags(location).await,
            AnySource::Hub(source) => source.stack_tags(location).await,
        }
    }
}
