//! The pipeline's order of work, with a status source written for the purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::Notify;

use super::{RunSettings, Runner, Tick};
use crate::domain::{Blocker, Location, ResourceName, ResourceStatus, StackRef};
use crate::source::{Discovered, SourceError, SourceErrorKind, StatusSource};
use crate::store::LocalStore;

fn stack(name: &str) -> StackRef {
    StackRef::local(ResourceName::parse(name).unwrap())
}

/// Discovery that finds one stack, and finds the second only once the first one's status
/// was asked for: a pipeline that waited for more stacks (a full batch, or the end of
/// discovery) before its first status call would never finish.
#[derive(Default)]
struct SecondPageAfterFirstCall {
    first_called: Notify,
    calls: AtomicUsize,
}

impl StatusSource for SecondPageAfterFirstCall {
    async fn fetch(&self, _stack: &StackRef) -> Result<ResourceStatus, SourceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.first_called.notify_one();
        Err(SourceError::new(
            SourceErrorKind::Unavailable,
            "not needed here",
        ))
    }

    async fn blockers(&self, _stack: &StackRef) -> Result<Vec<Blocker>, SourceError> {
        Ok(Vec::new())
    }

    fn discover(&self) -> BoxStream<'_, Discovered> {
        let first = futures_util::stream::iter([Discovered::Stack(stack("first-page"))]);
        let second = futures_util::stream::once(async {
            self.first_called.notified().await;
            Discovered::Stack(stack("second-page"))
        });
        first.chain(second).boxed()
    }

    async fn stacks_of_link(
        &self,
        _location: Option<&Location>,
        _link: &str,
    ) -> Result<Vec<StackRef>, SourceError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn status_calls_start_with_the_first_discovery_page() {
    let config = crate::config::Config::from_lookup(|_| None).unwrap();
    let runner = Runner::new(
        SecondPageAfterFirstCall::default(),
        LocalStore::in_memory(),
        Vec::new(),
        RunSettings::from(&config),
    );
    let summary = tokio::time::timeout(Duration::from_secs(10), runner.run(Tick::watched()))
        .await
        .expect("the first stack's status call did not wait for the second page")
        .unwrap();
    assert_eq!(runner.source().calls.load(Ordering::SeqCst), 2);
    assert_eq!(summary.failure_count, 2, "{summary:?}");
}
