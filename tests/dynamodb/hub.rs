//! A hub's state in DynamoDB: items keyed `ACCOUNT/REGION/STACK` next to a single
//! account's items (whose keys never change), and two hub sandboxes sharing the table
//! telling each notification once. Git sync status comes from a loopback CodeConnections
//! per account and Region, credentials from a loopback STS, through the real SDK clients.

use std::collections::HashMap;

use sync_notifier::domain::NotificationKind;
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions};
use sync_notifier::run::{RunSettings, Runner, Scope, Tick};
use sync_notifier::source::AnySource;
use sync_notifier::store::{DynamoStore, KEY, StateStore};

use super::shared::{OrgAccount, StsOrganizations, hub_sdk_config};
use super::support::{Attempt, Receivers, Server, name, record, scenario, status};

const HUB: &str = "111111111111";
const DEV: &str = "222222222222";

#[tokio::test]
async fn hub_items_are_keyed_by_account_region_and_stack_beside_single_account_items() {
    let server = Server::start().await;
    let table = server.create_table().await;
    // An item a single-account deployment wrote to this table before.
    let (store, _) = server.store(&table);
    let old = Attempt::new(1_795_600_000, "SUCCEEDED", "0a0a0a0");
    store
        .save(
            &name("payments-stack"),
            None,
            &record("payments-stack", &old, 0),
        )
        .await
        .unwrap();

    let first = Attempt::new(1_795_680_000, "SUCCEEDED", "a1a1a1a");
    let failed = Attempt::new(1_795_683_600, "FAILED", "b2b2b2b");
    let fleet = HashMap::from([
        (
            (DEV.to_owned(), "eu-west-1".to_owned()),
            scenario(vec![
                vec![("app".to_owned(), status("app", &first, Some(&first)))],
                vec![("app".to_owned(), status("app", &failed, Some(&first)))],
            ]),
        ),
        (
            (HUB.to_owned(), "us-east-1".to_owned()),
            scenario(vec![vec![(
                "app".to_owned(),
                status("app", &first, Some(&first)),
            )]]),
        ),
    ]);
    let codeconnections = LoopbackCodeConnections::start_fleet(fleet, LoopbackOptions::default())
        .await
        .unwrap();
    let sts = StsOrganizations::start(
        vec![OrgAccount::active(DEV, "dev")],
        "SyncNotifierReadRole",
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    let receivers = Receivers::start().await;
    let vars = HashMap::from([
        ("TARGET_ACCOUNTS", format!("{HUB},{DEV}")),
        ("TARGET_REGIONS", "us-east-1,eu-west-1".to_owned()),
        ("STUCK_AFTER_MINUTES", "0".to_owned()),
    ]);
    let config = sync_notifier::config::Config::from_lookup(|key| vars.get(key).cloned()).unwrap();
    let sdk_config = hub_sdk_config(HUB, sts.endpoint(), codeconnections.endpoint_url()).await;
    // Two sandboxes of the same hub, each with its own clients.
    let mut runners = Vec::new();
    for _ in 0..2 {
        let source = sync_notifier::source::connect(&sdk_config, &config)
            .await
            .unwrap();
        let (store, _) = server.store(&table);
        runners.push(Runner::<AnySource, DynamoStore>::new(
            source,
            store,
            receivers.destinations(),
            RunSettings::from(&config),
        ));
    }
    async fn tick(runner: &Runner<AnySource, DynamoStore>) -> sync_notifier::run::Summary {
        runner
            .run(Tick {
                scope: Scope::Watched,
                deadline: None,
                now: None,
            })
            .await
            .unwrap()
    }

    let summary = tick(&runners[0]).await;
    assert_eq!(summary.baselines, 2, "{summary:?}");
    for key in ["222222222222/eu-west-1/app", "111111111111/us-east-1/app"] {
        let item = server.raw_item(&table, key).await;
        assert!(item.is_some(), "{key}");
        assert_eq!(item.unwrap()[KEY].as_s().unwrap(), key);
    }
    assert!(
        server.raw_item(&table, "app").await.is_none(),
        "never under the bare name"
    );

    // Both sandboxes see dev's failure at once: it is told once.
    codeconnections.set_tick(1);
    let (a, b) = tokio::join!(tick(&runners[0]), tick(&runners[1]));
    let told: usize = [&a, &b]
        .iter()
        .flat_map(|summary| &summary.transitions)
        .filter(|transition| transition.notify)
        .count();
    assert_eq!(told, 1, "{a:?} {b:?}");
    assert_eq!(receivers.webhook.received().len(), 1);
    let body = receivers.webhook.received()[0].json();
    assert_eq!(body["type"], NotificationKind::Failed.event_type());
    assert_eq!(body["data"]["account"], DEV);
    assert_eq!(body["data"]["region"], "eu-west-1");

    // The single-account item is untouched.
    let loaded = store.load(&[name("payments-stack")]).await.unwrap();
    assert!(
        matches!(
            loaded[&name("payments-stack")],
            sync_notifier::store::Loaded::Found { version: 1, .. }
        ),
        "{loaded:?}"
    );
    assert_eq!(sts.assumed(DEV), 2, "one session per sandbox");
}
