//! The CodeConnections adapter: `GetResourceSyncStatus` and discovery through
//! `aws-sdk-codeconnections`, translated into domain types here and nowhere else.

use aws_sdk_codeconnections::Client;
use aws_sdk_codeconnections::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codeconnections::types::{self as sdk, SyncConfigurationType};

use super::{SourceError, SourceErrorKind, StatusSource};
use crate::domain::{
    ResourceName, ResourceStatus, Revision, SyncAttempt, SyncEvent, SyncStatus, Timestamp,
};

/// Reads Git sync status from AWS CodeConnections (or whatever
/// `AWS_ENDPOINT_URL_CODECONNECTIONS` points the client at).
#[derive(Debug, Clone)]
pub struct CodeConnectionsSource {
    client: Client,
}

impl CodeConnectionsSource {
    pub fn new(client: Client) -> Self {
        CodeConnectionsSource { client }
    }
}

impl StatusSource for CodeConnectionsSource {
    #[tracing::instrument(level = "debug", skip(self), fields(resource = %name))]
    async fn fetch(&self, name: &ResourceName) -> Result<ResourceStatus, SourceError> {
        let output = self
            .client
            .get_resource_sync_status()
            .resource_name(name.as_str())
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

    #[tracing::instrument(level = "debug", skip(self))]
    async fn discover(&self) -> Result<Vec<ResourceName>, SourceError> {
        let mut link_ids = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .client
                .list_repository_links()
                .set_next_token(next_token)
                .send()
                .await
                .map_err(classify)?;
            link_ids.extend(
                page.repository_links()
                    .iter()
                    .map(|link| link.repository_link_id().to_owned()),
            );
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }

        let mut names = Vec::new();
        for link_id in link_ids {
            let mut next_token = None;
            loop {
                let page = self
                    .client
                    .list_sync_configurations()
                    .repository_link_id(&link_id)
                    .sync_type(SyncConfigurationType::CfnStackSync)
                    .set_next_token(next_token)
                    .send()
                    .await
                    .map_err(classify)?;
                for configuration in page.sync_configurations() {
                    // One odd entry must not hide every other stack: skip it, say so.
                    match ResourceName::parse(configuration.resource_name()) {
                        Ok(name) if !names.contains(&name) => names.push(name),
                        Ok(_) => {}
                        Err(error) => tracing::warn!(
                            repository_link = %link_id,
                            %error,
                            "ListSyncConfigurations returned a resource name that is not valid; skipped"
                        ),
                    }
                }
                next_token = page.next_token().map(str::to_owned);
                if next_token.is_none() {
                    break;
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

fn malformed(message: &str) -> SourceError {
    SourceError {
        kind: SourceErrorKind::Malformed,
        message: message.to_owned(),
    }
}

/// The SDK fills required members that an answer lacks with defaults ("client error
/// correction"): epoch 0, an empty SHA, a status of "no value was set". Those are
/// refused here, so a malformed answer is reported (rule 8) instead of read as data.
fn to_attempt(attempt: &sdk::ResourceSyncAttempt, field: &str) -> Result<SyncAttempt, SourceError> {
    let revision = |revision: Option<&sdk::Revision>, name: &str| {
        revision
            .filter(|revision| !revision.sha().is_empty())
            .map(to_revision)
            .ok_or_else(|| malformed(&format!("{field}.{name} is missing")))
    };
    if attempt.started_at().secs() == 0 && attempt.started_at().subsec_nanos() == 0 {
        return Err(malformed(&format!("{field}.StartedAt is missing")));
    }
    if attempt.status().as_str() == "no value was set" {
        return Err(malformed(&format!("{field}.Status is missing")));
    }
    Ok(SyncAttempt {
        started_at: to_timestamp(attempt.started_at()),
        status: SyncStatus::from(attempt.status().as_str().to_owned()),
        target: attempt.target().to_owned(),
        initial_revision: revision(attempt.initial_revision(), "InitialRevision")?,
        target_revision: revision(attempt.target_revision(), "TargetRevision")?,
        events: attempt
            .events()
            .iter()
            .map(|event| SyncEvent {
                event: event.event().to_owned(),
                event_type: event.r#type().to_owned(),
                time: to_timestamp(event.time()),
                external_id: event.external_id().map(str::to_owned),
            })
            .collect(),
    })
}

fn to_revision(revision: &sdk::Revision) -> Revision {
    Revision {
        provider_type: revision.provider_type().as_str().to_owned(),
        owner_id: revision.owner_id().to_owned(),
        repository_name: revision.repository_name().to_owned(),
        branch: revision.branch().to_owned(),
        directory: revision.directory().to_owned(),
        sha: revision.sha().to_owned(),
    }
}

fn to_timestamp(time: &aws_sdk_codeconnections::primitives::DateTime) -> Timestamp {
    Timestamp::from_millis(
        time.secs()
            .saturating_mul(1000)
            .saturating_add(i64::from(time.subsec_nanos() / 1_000_000)),
    )
}

/// Sorts an SDK failure into what the run and the summary need to know.
fn classify<E, R>(error: SdkError<E, R>) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let kind = match &error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException") => SourceErrorKind::Throttled,
            Some("AccessDeniedException") => SourceErrorKind::AccessDenied,
            Some("ResourceNotFoundException") => SourceErrorKind::NotFound,
            _ => SourceErrorKind::Unavailable,
        },
        SdkError::ResponseError(_) => SourceErrorKind::Malformed,
        _ => SourceErrorKind::Unavailable,
    };
    SourceError {
        kind,
        message: crate::sdk_error::describe(&error),
    }
}
