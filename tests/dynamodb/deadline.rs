//! A tick cut at its deadline hands its stacks back at once: the claims it still holds are
//! released (ARCHITECTURE §7), so the next tick, in any process, delivers what is left
//! without waiting for the lease to lapse. Through the real DynamoDB client and server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sync_notifier::domain::ledger::ResourceRecord;
use sync_notifier::run::Runner;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::{
    DestinationState, DynamoStore, Loaded, SaveError, StateStore, StoreError,
};

use super::support::{Receivers, Server, codeconnections, name, scenario, settings, story};

/// A store whose first write after a claim (the one recording a delivery) never ends,
/// as a write on its way when the invocation's deadline comes; every other write goes
/// through.
struct RecordingHangs {
    inner: DynamoStore,
    leased_writes: AtomicUsize,
}

impl StateStore for RecordingHangs {
    async fn load(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Loaded>, StoreError> {
        self.inner.load(keys).await
    }

    async fn load_destinations(&self) -> Result<DestinationState, StoreError> {
        self.inner.load_destinations().await
    }

    async fn save_destinations(&self, state: &DestinationState) -> Result<u64, SaveError> {
        self.inner.save_destinations(state).await
    }

    async fn save(
        &self,
        key: &str,
        expected: Option<u64>,
        record: &ResourceRecord,
    ) -> Result<u64, SaveError> {
        // Writes after the claim: the first one hangs.
        let claimed = self.leased_writes.load(Ordering::SeqCst) > 0;
        if claimed && self.leased_writes.fetch_add(1, Ordering::SeqCst) == 1 {
            std::future::pending::<()>().await;
        }
        if record.lease.is_some() && !claimed {
            self.leased_writes.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.save(key, expected, record).await
    }
}

#[tokio::test]
async fn a_tick_cut_at_its_deadline_releases_its_claims_and_the_next_delivers_at_once() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (answers, _) = story("app-stack", 0);
    let endpoint = codeconnections(scenario(vec![
        vec![("app-stack".to_owned(), answers[0].clone())],
        vec![("app-stack".to_owned(), answers[1].clone())],
    ]))
    .await;
    let receivers = Receivers::start().await;
    let names = [name("app-stack")];
    // A lease far longer than the test: a claim left behind would hold the stack.
    let mut long_lease = settings(&names);
    long_lease.policy.lease = Duration::from_secs(3600);
    let source = || {
        CodeConnectionsSource::new(sync_notifier::loopback::loopback_client(
            endpoint.endpoint_url(),
        ))
    };
    let cut = Runner::new(
        source(),
        RecordingHangs {
            inner: server.store(&table).0,
            leased_writes: AtomicUsize::new(0),
        },
        receivers.destinations(),
        long_lease.clone(),
    );
    cut.tick(None, None).await.unwrap(); // the baseline

    // The started notification is delivered to both destinations; recording it never
    // ends, and the tick is cut at its deadline (two seconds away).
    endpoint.set_tick(1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let summary = cut.tick(None, Some(deadline)).await.unwrap();
    assert_eq!(summary.deferred_count, 1, "{summary:?}");
    let Loaded::Found { record, .. } =
        server.store(&table).0.load(&names).await.unwrap()[&names[0]].clone()
    else {
        panic!("no record")
    };
    assert_eq!(record.lease, None, "the claim is released at the cut");

    // Another process, at once: nothing held, nothing to wait for.
    let next = Runner::new(
        source(),
        server.store(&table).0,
        receivers.destinations(),
        long_lease,
    );
    let after = next.tick(None, None).await.unwrap();
    assert_eq!(after.deferred_count, 0, "{after:?}");
    assert!(after.failures.is_empty(), "{after:?}");
    // Each destination has the notification; a repeat is only of what was on its way
    // (its recording), with the same id.
    let ids = receivers.webhook_ids();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| *id == ids[0]),
        "{ids:?}"
    );
    assert!(!receivers.slack_texts().is_empty());
    let Loaded::Found { record, .. } =
        server.store(&table).0.load(&names).await.unwrap()[&names[0]].clone()
    else {
        panic!("no record")
    };
    assert!(record.pending.is_empty(), "{:?}", record.pending);
    assert_eq!(record.lease, None);
}

#[tokio::test]
async fn in_lambda_an_invocation_cut_by_a_slow_destination_leaves_no_claim_in_the_table() {
    use super::shared::{Answer, LoopbackRuntimeApi, Receiver, Reply};
    let server = Server::start().await;
    let table = server.create_table().await;
    let endpoint = sync_notifier::loopback::LoopbackCodeConnections::start(
        super::shared::one_ends_and_the_next_starts(),
        sync_notifier::loopback::LoopbackOptions::default(),
    )
    .await
    .unwrap();
    let webhook = Receiver::start().await.unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    runtime
        .lambda_environment(&mut command)
        .env("AWS_ENDPOINT_URL_CODECONNECTIONS", endpoint.endpoint_url())
        .env("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.endpoint_url())
        .env("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint())
        .env("STATE_TABLE", &table)
        .env("STUCK_AFTER_MINUTES", "0")
        .env("LEASE_SECONDS", "600")
        .env("WEBHOOK_URL", webhook.url())
        .env("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut function = command.spawn().unwrap();
    let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "region": "us-east-1", "detail": {}, "id": "x",
        "version": "0", "time": "2026-11-26T10:00:00Z", "resources": []});
    let Some(Answer::Response(_)) = runtime.invoke(scheduled.clone()).await else {
        panic!("the baseline")
    };

    // Each request takes 1.5 s and the invocation has 3 s: the second of the stack's two
    // notifications is on its way when requests must end.
    endpoint.set_tick(1);
    webhook.reply([
        Reply::status(200).after(Duration::from_millis(1500)),
        Reply::status(200).after(Duration::from_millis(1500)),
    ]);
    let cut = runtime
        .invoke_within(scheduled.clone(), Duration::from_secs(3))
        .await
        .expect("an answer");
    let Answer::Response(cut) = cut else {
        panic!("not an answer before the deadline: {cut:?}")
    };
    assert_eq!(cut["deliveries"]["delivered"], 1, "{cut}");
    let names = [name("app-stack")];
    let Loaded::Found { record, .. } =
        server.store(&table).0.load(&names).await.unwrap()[&names[0]].clone()
    else {
        panic!("no record")
    };
    assert_eq!(record.lease, None, "released before the answer");
    assert_eq!(
        record.in_doubt.len(),
        1,
        "the request on its way is in doubt"
    );

    let Some(Answer::Response(next)) = runtime.invoke(scheduled).await else {
        panic!("the next invocation")
    };
    assert_eq!(next["deliveries"]["delivered"], 1, "{next}");
    function.kill().ok();
    function.wait().ok();
    let arrived = webhook.arrived();
    let ids: Vec<&str> = arrived
        .iter()
        .map(|request| request.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(
        ids[1], ids[2],
        "only the request in doubt is repeated, with its id"
    );
    assert_ne!(ids[0], ids[1]);
}
