//! Explaining a sync (ARCHITECTURE §14): from the CloudFormation events of one attempt,
//! why it failed ([`root_cause`]) and what it changed ([`changes`]), and which failed
//! nested stacks are worth reading next ([`nested_stacks_to_follow`]).
//!
//! Pure: the `source` adapter reads `DescribeStackEvents` into a [`StackHistory`] and the
//! functions here only look at it. An attempt is everything from its `StartedAt`
//! ([`StackHistory::since`]) on: an event from before belongs to an older attempt and never
//! counts, whatever the caller passed in.
//!
//! Text is cut at the model's lengths ([`StackEvent::cut`]) and kept otherwise as AWS wrote
//! it, control characters included: escaping is each renderer's job (`crate::text`).

use std::collections::HashSet;

use super::Timestamp;
use crate::text::truncate_chars;

/// The longest texts kept of an event. CloudFormation's model bounds only the resource type
/// (256); the others are ours, well above anything AWS writes (a stack name is at most 128
/// characters, an ARN 2048) and far below what would flood a message or a record: a
/// `ResourceStatusReason` of 100 KB is cut to [`REASON_CHARS`].
pub const STACK_NAME_CHARS: usize = 255;
pub const LOGICAL_ID_CHARS: usize = 255;
pub const PHYSICAL_ID_CHARS: usize = 2048;
pub const RESOURCE_TYPE_CHARS: usize = 256;
pub const STATUS_CHARS: usize = 64;
pub const REASON_CHARS: usize = 4096;

/// The most resources each list of [`Changes`] names; the rest are counted.
pub const CHANGES_LISTED: usize = 50;

/// The resource type of a stack, nested or not.
pub const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// One `DescribeStackEvents` event, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// The stack (or nested stack) it belongs to, by name (`StackName`).
    pub stack: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `CREATE_FAILED`, `UPDATE_COMPLETE`… as AWS wrote it (a status AWS adds later is
    /// kept as it is).
    pub status: String,
    pub reason: Option<String>,
    pub time: Timestamp,
}

impl StackEvent {
    /// The same event, every text cut at its length above.
    pub fn cut(self) -> StackEvent {
        StackEvent {
            stack: truncate_chars(&self.stack, STACK_NAME_CHARS),
            logical_id: truncate_chars(&self.logical_id, LOGICAL_ID_CHARS),
            physical_id: self
                .physical_id
                .map(|id| truncate_chars(&id, PHYSICAL_ID_CHARS)),
            resource_type: truncate_chars(&self.resource_type, RESOURCE_TYPE_CHARS),
            status: truncate_chars(&self.status, STATUS_CHARS),
            reason: self
                .reason
                .map(|reason| truncate_chars(&reason, REASON_CHARS)),
            time: self.time,
        }
    }

    /// An event about the stack itself (its `LogicalResourceId` is the stack's name), not
    /// about one of its resources.
    pub fn is_stack_itself(&self) -> bool {
        self.logical_id == self.stack
    }

    fn failed(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// The events of one stack of the attempt, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvents {
    pub name: String,
    /// 0: the synced stack; 1: a stack nested in it; and so on.
    pub depth: u8,
    pub events: Vec<StackEvent>,
}

/// What the history of an attempt could not include, so that a reader (and a log line)
/// knows it is partial. A gap never hides what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// The page limit was reached before the attempt's start: its oldest events are missing.
    PageLimit { stack: String },
    /// A stack's events could not be read, or not all of them (a later page failed).
    Unread { stack: String, reason: String },
    /// Events without a member the model requires or an explanation needs, left out.
    Skipped { stack: String, events: usize },
    /// A failed nested stack not read: deeper than the levels followed, or past the number
    /// of nested stacks read.
    NotFollowed { stack: String },
}

/// The CloudFormation events of one attempt: the synced stack's, and those of the failed
/// nested stacks followed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackHistory {
    /// The attempt's `StartedAt`: earlier events belong to older attempts.
    pub since: Timestamp,
    /// The synced stack first (depth 0), then nested stacks by depth.
    pub stacks: Vec<StackEvents>,
    pub gaps: Vec<Gap>,
}

impl StackHistory {
    /// The events of the attempt (at or after `since`) of every stack read, with each
    /// stack's depth.
    fn attempt_events(&self) -> impl Iterator<Item = (u8, &StackEvent)> {
        self.stacks.iter().flat_map(move |stack| {
            stack
                .events
                .iter()
                .filter(move |event| event.time >= self.since)
                .map(move |event| (stack.depth, event))
        })
    }
}

/// Why an attempt failed: the resource that failed first, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCause {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    /// The stack or nested stack it happened in, by name.
    pub stack: String,
    pub time: Timestamp,
}

impl RootCause {
    /// The reason as a person reads it first: a resource handler's own message without
    /// the wrapping (`Resource handler returned message: "…"`) and the request details
    /// (`(Service: DynamoDb, Status Code: 400, Request ID: …)`). `None` without a reason.
    pub fn short_reason(&self) -> Option<String> {
        let reason = self.reason.as_deref()?.trim();
        let inner = reason
            .strip_prefix("Resource handler returned message:")
            .map(|rest| rest.trim().trim_start_matches('"'))
            .unwrap_or(reason);
        let inner = match inner
            .find(" (Service:")
            .or_else(|| inner.find(" (RequestToken:"))
        {
            Some(end) => &inner[..end],
            None => inner.trim_end_matches('"'),
        };
        let inner = inner.trim().trim_end_matches('"').trim();
        (!inner.is_empty()).then(|| inner.to_owned())
    }

    /// `OrdersTable (AWS::DynamoDB::Table) CREATE_FAILED — Table already exists: orders-v2`:
    /// what chat shows after "Why:".
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} ({}) {}",
            self.logical_id, self.resource_type, self.status
        );
        if let Some(reason) = self.short_reason() {
            line.push_str(" — ");
            line.push_str(&reason);
        }
        line
    }
}

impl From<&StackEvent> for RootCause {
    fn from(event: &StackEvent) -> Self {
        RootCause {
            logical_id: event.logical_id.clone(),
            resource_type: event.resource_type.clone(),
            status: event.status.clone(),
            reason: event.reason.clone(),
            stack: event.stack.clone(),
            time: event.time,
        }
    }
}

/// Whether a reason only reports another resource's failure: a resource cancelled because
/// a sibling failed, a stack listing the resources that failed in it, a parent saying its
/// nested stack did not make it. The cause is elsewhere.
pub fn is_cascade(reason: &str) -> bool {
    let reason = reason.trim_start();
    reason.starts_with("Resource creation cancelled")
        || reason.starts_with("Resource update cancelled")
        || reason.starts_with("Resource deletion cancelled")
        || reason.contains("The following resource(s) failed to")
        || (reason.starts_with("Embedded stack ") && reason.contains(" was not successfully "))
}

/// Why the attempt failed, if its events say:
///
/// 1. the earliest `*_FAILED` event of a resource whose reason is not a cascade
///    ([`is_cascade`]; a failure without a reason counts), in the deepest stack that has
///    one: a nested stack's failure is nearer the cause than its parent's account of it;
/// 2. else, with the same preference, the earliest event of a stack itself that failed
///    (`*_FAILED`) or started rolling back (`*ROLLBACK_IN_PROGRESS`) with a reason that is
///    not a cascade: the stack-level reasons that name a cause of their own (a timeout, a
///    hook, "User Initiated" for a cancelled update);
/// 3. else nothing: every failure of the attempt only reports another (the stack that
///    failed was not read, or its events are past the page limit).
///
/// Events before [`StackHistory::since`] never count.
pub fn root_cause(history: &StackHistory) -> Option<RootCause> {
    let resource_failure = |event: &StackEvent| {
        !event.is_stack_itself()
            && event.failed()
            && !event.reason.as_deref().is_some_and(is_cascade)
    };
    let stack_failure = |event: &StackEvent| {
        event.is_stack_itself()
            && (event.failed() || event.status.ends_with("ROLLBACK_IN_PROGRESS"))
            && event
                .reason
                .as_deref()
                .is_some_and(|reason| !reason.trim().is_empty() && !is_cascade(reason))
    };
    deepest_earliest(history, resource_failure)
        .or_else(|| deepest_earliest(history, stack_failure))
        .map(RootCause::from)
}

/// The event of the attempt that `wanted` picks in the deepest stack, the earliest there
/// (ties: the first in the stack's order).
fn deepest_earliest(
    history: &StackHistory,
    wanted: impl Fn(&StackEvent) -> bool,
) -> Option<&StackEvent> {
    history
        .attempt_events()
        .filter(|(_, event)| wanted(event))
        // The greatest depth, then the earliest time; `min_by_key` keeps the first of equals.
        .min_by_key(|(depth, event)| (std::cmp::Reverse(*depth), event.time))
        .map(|(_, event)| event)
}

/// A resource the attempt changed or tried to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedResource {
    pub logical_id: String,
    pub resource_type: String,
}

/// What an attempt created, updated and deleted (succeeded), or tried to (failed): at most
/// [`CHANGES_LISTED`] of each, in the order they were first touched, and how many more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub created: Vec<ChangedResource>,
    pub updated: Vec<ChangedResource>,
    pub deleted: Vec<ChangedResource>,
    pub created_omitted: usize,
    pub updated_omitted: usize,
    pub deleted_omitted: usize,
}

impl Changes {
    /// Keeps the counts, drops the names (to make a stored record fit).
    pub fn forget_names(&mut self) {
        self.created_omitted += std::mem::take(&mut self.created).len();
        self.updated_omitted += std::mem::take(&mut self.updated).len();
        self.deleted_omitted += std::mem::take(&mut self.deleted).len();
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
            && self.updated.is_empty()
            && self.deleted.is_empty()
            && self.created_omitted + self.updated_omitted + self.deleted_omitted == 0
    }

    /// `2 created (OrdersTable, OrdersQueue), 1 updated (Api)`: the counts, and the first
    /// `names` names of each list.
    pub fn line(&self, names: usize) -> String {
        [
            ("created", &self.created, self.created_omitted),
            ("updated", &self.updated, self.updated_omitted),
            ("deleted", &self.deleted, self.deleted_omitted),
        ]
        .into_iter()
        .filter(|(_, list, omitted)| !list.is_empty() || *omitted > 0)
        .map(|(what, list, omitted)| {
            let shown: Vec<&str> = list
                .iter()
                .take(names)
                .map(|changed| changed.logical_id.as_str())
                .collect();
            let count = list.len() + omitted;
            if shown.is_empty() {
                return format!("{count} {what}");
            }
            let more = list.len().saturating_sub(names) + omitted;
            let mut line = format!("{count} {what} ({}", shown.join(", "));
            if more > 0 {
                line.push_str(&format!(", {more} more"));
            }
            line.push(')');
            line
        })
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// Where the stack is in its operation, from its own events: what a resource's event
/// means depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Creating or updating (also before the first stack event read).
    Forward,
    /// `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`: removing what the update replaced or removed.
    Cleanup,
    /// Rolling back, its cleanup included: undoing, not changing.
    Rollback,
    /// `DELETE_IN_PROGRESS` of the stack itself.
    Teardown,
}

impl Phase {
    /// The phase a stack's own status starts, if it starts one.
    fn started_by(status: &str) -> Option<Phase> {
        if !status.ends_with("_IN_PROGRESS") {
            return None;
        }
        Some(if status.contains("ROLLBACK") {
            Phase::Rollback
        } else if status.ends_with("CLEANUP_IN_PROGRESS") {
            Phase::Cleanup
        } else if status.starts_with("DELETE_") {
            Phase::Teardown
        } else {
            Phase::Forward
        })
    }
}

#[derive(Clone, Copy)]
enum Change {
    Created,
    Updated,
    Deleted,
}

/// What the attempt changed in the synced stack (depth 0; a nested stack shows as one
/// `AWS::CloudFormation::Stack` resource), from its resource events since `since`:
///
/// - creating or updating: `CREATE_*` is created, `UPDATE_*` updated, `DELETE_*` deleted,
///   whatever the outcome (a failed attempt "tried to");
/// - cleanup after an update: a resource the attempt already touched is being replaced (its
///   old copy goes), so it stays updated; any other is deleted (removed from the template;
///   `DELETE_SKIPPED`, a retained resource leaving the stack, included);
/// - rolling back: nothing (a resource created and then deleted by the rollback of a
///   failed create stays "created": the attempt tried to create it);
/// - the stack being deleted: its resources' deletions are deletions;
/// - `IMPORT_*` and the stack's own events are not changes.
///
/// Each resource counts once, by its first touch, in that order.
pub fn changes(history: &StackHistory) -> Changes {
    let mut changes = Changes::default();
    let Some(stack) = history.stacks.iter().find(|stack| stack.depth == 0) else {
        return changes;
    };
    let mut phase = Phase::Forward;
    let mut touched: HashSet<&str> = HashSet::new();
    for event in stack
        .events
        .iter()
        .filter(|event| event.time >= history.since)
    {
        if event.is_stack_itself() {
            phase = Phase::started_by(&event.status).unwrap_or(phase);
            continue;
        }
        let status = event.status.as_str();
        let change = match phase {
            Phase::Rollback => None,
            Phase::Forward if status.starts_with("CREATE_") => Some(Change::Created),
            Phase::Forward if status.starts_with("UPDATE_") => Some(Change::Updated),
            Phase::Forward | Phase::Cleanup | Phase::Teardown if status.starts_with("DELETE_") => {
                Some(Change::Deleted)
            }
            _ => None,
        };
        let Some(change) = change else { continue };
        if !touched.insert(event.logical_id.as_str()) {
            continue;
        }
        let (list, omitted) = match change {
            Change::Created => (&mut changes.created, &mut changes.created_omitted),
            Change::Updated => (&mut changes.updated, &mut changes.updated_omitted),
            Change::Deleted => (&mut changes.deleted, &mut changes.deleted_omitted),
        };
        if list.len() < CHANGES_LISTED {
            list.push(ChangedResource {
                logical_id: event.logical_id.clone(),
                resource_type: event.resource_type.clone(),
            });
        } else {
            *omitted += 1;
        }
    }
    changes
}

/// The nested stacks worth reading to find why `events`' stack failed: its
/// `AWS::CloudFormation::Stack` resources that failed during the attempt (at or after
/// `since`), by the stack ARN in their `PhysicalResourceId`, each once, in the order they
/// failed. A nested stack cancelled because a sibling failed is left out (its events only
/// say "cancelled"), and so is one whose physical id is not a stack ARN.
pub fn nested_stacks_to_follow(events: &[StackEvent], since: Timestamp) -> Vec<String> {
    let mut failed: Vec<&StackEvent> = events
        .iter()
        .filter(|event| {
            event.time >= since
                && event.resource_type == STACK_TYPE
                && !event.is_stack_itself()
                && event.failed()
                && !event
                    .reason
                    .as_deref()
                    .is_some_and(|reason| reason.trim_start().contains(" cancelled"))
        })
        .collect();
    failed.sort_by_key(|event| event.time);
    let mut seen = HashSet::new();
    failed
        .into_iter()
        .filter_map(|event| event.physical_id.as_deref())
        .filter(|arn| StackArn::parse(arn).is_some())
        .filter(|arn| seen.insert(*arn))
        .map(str::to_owned)
        .collect()
}

/// A stack's ARN, `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`,
/// in parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
    pub id: &'a str,
}

impl<'a> StackArn<'a> {
    /// The parts of a stack ARN, or `None` for anything else (another resource's ARN, a
    /// name, a truncated or empty text).
    pub fn parse(arn: &'a str) -> Option<StackArn<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("cloudformation"), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let resource = parts.next()?.strip_prefix("stack/")?;
        let (name, id) = resource.split_once('/')?;
        let valid = partition.starts_with("aws")
            && !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && is_stack_name(name)
            && !id.is_empty()
            && !id.contains('/');
        valid.then_some(StackArn {
            partition,
            region,
            account,
            name,
            id,
        })
    }
}

/// The name of the stack a stack ARN names, if `arn` is one.
pub fn stack_name_of_arn(arn: &str) -> Option<&str> {
    StackArn::parse(arn).map(|arn| arn.name)
}

/// Whether `name` is a CloudFormation stack name: 1–128 characters, letters, digits and
/// hyphens, starting with a letter.
pub fn is_stack_name(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests;
