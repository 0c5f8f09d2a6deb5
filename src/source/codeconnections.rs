//! The CodeConnections adapter: `GetResourceSyncStatus`, `GetSyncBlockerSummary` and
//! discovery through `aws-sdk-codeconnections`, translated into domain types here and
//! nowhere else.
//!
//! Every answer is checked against the service model before it becomes data: a required
//! member that is missing (the SDK fills it with a default: epoch 0, an empty string, a
//! status of "no value was set"), an unknown blocker status, or a timestamp no calendar
//! can write is a malformed answer, named by its field, never a stale attempt. Strings
//! are cut at the model's lengths, and an answer over [`ANSWER_LIMIT`] is not read at all
//! (see [`crate::aws::AnswerLimit`]).

use std::collections::HashSet;

use aws_sdk_codeconnections::Client;
use aws_sdk_codeconnections::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codeconnections::types::{self as sdk, SyncConfigurationType};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

use super::{
    CloudFormationReader, Discovered, SourceError, SourceErrorKind, StackTags, StatusSource,
};
use crate::domain::{
    Blocker, BlockerStatus, Location, ResourceName, ResourceStatus, Revision, StackHistory,
    StackRef, SyncAttempt, SyncEvent, SyncStatus, Timestamp,
};
use crate::text::truncate_chars as clip;

/// The CodeConnections client: the SDK configuration's endpoint
/// (`AWS_ENDPOINT_URL_CODECONNECTIONS`) and credentials, every call bounded in time and in
/// the size of its answer.
pub fn codeconnections_client(sdk_config: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_codeconnections::config::Builder::from(sdk_config)
        .interceptor(crate::aws::AnswerLimit)
        .build();
    Client::from_conf(config)
}

/// Reads Git sync status from AWS CodeConnections (or whatever
/// `AWS_ENDPOINT_URL_CODECONNECTIONS` points the client at), in one account and Region.
#[derive(Debug, Clone)]
pub struct CodeConnectionsSource {
    client: Client,
    location: Option<Location>,
    /// The optional reads of the same account and Region (§14, §16).
    cloudformation: Option<CloudFormationReader>,
}

impl CodeConnectionsSource {
    pub fn new(client: Client) -> Self {
        CodeConnectionsSource {
            client,
            location: None,
            cloudformation: None,
        }
    }

    /// A source for one account and Region of the hub: its stacks carry that location.
    pub fn at(client: Client, location: Location) -> Self {
        CodeConnectionsSource {
            client,
            location: Some(location),
            cloudformation: None,
        }
    }

    /// The same source, reading stack events and tags of its account and Region through
    /// `reader`.
    pub fn with_cloudformation(mut self, reader: CloudFormationReader) -> Self {
        self.cloudformation = Some(reader);
        self
    }

    fn reader(&self, api: &str) -> Result<&CloudFormationReader, SourceError> {
        self.cloudformation
            .as_ref()
            .ok_or_else(|| SourceError::unsupported(api))
    }

    fn stack(&self, name: ResourceName) -> StackRef {
        StackRef {
            location: self.location.clone(),
            name,
        }
    }

    /// The stacks of one repository link, page by page.
    fn link_pages(
        &self,
        link: String,
    ) -> impl futures_util::Stream<Item = Result<Vec<StackRef>, SourceError>> + Send + 'static {
        let source = self.clone();
        pages(move |token| {
            let (source, link) = (source.clone(), link.clone());
            async move { source.sync_configurations(&link, token).await }
        })
    }

    /// One page of `ListSyncConfigurations`.
    async fn sync_configurations(
        &self,
        link: &str,
        token: Option<String>,
    ) -> Result<(Vec<StackRef>, Option<String>), SourceError> {
        let page = self
            .client
            .list_sync_configurations()
            .repository_link_id(link)
            .sync_type(SyncConfigurationType::CfnStackSync)
            .set_next_token(token)
            .send()
            .await
            .map_err(classify)?;
        let mut stacks = Vec::new();
        for configuration in page.sync_configurations() {
            // One odd entry must not hide every other stack: skip it, say so.
            match ResourceName::parse(configuration.resource_name()) {
                Ok(name) => stacks.push(self.stack(name)),
                Err(error) => tracing::warn!(
                    repository_link = %link,
                    %error,
                    "ListSyncConfigurations returned a resource name that is not valid; skipped"
                ),
            }
        }
        Ok((stacks, page.next_token().map(str::to_owned)))
    }

    /// One page of `ListRepositoryLinks`.
    async fn repository_links(
        &self,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), SourceError> {
        let page = self
            .client
            .list_repository_links()
            .set_next_token(token)
            .send()
            .await
            .map_err(classify)?;
        let links = page
            .repository_links()
            .iter()
            .map(|link| link.repository_link_id().to_owned())
            .collect();
        Ok((links, page.next_token().map(str::to_owned)))
    }

    /// Discovery as a stream that owns its source (the hub keeps one per account and
    /// Region, and merges their streams): the repository links page by page, and the sync
    /// configurations of [`LINKS_AT_ONCE`] links at a time, each link page by page. Each
    /// stack comes once. The first call that fails ends it, with one
    /// [`Discovered::Failure`] after the stacks already found.
    pub fn walk(self) -> BoxStream<'static, Discovered> {
        let scope = self.scope();
        let source = self.clone();
        let link_pages = pages(move |token| {
            let source = source.clone();
            async move { source.repository_links(token).await }
        });
        // Each link's pages as a stream of their own; a failed page of links as a stream
        // of that one error.
        let configurations = link_pages
            .flat_map(move |page| {
                let streams: Vec<BoxStream<'static, _>> = match page {
                    Ok(links) => links
                        .into_iter()
                        .map(|link| self.link_pages(link).boxed())
                        .collect(),
                    Err(error) => vec![futures_util::stream::iter([Err(error)]).boxed()],
                };
                futures_util::stream::iter(streams)
            })
            .flatten_unordered(LINKS_AT_ONCE);
        // (stacks already found, whether a call failed): after a failure, nothing more.
        configurations
            .scan((HashSet::new(), false), move |(seen, failed), page| {
                let found = match page {
                    _ if *failed => None,
                    Ok(stacks) => Some(
                        stacks
                            .into_iter()
                            .filter(|stack| seen.insert(stack.name.clone()))
                            .map(Discovered::Stack)
                            .collect::<Vec<_>>(),
                    ),
                    Err(error) => {
                        *failed = true;
                        Some(vec![Discovered::Failure {
                            scope: scope.clone(),
                            error,
                        }])
                    }
                };
                std::future::ready(found)
            })
            .flat_map(futures_util::stream::iter)
            .boxed()
    }

    fn scope(&self) -> String {
        match &self.location {
            Some(location) => format!("account {} in {}", location.account, location.region),
            None => "this account".to_owned(),
        }
    }
}

/// Repository links whose sync configurations are listed at once. Most links hold one
/// stack or a few, so reading them one after another would make discovery, not the
/// status calls, the slow part of a tick (1,000 links at 50 ms: 50 s); a few at a time
/// stays well inside the service's request rates.
pub const LINKS_AT_ONCE: usize = 4;

/// Every page of a paginated call, in order: `call(token)` answers one page and the next
/// token. The first error is the last item.
fn pages<T, F, Fut>(call: F) -> impl futures_util::Stream<Item = Result<T, SourceError>> + Send
where
    T: Send,
    F: Fn(Option<String>) -> Fut + Send,
    Fut: Future<Output = Result<(T, Option<String>), SourceError>> + Send,
{
    // `Some(token)`: a page to read (the first one has no token); `None`: done.
    futures_util::stream::unfold(Some(None), move |next: Option<Option<String>>| {
        let page = next.map(&call);
        async move {
            match page?.await {
                Ok((items, token)) => Some((Ok(items), token.map(Some))),
                Err(error) => Some((Err(error), None)),
            }
        }
    })
}

impl StatusSource for CodeConnectionsSource {
    #[tracing::instrument(level = "debug", skip(self), fields(stack = %stack))]
    async fn fetch(&self, stack: &StackRef) -> Result<ResourceStatus, SourceError> {
        let output = self
            .client
            .get_resource_sync_status()
            .resource_name(stack.name.as_str())
            .sync_type(SyncConfigurationType::CfnStackSync)
            .send()
            .await
            .map_err(classify)?;
        let latest_sync = output
            .latest_sync()
            .ok_or_else(|| malformed("LatestSync is missing"))
            .and_then(|attempt| to_attempt(attempt, "LatestSync"))?;
        let latest_successful_sync = output
            .latest_successful_sync()
            .map(|attempt| to_attempt(attempt, "LatestSuccessfulSync"))
            .transpose()?;
        Ok(ResourceStatus {
            desired_state: output.desired_state().map(to_revision),
            latest_sync,
            latest_successful_sync,
        })
    }

    #[tracing::instrument(level = "debug", skip(self), fields(stack = %stack))]
    async fn blockers(&self, stack: &StackRef) -> Result<Vec<Blocker>, SourceError> {
        let output = self
            .client
            .get_sync_blocker_summary()
            .resource_name(stack.name.as_str())
            .sync_type(SyncConfigurationType::CfnStackSync)
            .send()
            .await
            .map_err(classify)?;
        let summary = output
            .sync_blocker_summary()
            .ok_or_else(|| malformed("SyncBlockerSummary is missing"))?;
        summary
            .latest_blockers()
            .iter()
            .take(MAX_BLOCKERS)
            .enumerate()
            .map(|(index, blocker)| to_blocker(blocker, index))
            .collect()
    }

    fn discover(&self) -> BoxStream<'_, Discovered> {
        self.clone().walk()
    }

    async fn stacks_of_link(
        &self,
        _location: Option<&Location>,
        link: &str,
    ) -> Result<Vec<StackRef>, SourceError> {
        let pages: Vec<Vec<StackRef>> = self.link_pages(link.to_owned()).try_collect().await?;
        Ok(pages.concat())
    }

    async fn stack_history(
        &self,
        stack: &StackRef,
        since: Timestamp,
    ) -> Result<StackHistory, SourceError> {
        self.reader("DescribeStackEvents")?
            .stack_history(stack.name.as_str(), since)
            .await
    }

    async fn stack_tags(&self, _location: Option<&Location>) -> Result<StackTags, SourceError> {
        self.reader("DescribeStacks")?.stack_tags().await
    }
}

/// The most blockers read of one stack (there is rarely more than one).
const MAX_BLOCKERS: usize = 50;
/// The most Key/Value pairs kept of one blocker.
const MAX_CONTEXTS: usize = 50;

fn malformed(message: &str) -> SourceError {
    SourceError::new(SourceErrorKind::Malformed, message)
}

/// A timestamp of the answer, checked: the SDK gives epoch 0 for a missing one, and a
/// number past year 9999 cannot be written as a date. `field` names it in the error and is
/// built only then: this runs for every event of every stack on every tick.
fn timestamp(
    time: &aws_sdk_codeconnections::primitives::DateTime,
    field: impl FnOnce() -> String,
) -> Result<Timestamp, SourceError> {
    if time.secs() == 0 && time.subsec_nanos() == 0 {
        return Err(malformed(&format!("{} is missing", field())));
    }
    let at = Timestamp::from_millis(
        time.secs()
            .saturating_mul(1000)
            .saturating_add(i64::from(time.subsec_nanos() / 1_000_000)),
    );
    if at < Timestamp::from_millis(0) || !at.is_writable() {
        return Err(malformed(&format!(
            "{} is {} seconds since 1970, not a date between 1970 and 9999",
            field(),
            time.secs()
        )));
    }
    Ok(at)
}

fn to_attempt(attempt: &sdk::ResourceSyncAttempt, field: &str) -> Result<SyncAttempt, SourceError> {
    let revision = |revision: Option<&sdk::Revision>, name: &str| {
        revision
            .filter(|revision| !revision.sha().is_empty())
            .map(to_revision)
            .ok_or_else(|| malformed(&format!("{field}.{name} is missing")))
    };
    let started_at = timestamp(attempt.started_at(), || format!("{field}.StartedAt"))?;
    if attempt.status().as_str() == "no value was set" {
        return Err(malformed(&format!("{field}.Status is missing")));
    }
    let events = attempt
        .events()
        .iter()
        .enumerate()
        .map(|(index, event)| {
            Ok(SyncEvent {
                event: clip(event.event(), 4096),
                event_type: clip(event.r#type(), 128),
                time: timestamp(event.time(), || format!("{field}.Events[{index}].Time"))?,
                external_id: event.external_id().map(|id| clip(id, 2048)),
            })
        })
        .collect::<Result<Vec<_>, SourceError>>()?;
    Ok(SyncAttempt {
        started_at,
        status: SyncStatus::parse(&clip(attempt.status().as_str(), 64)),
        target: clip(attempt.target(), 1024),
        initial_revision: revision(attempt.initial_revision(), "InitialRevision")?,
        target_revision: revision(attempt.target_revision(), "TargetRevision")?,
        events,
        events_omitted: 0,
    })
}

/// A revision, its strings cut at the model's lengths.
fn to_revision(revision: &sdk::Revision) -> Revision {
    Revision {
        provider_type: clip(revision.provider_type().as_str(), 64),
        owner_id: clip(revision.owner_id(), 255),
        repository_name: clip(revision.repository_name(), 128),
        branch: clip(revision.branch(), 255),
        directory: clip(revision.directory(), 1024),
        sha: clip(revision.sha(), 255),
    }
}

fn to_blocker(blocker: &sdk::SyncBlocker, index: usize) -> Result<Blocker, SourceError> {
    let field = format!("SyncBlockerSummary.LatestBlockers[{index}]");
    if blocker.id().is_empty() {
        return Err(malformed(&format!("{field}.Id is missing")));
    }
    let status = match blocker.status().as_str() {
        "ACTIVE" => BlockerStatus::Active,
        "RESOLVED" => BlockerStatus::Resolved,
        "no value was set" => return Err(malformed(&format!("{field}.Status is missing"))),
        other => {
            return Err(malformed(&format!(
                "{field}.Status is {:?}, not ACTIVE or RESOLVED",
                clip(other, 40)
            )));
        }
    };
    Ok(Blocker {
        id: clip(blocker.id(), 50),
        blocker_type: clip(blocker.r#type().as_str(), 64),
        status,
        created_reason: clip(blocker.created_reason(), 1024),
        created_at: timestamp(blocker.created_at(), || format!("{field}.CreatedAt"))?,
        contexts: blocker
            .contexts()
            .iter()
            .take(MAX_CONTEXTS)
            .map(|context| (clip(context.key(), 256), clip(context.value(), 1024)))
            .collect(),
        resolved_reason: blocker.resolved_reason().map(|reason| clip(reason, 250)),
        resolved_at: blocker
            .resolved_at()
            .map(|at| timestamp(at, || format!("{field}.ResolvedAt")))
            .transpose()?,
    })
}

/// Sorts an SDK failure into what the run and the summary need to know.
fn classify<E>(
    error: SdkError<E, aws_sdk_codeconnections::config::http::HttpResponse>,
) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = match &error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException") => SourceErrorKind::Throttled,
            Some("AccessDeniedException") => SourceErrorKind::AccessDenied,
            Some("ResourceNotFoundException") => SourceErrorKind::NotFound,
            Some(_) => SourceErrorKind::Unavailable,
            None if (200..300).contains(&service.raw().status().as_u16()) => {
                SourceErrorKind::Malformed
            }
            None => SourceErrorKind::Unavailable,
        },
        SdkError::ResponseError(_) => SourceErrorKind::Malformed,
        SdkError::TimeoutError(_) => SourceErrorKind::TimedOut,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => SourceErrorKind::TimedOut,
        _ => SourceErrorKind::Unavailable,
    };
    SourceError {
        kind,
        message: crate::aws::describe(&error),
    }
}
