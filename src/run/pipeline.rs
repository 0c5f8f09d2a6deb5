//! The tick's pipeline: which stacks, in which batches, and each stack's status call and
//! state read side by side, so a tick runs at the pace of its slowest dependency rather
//! than the sum of them.

use std::collections::HashSet;

use futures_util::stream::{BoxStream, FuturesUnordered};
use futures_util::{FutureExt, Stream, StreamExt};

use super::summary::Outcome;
use super::tick::TickState;
use super::{BATCH, BATCHES_IN_FLIGHT, Runner, Scope, feed, lock};
use crate::config::Watch;
use crate::domain::{ResourceStatus, StackRef};
use crate::source::{Discovered, SourceError, StatusSource};
use crate::store::{Loaded, StateStore};

impl<S: StatusSource, T: StateStore> Runner<S, T> {
    /// The stacks `scope` asks for, each once: first those the last tick left unfinished,
    /// then the stacks named (a manual check, an event), `WATCH_RESOURCES`, or what
    /// discovery finds as it finds it (the first [`BATCH`] remembered for the next tick's
    /// guesses). A scope discovery could not list is said in the summary.
    pub(super) fn stacks<'a>(
        &'a self,
        state: &'a TickState<'_>,
        scope: Scope,
        first: Vec<StackRef>,
        mut seen: HashSet<StackRef>,
    ) -> impl Stream<Item = StackRef> + Send + 'a {
        let named: BoxStream<'_, Discovered> = match (scope, &self.settings.watch) {
            (Scope::Stacks(stacks), _) => {
                futures_util::stream::iter(stacks.into_iter().map(Discovered::Stack)).boxed()
            }
            (Scope::Watched, Watch::Resources(names)) => futures_util::stream::iter(
                names
                    .iter()
                    .cloned()
                    .map(|name| Discovered::Stack(StackRef::local(name))),
            )
            .boxed(),
            (Scope::Watched, Watch::Discover) => {
                let mut remembered = 0;
                self.source
                    .discover()
                    .inspect(move |found| {
                        if let Discovered::Stack(stack) = found
                            && remembered < BATCH
                        {
                            remembered += 1;
                            lock(&self.first_found).push(stack.clone());
                        }
                    })
                    .boxed()
            }
        };
        futures_util::stream::iter(first.into_iter().map(Discovered::Stack))
            .chain(named)
            .filter_map(move |found| {
                let keep = match found {
                    // A guess discovery names is already on its way.
                    Discovered::Stack(stack) if state.unconfirmed.confirm(&stack) => None,
                    // A stack named twice in one tick is checked once.
                    Discovered::Stack(stack) => seen.insert(stack.clone()).then_some(stack),
                    Discovered::Failure { scope, error } => {
                        state.discovery_failed(scope, error);
                        None
                    }
                };
                std::future::ready(keep)
            })
    }

    /// Checks every stack of `stacks`: discovery runs ahead into a bounded queue, batches
    /// are cut from it (`feed.rs`), and a warm tick's guesses are a batch of their own
    /// beside the feed's: however late discovery names them, they never hold up the
    /// batches that let it go on.
    pub(super) async fn pipeline(
        &self,
        state: &TickState<'_>,
        stacks: impl Stream<Item = StackRef> + Send,
        guessed: Vec<StackRef>,
    ) {
        let (queue, discovered) = tokio::sync::mpsc::channel(BATCH * BATCHES_IN_FLIGHT);
        let discovery = async {
            futures_util::pin_mut!(stacks);
            while let Some(stack) = stacks.next().await {
                if queue.send(stack).await.is_err() {
                    break;
                }
            }
            // Dropping the sender is what tells the feed that discovery has ended.
            drop(queue);
            state.unconfirmed.end();
        };
        let checks = feed::batches(discovered, &state.waiting, state.slots)
            .map(|batch| self.batch(state, batch))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .for_each(|()| std::future::ready(()));
        state.waiting.added(guessed.len());
        let guesses = async {
            if !guessed.is_empty() {
                self.batch(state, guessed).await;
            }
        };
        futures_util::future::join3(discovery, checks, guesses).await;
    }

    /// One batch: its state read alongside its status calls, then each stack decided
    /// and delivered as soon as both are in.
    async fn batch(&self, state: &TickState<'_>, stacks: Vec<StackRef>) {
        let keys: Vec<String> = stacks.iter().map(StackRef::key).collect();
        state.started(&stacks);
        // Each status call's future (the SDK's, some 20 KB) is boxed when its slot is
        // free, so the batch's waiting stacks hold a few bytes each, not a call's state.
        let mut fetches: FuturesUnordered<_> = stacks
            .into_iter()
            .map(|stack| async move {
                let permit = state.permits.acquire().await;
                state.waiting.started();
                let status = match permit {
                    Ok(_permit) if !state.near_deadline() => {
                        Some(Box::pin(self.source.fetch(&stack)).await)
                    }
                    _ => None,
                };
                (stack, status)
            })
            .collect();

        let load = self.store.load(&keys).fuse();
        futures_util::pin_mut!(load);
        let mut early = Vec::new();
        let loaded = loop {
            tokio::select! {
                loaded = &mut load => break loaded,
                Some(done) = fetches.next() => early.push(done),
            }
        };
        let mut loaded = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::error!(%error, "could not read the state of a batch of stacks");
                let reason = error.to_string();
                state.store_failed(error);
                let mut rest: Vec<StackRef> = early.into_iter().map(|(stack, _)| stack).collect();
                while let Some((stack, _)) = fetches.next().await {
                    rest.push(stack);
                }
                for stack in rest {
                    state.record(&stack, Outcome::failed(reason.clone()));
                }
                return;
            }
        };

        let mut processing = FuturesUnordered::new();
        let mut start = |stack: StackRef, status: Option<Result<ResourceStatus, SourceError>>| {
            let record = loaded.remove(&stack.key()).unwrap_or(Loaded::Missing);
            self.check(state, stack, status, record)
        };
        for (stack, status) in early {
            processing.push(start(stack, status));
        }
        loop {
            tokio::select! {
                Some((stack, status)) = fetches.next() => processing.push(start(stack, status)),
                Some(()) = processing.next() => {}
                else => break,
            }
        }
    }

    /// One stack whose status call and record are in: a guess waits for discovery to name
    /// it; near the deadline it is left for the next tick; otherwise it is processed.
    async fn check(
        &self,
        state: &TickState<'_>,
        stack: StackRef,
        status: Option<Result<ResourceStatus, SourceError>>,
        record: Loaded,
    ) {
        if !state.unconfirmed.confirmed(&stack).await {
            // A guess discovery did not find: not watched (any more), not checked.
            state.record(&stack, Outcome::default());
            return;
        }
        let outcome = match status {
            Some(status) if !state.near_deadline() => {
                Box::pin(self.process(state, &stack, status, record)).await
            }
            _ => Outcome {
                deferred: Some(
                    "the invocation is about to time out; left for the next tick".into(),
                ),
                ..Outcome::default()
            },
        };
        state.record(&stack, outcome);
    }
}
