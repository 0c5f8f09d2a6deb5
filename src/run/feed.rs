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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use futures_util::Stream;
use tokio::sync::mpsc::Receiver;

use super::BATCH;
use crate::domain::StackRef;

/// Stacks handed to the pipeline that have not started their status call yet: a batch
/// adds its stacks, each status call takes one away when it gets its slot.
#[derive(Debug, Default)]
pub(super) struct Waiting(AtomicUsize);

impl Waiting {
    pub(super) fn started(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    fn added(&self, count: usize) {
        self.0.fetch_add(count, Ordering::Relaxed);
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
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
    async fn an_empty_discovery_ends_with_no_batch() {
        let (sender, receiver) = channel::<StackRef>(300);
        let waiting = Waiting::default();
        drop(sender);
        let mut batches = std::pin::pin!(batches(receiver, &waiting, 16));
        assert_eq!(batches.next().await, None);
    }
}
