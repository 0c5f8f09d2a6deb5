//! [`Digest`]: the state of the whole fleet in one message (ARCHITECTURE §16), built from
//! the state store alone.

use super::{StackRef, Timestamp};

/// Stacks by their latest state, those that need someone, and the last 24 hours' syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// When it was made.
    pub at: Timestamp,
    /// How many stacks it covers.
    pub stacks: usize,
    pub counts: DigestCounts,
    /// The stacks failed, blocked or stuck, the longest-standing first.
    pub attention: Vec<Attention>,
    pub last_24h: Last24h,
}

/// Stacks by their latest state (`data.counts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestCounts {
    pub succeeded: usize,
    pub failed: usize,
    pub running: usize,
    pub blocked: usize,
    pub stuck: usize,
}

/// A stack someone should look at (`data.attention[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    pub stack: StackRef,
    pub state: AttentionState,
    /// Since when it is so.
    pub since: Timestamp,
    /// Why, when the failure's root cause is known: its one line.
    pub root_cause: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionState {
    Failed,
    Blocked,
    Stuck,
}

impl AttentionState {
    /// `failed`, `blocked`, `stuck`.
    pub fn word(self) -> &'static str {
        match self {
            AttentionState::Failed => "failed",
            AttentionState::Blocked => "blocked",
            AttentionState::Stuck => "stuck",
        }
    }
}

/// The syncs that ended in the last 24 hours (`data.last24h`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Last24h {
    pub succeeded: usize,
    pub failed: usize,
    /// The median duration of those that ended, in seconds.
    pub median_seconds: Option<i64>,
    /// The slowest of them.
    pub slowest: Option<Slowest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slowest {
    pub stack: StackRef,
    pub seconds: i64,
}
