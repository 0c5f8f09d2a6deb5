//! The CloudFormation adapter: the stack events that explain a sync (ARCHITECTURE §14,
//! `DescribeStackEvents`) and the stack tags that route it (§16, `DescribeStacks`), read
//! through `aws-sdk-cloudformation` and translated into domain types here and nowhere else.
//!
//! Both are optional reads (§13): the status source offers them beside the status, and the
//! run decides when to make them (never on a steady tick) and what a failure costs (nothing
//! but the explanation or the tags).
//!
//! Every answer is checked against the service model before it becomes data. The SDK fills
//! a missing required member with a default (an empty string, epoch 0, a status of "no
//! value was set"), so those defaults count as missing here:
//! - an event without a member the model requires (`StackId`, `EventId`, `StackName`,
//!   `Timestamp`) or an explanation needs (`LogicalResourceId`, `ResourceType`,
//!   `ResourceStatus`), or with a time no calendar can write, is **skipped**, said in one
//!   warning per stack and in [`Gap::Skipped`]: one odd event must not hide the root cause
//!   in the others. An answer that is not the model's XML at all is a malformed answer
//!   ([`SourceErrorKind::Malformed`]);
//! - a stack of `DescribeStacks` without `StackName`, `StackId`, `CreationTime` or
//!   `StackStatus`, or whose name is not a valid resource name, is skipped; so is a tag
//!   without its key or value (the model's tag values are at least one character);
//! - strings are cut at the model's lengths ([`StackEvent::cut`], [`TAG_KEY_CHARS`]), and
//!   an answer over [`crate::aws::ANSWER_LIMIT`] is not read at all.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types as sdk;
use futures_util::future::join_all;

use super::{SourceError, SourceErrorKind};
use crate::domain::explain::{Gap, STACK_NAME_CHARS, StackEvent, StackEvents, StackHistory};
use crate::domain::{ResourceName, Timestamp, nested_stacks_to_follow, stack_name_of_arn};
use crate::text::truncate_chars as clip;

/// Pages of `DescribeStackEvents` read per stack, newest first (AWS answers 100 events a
/// page): an attempt of a large stack fits, an old stack's whole history is never read.
pub const PAGES_PER_STACK: usize = 5;
/// How far down failed nested stacks are followed.
pub const NESTED_LEVELS: u8 = 3;
/// Nested stacks read at most per history, level by level, earliest failure first: a
/// chain three levels deep plus one failed sibling. With [`PAGES_PER_STACK`] this bounds a
/// history at `(1 + 4) × 5 = 25` `DescribeStackEvents` calls; a failure in a stack with
/// one failed nested stack per level makes `1 + levels` calls (an attempt's events fit a
/// page).
pub const NESTED_STACKS_READ: usize = 4;
/// Pages of `DescribeStacks` read at most for the tags of an account and Region: 10,000
/// stacks at AWS's 100 a page, twice the default quota. A server that keeps answering
/// pages (or the same token) cannot hold a run.
pub const STACK_PAGES: usize = 100;
/// Tags kept per stack (the model's most) and their lengths.
pub const TAGS_PER_STACK: usize = 50;
pub const TAG_KEY_CHARS: usize = 128;
pub const TAG_VALUE_CHARS: usize = 256;

/// A stack's tags, in AWS's order.
pub type Tags = Vec<(String, String)>;
/// The tags of every stack of an account and Region, by stack name.
pub type StackTags = BTreeMap<ResourceName, Tags>;

/// The CloudFormation client: the SDK configuration's endpoint
/// (`AWS_ENDPOINT_URL_CLOUDFORMATION`: `Builder::from(&SdkConfig)` looks it up under the
/// service id `CloudFormation`) and credentials, every call bounded in time and in the size
/// of its answer, like the CodeConnections client.
pub fn cloudformation_client(sdk_config: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_cloudformation::config::Builder::from(sdk_config)
        .interceptor(crate::aws::AnswerLimit)
        .build();
    Client::from_conf(config)
}

/// Reads stack events and tags in one account and Region.
#[derive(Debug, Clone)]
pub struct CloudFormationReader {
    client: Client,
}

/// One stack's events of the attempt as read: oldest first, and what is missing.
struct Read {
    events: Vec<StackEvent>,
    gaps: Vec<Gap>,
}

impl CloudFormationReader {
    pub fn new(client: Client) -> Self {
        CloudFormationReader { client }
    }

    /// The events of the attempt that started at `since` in `stack` (a name or a stack
    /// ARN), and in the failed nested stacks it leads to, [`NESTED_LEVELS`] down (see
    /// [`NESTED_STACKS_READ`] for the most calls this makes).
    ///
    /// Fails only when the stack's own first page cannot be read (denied, throttled, timed
    /// out, malformed, or [`SourceErrorKind::NotFound`] for a stack that no longer exists).
    /// Anything later that fails — a further page, a nested stack — leaves the history
    /// with what it has and a [`Gap`] that says what is missing (and one warning): a
    /// secondary read never silences the primary one.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn stack_history(
        &self,
        stack: &str,
        since: Timestamp,
    ) -> Result<StackHistory, SourceError> {
        let root = self.stack_events(stack, since).await?;
        let mut history = StackHistory {
            since,
            stacks: vec![StackEvents {
                name: name_of(stack),
                depth: 0,
                events: root.events,
            }],
            gaps: root.gaps,
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut read = 0;
        // The stacks of the level above (indexes into `history.stacks`).
        let mut above = 0..1;
        for depth in 1..=NESTED_LEVELS + 1 {
            let mut next: Vec<String> = Vec::new();
            for parent in &history.stacks[above.clone()] {
                for arn in nested_stacks_to_follow(&parent.events, since) {
                    if seen.insert(arn.clone()) {
                        next.push(arn);
                    }
                }
            }
            let room = if depth > NESTED_LEVELS {
                0
            } else {
                NESTED_STACKS_READ - read
            };
            let followed: Vec<String> = next.iter().take(room).cloned().collect();
            for arn in next.iter().skip(room) {
                history.gaps.push(Gap::NotFollowed {
                    stack: name_of(arn),
                });
            }
            if followed.is_empty() {
                break;
            }
            read += followed.len();
            let reads = join_all(
                followed
                    .iter()
                    .map(|arn| async move { (arn, self.stack_events(arn, since).await) }),
            )
            .await;
            let start = history.stacks.len();
            for (arn, result) in reads {
                let name = name_of(arn);
                match result {
                    Ok(read) => {
                        history.stacks.push(StackEvents {
                            name,
                            depth,
                            events: read.events,
                        });
                        history.gaps.extend(read.gaps);
                    }
                    Err(error) => {
                        tracing::warn!(stack = %name, %error, "the events of a failed nested stack could not be read; the explanation goes without them");
                        history.gaps.push(Gap::Unread {
                            stack: name,
                            reason: error.to_string(),
                        });
                    }
                }
            }
            above = start..history.stacks.len();
        }
        Ok(history)
    }

    /// One stack's events since `since`, newest first page by page, at most
    /// [`PAGES_PER_STACK`] pages, stopping at the first event older than `since`; returned
    /// oldest first.
    async fn stack_events(&self, stack: &str, since: Timestamp) -> Result<Read, SourceError> {
        let name = name_of(stack);
        let mut events = Vec::new();
        let mut gaps = Vec::new();
        let mut skipped = 0usize;
        let mut first_problem = None;
        let mut token: Option<String> = None;
        let mut complete = false;
        for page in 0..PAGES_PER_STACK {
            let answer = self
                .client
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(classify);
            let answer = match answer {
                Ok(answer) => answer,
                Err(error) if page == 0 => return Err(error),
                Err(error) => {
                    // What the earlier pages hold is still the newest part of the attempt.
                    tracing::warn!(stack = %name, page, %error, "a later page of stack events could not be read; explaining with the pages read");
                    gaps.push(Gap::Unread {
                        stack: name.clone(),
                        reason: error.to_string(),
                    });
                    complete = true;
                    break;
                }
            };
            let mut older_reached = false;
            for (index, event) in answer.stack_events().iter().enumerate() {
                match to_event(event) {
                    Ok(event) if event.time < since => {
                        older_reached = true;
                        break;
                    }
                    Ok(event) => events.push(event),
                    Err(problem) => {
                        skipped += 1;
                        first_problem.get_or_insert_with(|| {
                            format!("StackEvents[{index}] of page {}: {problem}", page + 1)
                        });
                    }
                }
            }
            token = answer
                .next_token()
                .filter(|token| !token.is_empty())
                .map(str::to_owned);
            if older_reached || token.is_none() {
                complete = true;
                break;
            }
        }
        if !complete {
            gaps.push(Gap::PageLimit {
                stack: name.clone(),
            });
        }
        if skipped > 0 {
            tracing::warn!(stack = %name, skipped, first = first_problem.as_deref().unwrap_or_default(), "DescribeStackEvents answered events without members the model requires; skipped them");
            gaps.push(Gap::Skipped {
                stack: name,
                events: skipped,
            });
        }
        events.reverse();
        Ok(Read { events, gaps })
    }

    /// The tags of every stack of the account and Region (`DescribeStacks` without a stack
    /// name, every page up to [`STACK_PAGES`]): at most [`TAGS_PER_STACK`] per stack, cut
    /// at the model's lengths. A stack whose name is not a valid resource name (it cannot
    /// be a watched stack) or that lacks a required member is left out.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn stack_tags(&self) -> Result<StackTags, SourceError> {
        let mut tags = StackTags::new();
        let mut token: Option<String> = None;
        let mut tokens_seen: HashSet<String> = HashSet::new();
        for _ in 0..STACK_PAGES {
            let answer = self
                .client
                .describe_stacks()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            for (index, stack) in answer.stacks().iter().enumerate() {
                match to_tagged_stack(stack) {
                    Ok(Some((name, stack_tags))) => {
                        tags.insert(name, stack_tags);
                    }
                    Ok(None) => {}
                    Err(problem) => tracing::warn!(
                        index,
                        problem = problem.to_string(),
                        "DescribeStacks answered a stack without a member the model requires; skipped"
                    ),
                }
            }
            match answer.next_token().filter(|token| !token.is_empty()) {
                Some(next) if tokens_seen.insert(next.to_owned()) => token = Some(next.to_owned()),
                Some(_) => {
                    tracing::warn!(
                        "DescribeStacks answered a page token it gave before; stopped there"
                    );
                    return Ok(tags);
                }
                None => return Ok(tags),
            }
        }
        tracing::warn!(
            pages = STACK_PAGES,
            "DescribeStacks had more pages than sync-notifier reads; the tags of the stacks after them are unknown"
        );
        Ok(tags)
    }
}

/// The stack name in a stack ARN, or the name itself.
fn name_of(stack: &str) -> String {
    clip(stack_name_of_arn(stack).unwrap_or(stack), STACK_NAME_CHARS)
}

/// What an event or a stack of an answer lacks that the model requires, or a time no
/// calendar writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Malformed {
    #[error("{member} is missing")]
    Missing { member: &'static str },
    #[error("{stack}: {member} is missing")]
    StackMissing { stack: String, member: &'static str },
    #[error("Timestamp is {seconds} seconds since 1970, not a date before 9999")]
    Time { seconds: i64 },
}

/// An event of the answer, checked: the member it lacks, if it lacks one.
fn to_event(event: &sdk::StackEvent) -> Result<StackEvent, Malformed> {
    let required = |value: Option<&str>, member: &'static str| match value {
        Some(value) if !value.is_empty() => Ok(value.to_owned()),
        _ => Err(Malformed::Missing { member }),
    };
    required(event.stack_id(), "StackId")?;
    required(event.event_id(), "EventId")?;
    let stack = required(event.stack_name(), "StackName")?;
    let time = event
        .timestamp()
        .filter(|time| !is_unset(time))
        .ok_or(Malformed::Missing {
            member: "Timestamp",
        })
        .and_then(timestamp)?;
    let status = match event.resource_status() {
        Some(status) if !matches!(status.as_str(), "" | "no value was set") => {
            status.as_str().to_owned()
        }
        _ => {
            return Err(Malformed::Missing {
                member: "ResourceStatus",
            });
        }
    };
    Ok(StackEvent {
        stack,
        logical_id: required(event.logical_resource_id(), "LogicalResourceId")?,
        physical_id: event
            .physical_resource_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        resource_type: required(event.resource_type(), "ResourceType")?,
        status,
        reason: event.resource_status_reason().map(str::to_owned),
        time,
    }
    .cut())
}

/// The SDK's stand-in for a required time the answer lacks: epoch 0. (No stack event or
/// stack dates from 1970.)
fn is_unset(time: &aws_sdk_cloudformation::primitives::DateTime) -> bool {
    time.secs() == 0 && time.subsec_nanos() == 0
}

/// A time of the answer, if a calendar can write it.
fn timestamp(time: &aws_sdk_cloudformation::primitives::DateTime) -> Result<Timestamp, Malformed> {
    let at = Timestamp::from_millis(
        time.secs()
            .saturating_mul(1000)
            .saturating_add(i64::from(time.subsec_nanos() / 1_000_000)),
    );
    if at.is_writable() {
        Ok(at)
    } else {
        Err(Malformed::Time {
            seconds: time.secs(),
        })
    }
}

/// A stack of `DescribeStacks` and its tags; `None` for a stack that cannot be watched.
fn to_tagged_stack(stack: &sdk::Stack) -> Result<Option<(ResourceName, Tags)>, Malformed> {
    let name = stack
        .stack_name()
        .filter(|name| !name.is_empty())
        .ok_or(Malformed::Missing {
            member: "StackName",
        })?;
    let missing = |member| {
        Err(Malformed::StackMissing {
            stack: name.to_owned(),
            member,
        })
    };
    if stack.stack_id().is_none_or(str::is_empty) {
        return missing("StackId");
    }
    if stack.creation_time().is_none_or(is_unset) {
        return missing("CreationTime");
    }
    if stack
        .stack_status()
        .is_none_or(|status| matches!(status.as_str(), "" | "no value was set"))
    {
        return missing("StackStatus");
    }
    let Ok(name) = ResourceName::parse(name) else {
        return Ok(None);
    };
    let tags = stack
        .tags()
        .iter()
        .filter_map(|tag| Some((tag.key()?, tag.value()?)))
        .filter(|(key, value)| !key.is_empty() && !value.is_empty())
        .take(TAGS_PER_STACK)
        .map(|(key, value)| (clip(key, TAG_KEY_CHARS), clip(value, TAG_VALUE_CHARS)))
        .collect();
    Ok(Some((name, tags)))
}

/// Sorts an SDK failure into what the run and the summary need to know. awsQuery names
/// errors by code: `Throttling`, `AccessDenied`, and `ValidationError` for a stack that does
/// not exist ("Stack with id X does not exist").
fn classify<E>(
    error: SdkError<E, aws_sdk_cloudformation::config::http::HttpResponse>,
) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match err.code() {
                Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
                    SourceErrorKind::Throttled
                }
                Some("AccessDenied" | "AccessDeniedException") => SourceErrorKind::AccessDenied,
                Some("ValidationError")
                    if err
                        .message()
                        .is_some_and(|message| message.contains("does not exist")) =>
                {
                    SourceErrorKind::NotFound
                }
                Some(_) => SourceErrorKind::Unavailable,
                None if (200..300).contains(&service.raw().status().as_u16()) => {
                    SourceErrorKind::Malformed
                }
                None => SourceErrorKind::Unavailable,
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::primitives::DateTime;

    fn complete_event() -> sdk::builders::StackEventBuilder {
        sdk::StackEvent::builder()
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/app/1")
            .event_id("e1")
            .stack_name("app")
            .logical_resource_id("Queue")
            .resource_type("AWS::SQS::Queue")
            .timestamp(DateTime::from_secs(1_795_687_330))
            .resource_status(sdk::ResourceStatus::CreateFailed)
    }

    #[test]
    fn an_event_lacking_what_the_model_requires_or_an_explanation_needs_is_refused_by_name() {
        assert!(to_event(&complete_event().build()).is_ok());
        let cases = [
            (complete_event().stack_id(""), "StackId is missing"),
            (complete_event().event_id(""), "EventId is missing"),
            (complete_event().stack_name(""), "StackName is missing"),
            // The SDK's default for a missing required time.
            (
                complete_event().timestamp(DateTime::from_secs(0)),
                "Timestamp is missing",
            ),
            (
                complete_event().set_logical_resource_id(None),
                "LogicalResourceId is missing",
            ),
            (
                complete_event().set_resource_type(None),
                "ResourceType is missing",
            ),
            (
                complete_event().set_resource_status(None),
                "ResourceStatus is missing",
            ),
            (
                complete_event().timestamp(DateTime::from_secs(400_000_000_000)),
                "not a date before 9999",
            ),
        ];
        for (event, problem) in cases {
            let error = to_event(&event.build()).unwrap_err().to_string();
            assert!(error.contains(problem), "{error}");
        }
    }

    fn complete_stack() -> sdk::builders::StackBuilder {
        sdk::Stack::builder()
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/app/1")
            .stack_name("app")
            .creation_time(DateTime::from_secs(1_767_603_600))
            .stack_status(sdk::StackStatus::UpdateComplete)
            .tags(sdk::Tag::builder().key("team").value("payments").build())
    }

    #[test]
    fn a_stack_lacking_a_required_member_is_refused_and_one_that_cannot_be_watched_ignored() {
        let (name, tags) = to_tagged_stack(&complete_stack().build()).unwrap().unwrap();
        assert_eq!(name.as_str(), "app");
        assert_eq!(tags, vec![("team".to_owned(), "payments".to_owned())]);
        for (stack, problem) in [
            (complete_stack().stack_name(""), "StackName is missing"),
            (complete_stack().set_stack_id(None), "StackId is missing"),
            (
                complete_stack().creation_time(DateTime::from_secs(0)),
                "CreationTime is missing",
            ),
            (
                complete_stack().stack_status(sdk::StackStatus::from("no value was set")),
                "StackStatus is missing",
            ),
        ] {
            let error = to_tagged_stack(&stack.build()).unwrap_err().to_string();
            assert!(error.contains(problem), "{error}");
        }
        let long_name = "a".repeat(120);
        assert_eq!(
            to_tagged_stack(&complete_stack().stack_name(long_name).build()).unwrap(),
            None,
            "a stack name no sync configuration can have"
        );
        // A tag the SDK filled in for a missing key or value is dropped.
        let stack = complete_stack()
            .tags(sdk::Tag::builder().key("").value("x").build())
            .tags(sdk::Tag::builder().key("owner").value("").build())
            .build();
        assert_eq!(to_tagged_stack(&stack).unwrap().unwrap().1.len(), 1);
    }
}
