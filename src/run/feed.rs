//! The tick's feed: how discovered stacks become batches.
//!
//! Discovery runs ahead of the status calls, into a bounded queue (so a slow page never
//! waits for a batch to finish, and a fast discovery never holds more than a few batches
//! in memory). Batches are cut from that queue by one rule:
//!
//! - a full batch ([`BATCH`] stacks, one state read) as soon as there is one;
//! - fewer, as soon as the status-call slots would otherwise sit idle: when fewer stacks
//!   wait for a slot than there are slots. So the first page's stacks are called at once
//!   instead of waiting for a hundred (a hundred repository links of one stack each
//!   would otherwise mean a hundred discovery calls before the first status call);
//! - the last stacks, when discovery has ended.
//!
//! A warm tick does not wait for discovery's first answers at all: the first stacks the
//! previous tick found are guessed to be there still, and their status calls start at
//! once ([`Unconfirmed`]). Discovery takes two round trips before it names a stack
//! (`ListRepositoryLinks`, then `ListSyncConfigurations`), time in which every status
//! call slot would otherwise sit idle.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;

use futures_util::Stream;
use tokio::sync::Notify;
use tokio::sync::mpsc::Receiver;

use super::{BATCH, lock};
use crate::domain::StackRef;

/// Stacks handed to the pipeline that have not started their status call yet: a batch
/// adds its stacks, each status call takes one away when it gets its slot.
#[derive(Debug, Default)]
pub(super) struct Waiting(AtomicUsize);

impl Waiting {
    pub(super) fn started(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn added(&self, count: usize) {
        self.0.fetch_add(count, Ordering::Relaxed);
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Stacks a tick started on before discovery found them again: each one, once its status
/// and record are in, waits until discovery names it ([`Unconfirmed::confirmed`]), and
/// is dropped unchecked if discovery ends without it. So a guess decides nothing: a stack
/// whose sync configuration was deleted is never checked, exactly as without the guess.
#[derive(Debug, Default)]
pub(super) struct Unconfirmed {
    stacks: Mutex<HashSet<StackRef>>,
    /// Discovery has ended: whatever is still unconfirmed is gone.
    ended: AtomicBool,
    changed: Notify,
}

impl Unconfirmed {
    pub(super) fn new(stacks: impl IntoIterator<Item = StackRef>) -> Unconfirmed {
        Unconfirmed {
            stacks: Mutex::new(stacks.into_iter().collect()),
            ..Unconfirmed::default()
        }
    }

    /// Discovery found `stack`. True when it was guessed, so it is already on its way.
    pub(super) fn confirm(&self, stack: &StackRef) -> bool {
        let removed = lock(&self.stacks).remove(stack);
        if removed {
            self.changed.notify_waiters();
        }
        removed
    }

    /// Discovery has ended (every page, or its first failure).
    pub(super) fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Whether `stack` was guessed and discovery has not named it (yet).
    pub(super) fn holds(&self, stack: &StackRef) -> bool {
        lock(&self.stacks).contains(stack)
    }

    /// Whether `stack` may be checked: at once if it was never guessed or is confirmed;
    /// a guess waits for discovery to name it (true) or to end without it (false).
    pub(super) async fn confirmed(&self, stack: &StackRef) -> bool {
        loop {
            // Registered before looking, so a confirmation in between is not missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if !self.holds(stack) {
                return true;
            }
            if self.ended.load(Ordering::Acquire) {
                return false;
            }
            changed.await;
        }
    }
}

/// Batches of the stacks `discovered` sends, by the rule above; `slots` is the number
/// of status calls allowed in flight. Ends when the sender is dropped and every stack was
/// handed over.
pub(super) fn batches(
    mut discovered: Receiver<StackRef>,
    waiting: &Waiting,
    slots: usize,
) -> impl Stream<Item = Vec<StackRef>> + Send + '_ {
    let mut next: Vec<StackRef> = Vec::with_capacity(BATCH);
    let mut open = true;
    futures_util::stream::poll_fn(move |cx| {
        while open && next.len() < BATCH {
            let room = BATCH - next.len();
            match discovered.poll_recv_many(cx, &mut next, room) {
                Poll::Ready(0) => open = false,
                Poll::Ready(_) => {}
                Poll::Pending => break,
            }
        }
        let idle_slots = waiting.count() < slots;
        if next.len() >= BATCH || (!next.is_empty() && (!open || idle_slots)) {
            let batch = std::mem::replace(&mut next, Vec::with_capacity(BATCH));
            waiting.added(batch.len());
            return Poll::Ready(Some(batch));
        }
        // Pending only with the queue's waker registered: a new stack, or the end of
        // discovery, wakes the tick (and the tick is polled again whenever a status call
        // answers, which is when the slots may run short).
        if open {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    })
}

#[cfg(test)]
mod tests {
    use futures_util::{FutureExt, StreamExt};
    use tokio::sync::mpsc::channel;

    use super::*;

    fn stacks(range: std::ops::Range<usize>) -> Vec<StackRef> {
        range
            .map(|i| {
                StackRef::local(crate::domain::ResourceName::parse(&format!("stack-{i}")).unwrap())
            })
            .collect()
    }

    async fn send(sender: &tokio::sync::mpsc::Sender<StackRef>, stacks: Vec<StackRef>) {
        for stack in stacks {
            sender.send(stack).await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_first_page_is_a_batch_at_once_when_no_status_call_is_waiting() {
        let (sender, receiver) = channel(300);
        let waiting = Waiting::default();
        let mut batches = std::pin::pin!(batches(receiver, &waiting, 16));
        send(&sender, stacks(0..50)).await;
        let first = batches.next().now_or_never().flatten().expect("a batch");
        assert_eq!(first, stacks(0..50));
        assert_eq!(waiting.count(), 50);
    }

    #[tokio::test]
    async fn while_the_slots_are_busy_stacks_wait_for_a_full_batch() {
        let (sender, receiver) = channel(300);
        let waiting = Waiting::default();
        waiting.added(40);
        let mut batches = std::pin::pin!(batches(receiver, &waiting, 16));
        send(&sender, stacks(0..50)).await;
        assert!(
            batches.next().now_or_never().is_none(),
            "half a batch waits"
        );
        send(&sender, stacks(50..120)).await;
        let full = batches
            .next()
            .now_or_never()
            .flatten()
            .expect("a full batch");
        assert_eq!(full, stacks(0..100));
        assert!(batches.next().now_or_never().is_none(), "20 wait");
        // Calls start until fewer stacks wait than there are slots: the 20 go.
        for _ in 0..125 {
            waiting.started();
        }
        assert_eq!(waiting.count(), 15);
        let rest = batches.next().now_or_never().flatten().expect("the rest");
        assert_eq!(rest, stacks(100..120));
    }

    #[tokio::test]
    async fn the_last_stacks_go_when_discovery_ends_and_no_batch_is_over_the_limit() {
        let (sender, receiver) = channel(300);
        let waiting = Waiting::default();
        waiting.added(1000);
        let mut batches = std::pin::pin!(batches(receiver, &waiting, 16));
        send(&sender, stacks(0..250)).await;
        drop(sender);
        let sizes: Vec<usize> = batches.by_ref().map(|batch| batch.len()).collect().await;
        assert_eq!(sizes, [100, 100, 50]);
    }

    #[tokio::test]
    async fn a_guess_waits_for_discovery_to_name_it() {
        let unconfirmed = Unconfirmed::new(stacks(0..2));
        let guess = stacks(0..1).remove(0);
        let mut waiting = std::pin::pin!(unconfirmed.confirmed(&guess));
        assert!(waiting.as_mut().now_or_never().is_none(), "not named yet");
        assert!(
            !unconfirmed.confirm(&stacks(5..6).remove(0)),
            "never guessed"
        );
        assert!(
            waiting.as_mut().now_or_never().is_none(),
            "another stack named"
        );
        assert!(unconfirmed.confirm(&guess));
        assert!(waiting.await);
        assert!(!unconfirmed.confirm(&guess), "named once");
        // A stack that was never guessed goes at once.
        assert!(unconfirmed.confirmed(&stacks(7..8).remove(0)).await);
    }

    #[tokio::test]
    async fn a_guess_discovery_ends_without_is_dropped() {
        let unconfirmed = Unconfirmed::new(stacks(0..2));
        let gone = stacks(1..2).remove(0);
        let mut waiting = std::pin::pin!(unconfirmed.confirmed(&gone));
        assert!(waiting.as_mut().now_or_never().is_none());
        assert!(unconfirmed.confirm(&stacks(0..1).remove(0)));
        assert!(waiting.as_mut().now_or_never().is_none(), "still a guess");
        unconfirmed.end();
        assert!(!waiting.await);
        assert!(unconfirmed.holds(&gone));
    }

    #[tokio::test]
    async fn an_empty_discovery_ends_with_no_batch() {
        let (sender, receiver) = channel::<StackRef>(300);
        let waiting = Waiting::default();
        drop(sender);
        let mut batches = std::pin::pin!(batches(receiver, &waiting, 16));
        assert_eq!(batches.next().await, None);
    }
}
