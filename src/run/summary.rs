//! What a tick did: the summary returned to the invoker and logged as one JSON line, and
//! what one stack's processing adds to it.

use serde::Serialize;

/// Problems listed in a summary per kind (the counts are always whole).
const LISTED: usize = 100;

/// What a tick did, returned to the invoker and logged as one JSON line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub resources_checked: usize,
    /// Resources seen for the first time: a baseline was recorded, nothing was told.
    pub baselines: usize,
    pub transitions: Vec<TransitionSummary>,
    pub deliveries: DeliveryCounts,
    pub failures: Vec<ResourceProblem>,
    /// Resources left for a later tick: another run holds them, or time ran out.
    pub deferred: Vec<ResourceProblem>,
    /// Resources no longer found that have a record: it is kept until a TTL, and
    /// revived if they come back (they are also in `failures`).
    pub vanished: Vec<ResourceProblem>,
    pub state_writes: usize,
    /// `GetSyncBlockerSummary` calls made.
    pub blocker_checks: usize,
    /// Destinations paused for the rest of the tick, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paused: Vec<ResourceProblem>,
    /// How many failures and deferred stacks there were in all (the lists stop at 100).
    pub failure_count: usize,
    pub deferred_count: usize,
    /// Hub mode: how many of the failures are whole targets — an account whose role could
    /// not be assumed, an account and Region that could not be listed, the organization's
    /// account list — rather than single stacks (the `TargetFailures` metric).
    #[serde(skip_serializing_if = "is_zero")]
    pub target_failures: usize,
    /// Optional reads (ARCHITECTURE §13: blockers, stack events, tags) that failed, by API
    /// and kind of failure: what they would have added is unknown this tick. Not a stack
    /// failure: `check` still exits 0.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional_read_failures: Vec<OptionalReadFailure>,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Summary {
    /// Adds what one stack's processing did.
    pub(super) fn add(&mut self, resource: String, outcome: Outcome) {
        self.resources_checked += usize::from(outcome.checked);
        self.baselines += usize::from(outcome.baseline);
        self.transitions.extend(outcome.transitions);
        self.deliveries.delivered += outcome.deliveries.delivered;
        self.deliveries.retrying += outcome.deliveries.retrying;
        self.deliveries.refused += outcome.deliveries.refused;
        self.deliveries.expired += outcome.deliveries.expired;
        self.state_writes += outcome.writes;
        self.blocker_checks += outcome.blocker_checks;
        if let Some(reason) = outcome.failure {
            self.failure_count += 1;
            push_listed(&mut self.failures, resource.clone(), reason);
        }
        if let Some(reason) = outcome.deferred {
            self.deferred_count += 1;
            push_listed(&mut self.deferred, resource.clone(), reason);
        }
        if let Some(reason) = outcome.vanished {
            push_listed(&mut self.vanished, resource, reason);
        }
    }

    /// Counts an optional read that failed, with the first reason of its API and kind.
    pub(super) fn optional_read_failed(
        &mut self,
        api: &'static str,
        kind: String,
        reason: String,
        fix: String,
    ) {
        match self
            .optional_read_failures
            .iter_mut()
            .find(|failure| failure.api == api && failure.kind == kind)
        {
            Some(failure) => failure.count += 1,
            None => self.optional_read_failures.push(OptionalReadFailure {
                api,
                kind,
                count: 1,
                reason,
                fix,
            }),
        }
    }

    /// Stacks finish in any order; the summary lists them by name (a stable sort keeps
    /// each stack's notifications in their order).
    pub(super) fn sort(&mut self) {
        self.transitions.sort_by(|a, b| a.resource.cmp(&b.resource));
        for list in [&mut self.failures, &mut self.deferred, &mut self.vanished] {
            list.sort_by(|a, b| a.resource.cmp(&b.resource));
        }
        self.optional_read_failures
            .sort_by(|a, b| (a.api, &a.kind).cmp(&(b.api, &b.kind)));
    }

    /// Whether every stack was checked and every notification delivered: what `check`
    /// exits 0 on. A refusal counts against it: the destination will never have that
    /// message, and someone should look at why.
    pub fn is_clean(&self) -> bool {
        self.failure_count == 0
            && self.deliveries.retrying == 0
            && self.deliveries.refused == 0
            && self.deliveries.expired == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionSummary {
    pub resource: String,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub id: String,
    /// False when `NOTIFY_ON` leaves this kind out.
    pub notify: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryCounts {
    pub delivered: usize,
    /// Failed this time; kept pending for the next tick.
    pub retrying: usize,
    /// Refused for good by a destination (400/403/404/410).
    pub refused: usize,
    /// Undelivered for longer than the retention, and dropped.
    pub expired: usize,
}

/// One API's optional reads that failed in a tick, one kind of failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionalReadFailure {
    /// `GetSyncBlockerSummary`, `DescribeStackEvents`, `DescribeStacks`.
    pub api: &'static str,
    /// `access denied`, `throttled`, `timed out`…
    pub kind: String,
    /// How many stacks' reads failed so.
    pub count: usize,
    /// The first one's reason.
    pub reason: String,
    /// What to do about it.
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceProblem {
    pub resource: String,
    pub reason: String,
}

/// What happened to one stack in a tick.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) checked: bool,
    pub(super) baseline: bool,
    pub(super) transitions: Vec<TransitionSummary>,
    pub(super) deliveries: DeliveryCounts,
    pub(super) failure: Option<String>,
    pub(super) deferred: Option<String>,
    pub(super) vanished: Option<String>,
    pub(super) writes: usize,
    pub(super) blocker_checks: usize,
}

impl Outcome {
    /// A stack that could not be checked, and why.
    pub(super) fn failed(reason: String) -> Outcome {
        Outcome {
            failure: Some(reason),
            ..Outcome::default()
        }
    }
}

pub(super) fn push_listed(list: &mut Vec<ResourceProblem>, resource: String, reason: String) {
    if list.len() < LISTED {
        list.push(ResourceProblem { resource, reason });
    }
}
