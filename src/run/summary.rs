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
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Summary {
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

pub(super) fn push_listed(list: &mut Vec<ResourceProblem>, resource: String, reason: String) {
    if list.len() < LISTED {
        list.push(ResourceProblem { resource, reason });
    }
}
