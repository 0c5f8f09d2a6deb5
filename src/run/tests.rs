//! The pipeline's order of work, with a status source written for the purpose.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::Notify;

use super::{RunSettings, Runner, Tick};
use crate::domain::samples::{attempt, status};
use crate::domain::{Blocker, Location, ResourceName, ResourceStatus, StackRef, SyncStatus};
use crate::source::{Discovered, SourceError, SourceErrorKind, StatusSource};
use crate::store::LocalStore;

fn stack(name: &str) -> StackRef {
    StackRef::local(ResourceName::parse(name).unwrap())
}

/// A fleet of stacks whose discovery a test holds back, fails or lets answer, whose
/// stacks can be changed or deleted between ticks, and which notes each status call.
#[derive(Default)]
struct Fleet {
    /// The configured stacks and their statuses, in discovery's order.
    stacks: std::sync::Mutex<Vec<(StackRef, ResourceStatus)>>,
    discovery: std::sync::Mutex<Discovery>,
    asked: std::sync::Mutex<Vec<StackRef>>,
    status_call: Notify,
}

#[derive(Debug, Default, Clone, Copy)]
enum Discovery {
    #[default]
    Answers,
    /// Answers once this many status calls were made.
    AfterStatusCalls(usize),
    /// A first page of one stack, and the rest once its status was asked for.
    SecondPageAfterFirstCall,
    Fails,
    /// Never answers.
    Hangs,
}

impl Fleet {
    fn with(stacks: &[(&str, ResourceStatus)]) -> Fleet {
        let fleet = Fleet::default();
        fleet.set(stacks);
        fleet
    }

    fn set(&self, stacks: &[(&str, ResourceStatus)]) {
        *self.stacks.lock().unwrap() = stacks
            .iter()
            .map(|(name, status)| (stack(name), status.clone()))
            .collect();
    }

    fn next_tick(&self, discovery: Discovery) {
        *self.discovery.lock().unwrap() = discovery;
        self.asked.lock().unwrap().clear();
    }

    fn asked(&self) -> Vec<StackRef> {
        self.asked.lock().unwrap().clone()
    }
}

impl StatusSource for Fleet {
    async fn fetch(&self, stack: &StackRef) -> Result<ResourceStatus, SourceError> {
        self.asked.lock().unwrap().push(stack.clone());
        self.status_call.notify_one();
        let stacks = self.stacks.lock().unwrap();
        match stacks.iter().find(|(known, _)| known == stack) {
            Some((_, status)) => Ok(status.clone()),
            None => Err(SourceError::new(
                SourceErrorKind::NotFound,
                "no sync configuration",
            )),
        }
    }

    async fn blockers(&self, _stack: &StackRef) -> Result<Vec<Blocker>, SourceError> {
        Ok(Vec::new())
    }

    fn discover(&self) -> BoxStream<'_, Discovered> {
        let discovery = *self.discovery.lock().unwrap();
        let found = |from: usize| -> Vec<Discovered> {
            let stacks = self.stacks.lock().unwrap();
            stacks
                .iter()
                .skip(from)
                .map(|(stack, _)| Discovered::Stack(stack.clone()))
                .collect()
        };
        let after_calls = move |calls: usize, from: usize| async move {
            while self.asked.lock().unwrap().len() < calls {
                self.status_call.notified().await;
            }
            found(from)
        };
        let pages: BoxStream<'_, Vec<Discovered>> = match discovery {
            Discovery::Answers => futures_util::stream::iter([found(0)]).boxed(),
            Discovery::AfterStatusCalls(calls) => {
                futures_util::stream::once(after_calls(calls, 0)).boxed()
            }
            Discovery::SecondPageAfterFirstCall => {
                let first: Vec<Discovered> = found(0).into_iter().take(1).collect();
                futures_util::stream::iter([first])
                    .chain(futures_util::stream::once(after_calls(1, 1)))
                    .boxed()
            }
            Discovery::Fails => futures_util::stream::iter([vec![Discovered::Failure {
                scope: "this account".into(),
                error: SourceError::new(SourceErrorKind::Throttled, "slow down"),
            }]])
            .boxed(),
            Discovery::Hangs => futures_util::stream::pending().boxed(),
        };
        pages.flat_map(futures_util::stream::iter).boxed()
    }

    async fn stacks_of_link(
        &self,
        _location: Option<&Location>,
        _link: &str,
    ) -> Result<Vec<StackRef>, SourceError> {
        Ok(Vec::new())
    }
}

fn succeeded(n: i64) -> ResourceStatus {
    let latest = attempt(n, SyncStatus::Succeeded);
    status(latest.clone(), Some(latest))
}

fn failed(n: i64) -> ResourceStatus {
    status(
        attempt(n, SyncStatus::Failed),
        Some(attempt(n - 1, SyncStatus::Succeeded)),
    )
}

fn runner(fleet: Fleet) -> Runner<Fleet, LocalStore> {
    let config = crate::config::Config::from_lookup(|_| None).unwrap();
    Runner::new(
        fleet,
        LocalStore::in_memory(),
        Vec::new(),
        RunSettings::from(&config),
    )
}

async fn tick(runner: &Runner<Fleet, LocalStore>) -> super::Summary {
    tokio::time::timeout(Duration::from_secs(10), runner.run(Tick::watched()))
        .await
        .expect("the tick did not finish")
        .unwrap()
}

/// A pipeline that waited for more stacks (a full batch, or the end of discovery) before
/// its first status call would never finish.
#[tokio::test]
async fn status_calls_start_with_the_first_discovery_page() {
    let runner = runner(Fleet::with(&[
        ("first-page", succeeded(1)),
        ("second-page", succeeded(1)),
    ]));
    runner
        .source()
        .next_tick(Discovery::SecondPageAfterFirstCall);
    let summary = tick(&runner).await;
    assert_eq!(runner.source().asked().len(), 2);
    assert_eq!(summary.resources_checked, 2, "{summary:?}");
}

#[tokio::test]
async fn a_warm_tick_asks_for_the_stacks_found_last_time_before_discovery_answers() {
    let runner = runner(Fleet::with(&[("a", succeeded(1)), ("b", succeeded(1))]));
    assert_eq!(tick(&runner).await.baselines, 2);
    // Discovery answers only once both status calls were made: a tick that waited for
    // it would never finish.
    runner.source().next_tick(Discovery::AfterStatusCalls(2));
    let summary = tick(&runner).await;
    assert_eq!(summary.resources_checked, 2, "{summary:?}");
    assert_eq!(summary.failure_count, 0, "{summary:?}");
}

#[tokio::test]
async fn a_stack_discovery_no_longer_finds_is_not_checked_though_it_was_guessed() {
    let runner = runner(Fleet::with(&[("a", succeeded(1)), ("b", succeeded(1))]));
    tick(&runner).await;
    // b's sync configuration is deleted: its status call now finds nothing, which a check
    // would report as a failure and a vanished stack.
    runner.source().set(&[("a", succeeded(1))]);
    runner.source().next_tick(Discovery::AfterStatusCalls(2));
    let summary = tick(&runner).await;
    assert!(
        runner.source().asked().contains(&stack("b")),
        "b was guessed"
    );
    assert_eq!(summary.resources_checked, 1, "{summary:?}");
    assert_eq!(summary.failure_count, 0, "{summary:?}");
    assert!(summary.vanished.is_empty(), "{summary:?}");
}

#[tokio::test]
async fn a_failed_discovery_decides_nothing_on_a_guess_and_loses_nothing() {
    let runner = runner(Fleet::with(&[("a", succeeded(1))]));
    tick(&runner).await;
    runner.source().set(&[("a", failed(2))]);
    runner.source().next_tick(Discovery::Fails);
    let error = runner.run(Tick::watched()).await.unwrap_err();
    assert!(matches!(error, super::RunError::Discovery(_)), "{error}");
    assert!(
        runner.source().asked().contains(&stack("a")),
        "a was guessed"
    );
    // The failure was neither told nor recorded on the guess: the next tick finds it.
    runner.source().next_tick(Discovery::Answers);
    let summary = tick(&runner).await;
    assert_eq!(summary.transitions.len(), 1, "{summary:?}");
    assert_eq!(summary.transitions[0].resource, "a");
}

#[tokio::test]
async fn a_guess_left_waiting_at_the_deadline_is_not_deferred() {
    let runner = runner(Fleet::with(&[("a", succeeded(1)), ("b", succeeded(1))]));
    tick(&runner).await;
    runner.source().next_tick(Discovery::Hangs);
    let summary = runner
        .run(Tick {
            deadline: Some(tokio::time::Instant::now() + Duration::from_secs(1)),
            ..Tick::watched()
        })
        .await
        .unwrap();
    assert_eq!(runner.source().asked().len(), 2, "both were guessed");
    let deferred: Vec<&str> = summary
        .deferred
        .iter()
        .map(|problem| problem.resource.as_str())
        .collect();
    assert_eq!(deferred, ["*"], "{summary:?}");
    assert!(super::lock(&runner.deferred).is_empty());
}
