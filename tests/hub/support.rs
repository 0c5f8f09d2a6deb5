//! An organization to test a hub against: its accounts, their read roles, and the Git
//! sync status of their stacks in each Region.

use std::collections::HashMap;

use serde_json::{Value, json};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, ScopeKey};
use sync_notifier::notify::{Clients, http_client};
use sync_notifier::run::{RunSettings, Runner, Scope, Summary, Tick};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::AnySource;
use sync_notifier::store::LocalStore;

pub use crate::shared::{OrgAccount, StsOrganizations, hub_sdk_config};

/// The hub's own account (the organization's management account here).
pub const HUB: &str = "111111111111";
pub const DEV: &str = "222222222222";
pub const PROD: &str = "333333333333";
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// When the first tick's attempts started, and the second tick's.
const FIRST: i64 = 1_795_687_200;
const SECOND: i64 = 1_795_690_800;

/// The stacks of each account and Region.
pub type Layout = &'static [(&'static str, &'static str, &'static [&'static str])];

/// Three accounts, two Regions; the hub's own account has a stack too.
pub const LAYOUT: Layout = &[
    (HUB, "us-east-1", &["hub-app"]),
    (DEV, "us-east-1", &["dev-api", "dev-web"]),
    (DEV, "eu-west-1", &["dev-eu"]),
    (PROD, "us-east-1", &["prod-api"]),
    (
        PROD,
        "eu-west-1",
        &["prod-eu-1", "prod-eu-2", "prod-eu-3", "prod-eu-4"],
    ),
];

/// The stacks of `LAYOUT`, as `ACCOUNT/REGION/STACK`.
pub fn keys(layout: Layout) -> Vec<String> {
    layout
        .iter()
        .flat_map(|(account, region, stacks)| {
            stacks
                .iter()
                .map(move |stack| format!("{account}/{region}/{stack}"))
        })
        .collect()
}

/// `GetResourceSyncStatus` of one stack: an attempt that started at `started_at`.
fn status(account: &str, region: &str, name: &str, started_at: i64, status: &str) -> Value {
    let revision = |sha: &str| json!({"Branch": "main", "Directory": format!("stacks/{name}.yaml"), "OwnerId": "acme", "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha});
    let mut events = vec![json!({"Event": "Sync started", "Time": started_at, "Type": "INFO"})];
    events.push(match status {
        "FAILED" => json!({
            "Event": "Resource handler returned message: \"bucket already exists\"",
            "ExternalId": format!("arn:aws:cloudformation:{region}:{account}:stack/{name}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            "Time": started_at + 60, "Type": "ERROR"}),
        _ => json!({
            "Event": "Stack update complete",
            "ExternalId": format!("arn:aws:cloudformation:{region}:{account}:stack/{name}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            "Time": started_at + 60, "Type": "INFO"}),
    });
    let attempt = |started_at: i64, status: &str, events: Vec<Value>| {
        json!({
            "Events": events, "InitialRevision": revision("1111111"), "StartedAt": started_at,
            "Status": status, "Target": name, "TargetRevision": revision(&format!("{started_at:x}"))
        })
    };
    let latest = attempt(started_at, status, events);
    let successful = match status {
        "SUCCEEDED" => latest.clone(),
        _ => attempt(FIRST, "SUCCEEDED", Vec::new()),
    };
    json!({"LatestSync": latest, "LatestSuccessfulSync": successful})
}

/// One scenario per account and Region of `layout`: in the first tick every stack's last
/// sync succeeded; in the second, the stacks named in `failing` have a new attempt that
/// failed, the rest are as they were.
pub fn fleet(layout: Layout, failing: &[&str]) -> HashMap<ScopeKey, Scenario> {
    layout
        .iter()
        .map(|(account, region, stacks)| {
            let tick = |at: i64, second: bool| {
                let mut tick = serde_json::Map::new();
                tick.insert("@now".into(), json!(at + 120));
                for stack in stacks.iter() {
                    let failed = second && failing.contains(stack);
                    let (started, outcome) = if failed {
                        (SECOND, "FAILED")
                    } else {
                        (FIRST, "SUCCEEDED")
                    };
                    tick.insert(
                        (*stack).into(),
                        status(account, region, stack, started, outcome),
                    );
                }
                Value::Object(tick)
            };
            let scenario = json!({"ticks": [tick(FIRST, false), tick(SECOND, true)]});
            (
                (account.to_string(), region.to_string()),
                Scenario::parse(&scenario.to_string()).unwrap(),
            )
        })
        .collect()
}

/// The accounts of the organization, every one active: the hub (management), dev, prod.
pub fn members() -> Vec<OrgAccount> {
    vec![
        OrgAccount::active(HUB, "management"),
        OrgAccount::active(DEV, "dev"),
        OrgAccount::active(PROD, "prod"),
    ]
}

/// An organization: STS and Organizations, and CodeConnections in every account and
/// Region of `fleet`.
pub struct Org {
    pub apis: StsOrganizations,
    pub codeconnections: LoopbackCodeConnections,
}

impl Org {
    pub async fn start(accounts: Vec<OrgAccount>, fleet: HashMap<ScopeKey, Scenario>) -> Org {
        Self::start_with(
            accounts,
            fleet,
            LoopbackOptions::default(),
            "SyncNotifierReadRole",
        )
        .await
    }

    pub async fn start_with(
        accounts: Vec<OrgAccount>,
        fleet: HashMap<ScopeKey, Scenario>,
        options: LoopbackOptions,
        role_name: &str,
    ) -> Org {
        Org {
            apis: StsOrganizations::start(accounts, role_name, std::time::Duration::ZERO)
                .await
                .unwrap(),
            codeconnections: LoopbackCodeConnections::start_fleet(fleet, options)
                .await
                .unwrap(),
        }
    }

    /// The hub's SDK configuration: signed as the hub account, every endpoint here.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        hub_sdk_config(
            HUB,
            self.apis.endpoint(),
            self.codeconnections.endpoint_url(),
        )
        .await
    }

    /// A hub configured by `variables`, built as the Lambda function builds it (state in
    /// memory).
    pub async fn runner(&self, variables: &[(&str, &str)]) -> Runner<AnySource, LocalStore> {
        let config = crate::shared::config(variables);
        let source = sync_notifier::source::connect(&self.sdk_config().await, &config)
            .await
            .unwrap();
        let destinations = config.build_destinations(&Clients::new(http_client()));
        Runner::new(
            source,
            LocalStore::in_memory(),
            destinations,
            RunSettings::from(&config),
        )
    }

    /// Runs tick `index` of the scenarios: every watched stack, as the schedule does.
    pub async fn tick(&self, runner: &Runner<AnySource, LocalStore>, index: usize) -> Summary {
        self.codeconnections.set_tick(index);
        runner
            .run(Tick {
                scope: Scope::Watched,
                deadline: None,
                now: self.codeconnections.now_of(index),
            })
            .await
            .unwrap()
    }
}

/// `(type, ACCOUNT/REGION/STACK)` of each transition told.
pub fn told(summary: &Summary) -> Vec<(String, String)> {
    let mut told: Vec<(String, String)> = summary
        .transitions
        .iter()
        .filter(|transition| transition.notify)
        .map(|transition| {
            (
                transition.event_type.to_owned(),
                transition.resource.clone(),
            )
        })
        .collect();
    told.sort();
    told
}
