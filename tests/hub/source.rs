//! The hub's status source through one tick after another: which accounts and Regions it
//! reads, with which credentials, how often it assumes roles, and what one failing
//! account, Region or organization listing does to the rest.

use sync_notifier::domain::{AccountId, Location, Region, ResourceName, StackRef};
use sync_notifier::loopback::LoopbackOptions;
use sync_notifier::source::StatusSource;
use sync_notifier::store::{Loaded, StateStore};

use crate::shared::Receiver;
use crate::support::*;

const BOTH_REGIONS: (&str, &str) = ("TARGET_REGIONS", "us-east-1,eu-west-1");

fn location(account: &str, region: &str) -> Location {
    Location {
        account: AccountId::parse(account).unwrap(),
        region: Region::parse(region).unwrap(),
    }
}

#[tokio::test]
async fn one_tick_reads_every_account_and_region_with_one_session_per_member_account() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    let runner = org
        .runner(&[
            ("TARGET_ACCOUNTS", &format!("{HUB},{DEV},{PROD}")),
            BOTH_REGIONS,
        ])
        .await;

    let summary = org.tick(&runner, 0).await;
    assert_eq!(summary.failure_count, 0, "{summary:?}");
    assert_eq!(summary.resources_checked, 9);
    assert_eq!(summary.baselines, 9);
    assert_eq!(summary.target_failures, 0);

    // State is kept under ACCOUNT/REGION/STACK.
    let keys = keys(LAYOUT);
    let loaded = runner.store().load(&keys).await.unwrap();
    for key in &keys {
        assert!(
            matches!(loaded.get(key), Some(Loaded::Found { .. })),
            "{key}: {:?}",
            loaded.get(key)
        );
    }

    // Each member account's read role, assumed once, for an hour, by the hub, through
    // STS in the hub's Region; the hub's own account is read with its own credentials.
    let calls = org.apis.assume_role_calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for account in [DEV, PROD] {
        let call = calls.iter().find(|call| call.account == account).unwrap();
        assert_eq!(
            call.role_arn,
            format!("arn:aws:iam::{account}:role/SyncNotifierReadRole")
        );
        assert_eq!(call.session_name, "sync-notifier");
        assert_eq!(call.duration_seconds, Some(3600));
        assert_eq!(call.caller, HUB);
        assert_eq!(call.signed_region, "us-east-1");
        assert!(call.granted);
    }
    assert_eq!(org.apis.assumed(HUB), 0);
    assert_eq!(org.apis.caller_identity_calls(), 1);
    assert_eq!(
        org.apis.list_accounts_calls(),
        0,
        "a list of accounts needs no Organizations permission"
    );

    // Every account and Region was listed with its own credentials, signed for its Region.
    for (account, region, _) in LAYOUT {
        assert!(
            org.codeconnections
                .calls_in(account, region, "ListRepositoryLinks")
                >= 1,
            "{account} {region}"
        );
    }
    assert_eq!(
        org.codeconnections
            .calls_in(HUB, "eu-west-1", "ListRepositoryLinks"),
        1,
        "an account and Region without stacks is listed too"
    );
}

#[tokio::test]
async fn every_account_and_region_is_read_over_one_shared_http_client() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    let runner = org
        .runner(&[
            ("TARGET_ACCOUNTS", &format!("{HUB},{DEV},{PROD}")),
            BOTH_REGIONS,
        ])
        .await;
    // One stack in each of the five accounts and Regions that have one, one after the
    // other: five SDK clients, three sets of credentials.
    for (account, region, stacks) in LAYOUT {
        let stack = StackRef::parse(&format!("{account}/{region}/{}", stacks[0])).unwrap();
        runner.source().fetch(&stack).await.unwrap();
    }
    assert_eq!(org.codeconnections.calls("GetResourceSyncStatus"), 5);
    // Clients with their own HTTP client would each open a connection (and in AWS, do a
    // TLS handshake); sharing one, each call reuses the connection the one before it left.
    assert_eq!(org.codeconnections.connections(), 1);
}

#[tokio::test]
async fn credentials_are_kept_across_ticks_so_each_role_is_assumed_once() {
    let org = Org::start(members(), fleet(LAYOUT, &["dev-api"])).await;
    let runner = org
        .runner(&[("TARGET_ACCOUNTS", &format!("{DEV},{PROD}")), BOTH_REGIONS])
        .await;
    for index in [0, 1, 1, 1] {
        let summary = org.tick(&runner, index).await;
        assert_eq!(summary.failure_count, 0, "{summary:?}");
    }
    assert_eq!(org.apis.assumed(DEV), 1);
    assert_eq!(org.apis.assumed(PROD), 1);
    assert_eq!(org.apis.caller_identity_calls(), 1, "once per cold start");
}

#[tokio::test]
async fn a_session_about_to_end_is_never_used_a_new_one_is_assumed() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    // STS grants the first session 30 seconds, less than the minute a session must still
    // have; the next ones an hour.
    org.apis
        .cap_next_sessions(1, std::time::Duration::from_secs(30));
    let runner = org.runner(&[("TARGET_ACCOUNTS", DEV)]).await;
    org.tick(&runner, 0).await;
    org.tick(&runner, 0).await;
    let issued: Vec<String> = org
        .apis
        .assume_role_calls()
        .into_iter()
        .filter_map(|call| call.session_token)
        .collect();
    // The first session, assumed when the account's readiness was checked, is already
    // about to end at the first call: a second is assumed, and kept for every call after.
    assert_eq!(issued.len(), 2, "{issued:?}");
    let used = org.codeconnections.session_tokens();
    assert!(!used.is_empty());
    assert!(
        used.iter().all(|token| *token == issued[1]),
        "only the second session is used, never the one about to end: {used:?}"
    );
}

#[tokio::test]
async fn an_account_whose_role_cannot_be_assumed_is_one_failure_and_the_others_go_on() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    org.apis.deny(DEV);
    let runner = org
        .runner(&[
            ("TARGET_ACCOUNTS", &format!("{HUB},{DEV},{PROD}")),
            BOTH_REGIONS,
        ])
        .await;

    let summary = org.tick(&runner, 0).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&summary.failures).unwrap()
    );
    assert_eq!(summary.failures.len(), 1, "{summary:?}");
    let failure = &summary.failures[0];
    assert_eq!(failure.resource, "account 222222222222");
    assert_eq!(
        failure.reason,
        "discovery failed: access denied: could not assume arn:aws:iam::222222222222:role/SyncNotifierReadRole (AccessDenied: User: arn:aws:sts::111111111111:assumed-role/sync-notifier-SyncNotifierFunctionRole-AbCdEf123456/sync-notifier is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/SyncNotifierReadRole); deploy templates/member-role.yaml in that account (or the member-role stack set) and check that its HubRoleArn is this function's role"
    );
    assert_eq!(summary.target_failures, 1);
    assert_eq!(summary.failure_count, 1);
    // Every other account and Region was checked.
    assert_eq!(summary.resources_checked, 6);
    // One attempt for the account, not one per Region; nothing read there.
    assert_eq!(org.apis.assumed(DEV), 1);
    for region in ["us-east-1", "eu-west-1"] {
        assert_eq!(
            org.codeconnections
                .calls_in(DEV, region, "ListRepositoryLinks"),
            0
        );
    }

    // Once the member role is deployed, the next tick reads the account.
    org.apis.allow(DEV);
    let summary = org.tick(&runner, 0).await;
    assert_eq!(summary.failure_count, 0, "{summary:?}");
    assert_eq!(summary.baselines, 3, "dev's three stacks, first seen now");
}

#[tokio::test]
async fn a_region_that_cannot_be_listed_is_one_failure_of_its_own() {
    let options = LoopbackOptions {
        denied_scopes: vec![(PROD.to_owned(), "eu-west-1".to_owned())],
        ..LoopbackOptions::default()
    };
    let org = Org::start_with(
        members(),
        fleet(LAYOUT, &[]),
        options,
        "SyncNotifierReadRole",
    )
    .await;
    let runner = org
        .runner(&[("TARGET_ACCOUNTS", &format!("{DEV},{PROD}")), BOTH_REGIONS])
        .await;
    let summary = org.tick(&runner, 0).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&summary.failures).unwrap()
    );
    assert_eq!(summary.failures.len(), 1, "{summary:?}");
    assert_eq!(
        summary.failures[0].resource,
        "account 333333333333 in eu-west-1"
    );
    assert!(
        summary.failures[0]
            .reason
            .starts_with("discovery failed: access denied: AccessDeniedException: User: arn:aws:sts::333333333333:assumed-role/SyncNotifierReadRole/sync-notifier is not authorized to perform: codeconnections:ListRepositoryLinks"),
        "{:?}",
        summary.failures[0]
    );
    assert!(
        summary.failures[0].reason.ends_with("; check that arn:aws:iam::333333333333:role/SyncNotifierReadRole (templates/member-role.yaml) allows codeconnections:ListRepositoryLinks, ListSyncConfigurations, GetResourceSyncStatus and GetSyncBlockerSummary and that no service control policy denies them in eu-west-1"),
        "the fix: {:?}",
        summary.failures[0]
    );
    assert_eq!(summary.target_failures, 1);
    // dev in both Regions and prod in us-east-1.
    assert_eq!(summary.resources_checked, 4);
}

fn organization() -> Vec<OrgAccount> {
    let mut accounts = members();
    accounts.push(OrgAccount::suspended("444444444444", "closed-team"));
    accounts.push(OrgAccount {
        state: Some("PENDING_CLOSURE".into()),
        status: None,
        ..OrgAccount::active("555555555555", "closing")
    });
    // After AWS retires Status, only State is left; before, only Status may say it.
    accounts.push(OrgAccount {
        state: None,
        status: Some("SUSPENDED".into()),
        ..OrgAccount::active("666666666666", "old-style")
    });
    accounts.push(OrgAccount {
        status: None,
        ..OrgAccount::active("777777777777", "new-style")
    });
    // Enough accounts (without stacks) for two pages of ListAccounts.
    for index in 0..20 {
        accounts.push(OrgAccount::active(
            &format!("9000000000{index:02}"),
            &format!("sandbox-{index}"),
        ));
    }
    accounts
}

#[tokio::test]
async fn a_star_watches_every_active_account_and_skips_suspended_ones() {
    let org = Org::start(organization(), fleet(LAYOUT, &[])).await;
    let runner = org.runner(&[("TARGET_ACCOUNTS", "*"), BOTH_REGIONS]).await;
    let summary = org.tick(&runner, 0).await;
    assert_eq!(summary.failure_count, 0, "{summary:?}");
    assert_eq!(summary.resources_checked, 9);
    assert_eq!(org.apis.list_accounts_calls(), 2, "every page");
    for skipped in ["444444444444", "555555555555", "666666666666"] {
        assert_eq!(org.apis.assumed(skipped), 0, "{skipped}");
    }
    assert_eq!(org.apis.assumed("777777777777"), 1);
    assert_eq!(org.apis.assumed("900000000019"), 1);
    assert_eq!(
        org.apis.assumed(HUB),
        0,
        "its own account, its own credentials"
    );

    // The list is kept for a while: the next tick lists nothing and assumes nothing.
    org.tick(&runner, 0).await;
    assert_eq!(org.apis.list_accounts_calls(), 2);
    assert_eq!(org.apis.assumed(DEV), 1);

    // Names from ListAccounts; a stack outside the targets is not one.
    let dev_api = StackRef {
        location: Some(location(DEV, "us-east-1")),
        name: ResourceName::parse("dev-api").unwrap(),
    };
    assert_eq!(
        runner.source().account_name(&dev_api).as_deref(),
        Some("dev")
    );
    assert!(runner.source().is_target(&location(DEV, "eu-west-1")).await);
    assert!(
        !runner
            .source()
            .is_target(&location("444444444444", "us-east-1"))
            .await
    );
    assert!(
        !runner
            .source()
            .is_target(&location(DEV, "ap-south-1"))
            .await
    );
}

#[tokio::test]
async fn an_organization_that_cannot_be_listed_is_one_failure_with_the_fix() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    org.apis.deny_list_accounts(true);
    let runner = org.runner(&[("TARGET_ACCOUNTS", "*")]).await;
    let summary = org.tick(&runner, 0).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&summary.failures).unwrap()
    );
    assert_eq!(summary.failures.len(), 1, "{summary:?}");
    assert_eq!(summary.failures[0].resource, "organization");
    assert_eq!(
        summary.failures[0].reason,
        "discovery failed: access denied: could not list the organization's accounts (AccessDeniedException: You don't have permissions to access this resource.); TARGET_ACCOUNTS=* works only in the organization's management account or a delegated administrator, with organizations:ListAccounts on the function's role; deploy the hub there, or list the account ids in TARGET_ACCOUNTS"
    );
    assert_eq!(summary.target_failures, 1);
    assert_eq!(summary.resources_checked, 0);

    // Listed again next tick.
    org.apis.deny_list_accounts(false);
    let summary = org.tick(&runner, 0).await;
    assert_eq!(summary.failure_count, 0, "{summary:?}");
    assert_eq!(summary.resources_checked, 4, "us-east-1, the hub's Region");
}

#[tokio::test]
async fn the_member_role_is_the_one_member_role_name_names() {
    let org = Org::start_with(
        members(),
        fleet(LAYOUT, &[]),
        LoopbackOptions::default(),
        "OpsReader",
    )
    .await;
    let runner = org
        .runner(&[("TARGET_ACCOUNTS", DEV), ("MEMBER_ROLE_NAME", "OpsReader")])
        .await;
    let summary = org.tick(&runner, 0).await;
    assert_eq!(summary.failure_count, 0, "{summary:?}");
    assert_eq!(summary.resources_checked, 2, "dev in us-east-1");
    let calls = org.apis.assume_role_calls();
    assert_eq!(
        calls[0].role_arn,
        "arn:aws:iam::222222222222:role/OpsReader"
    );
}

#[tokio::test]
async fn notifications_name_account_and_region_and_destinations_choose_by_them() {
    let dev_only = Receiver::start().await.unwrap();
    let europe_only = Receiver::start().await.unwrap();
    let everything = Receiver::start().await.unwrap();
    let slack = Receiver::start().await.unwrap();
    let destinations = serde_json::json!([
        {"type": "webhook", "url": dev_only.url(), "secret": SECRET, "accounts": ["2222*"]},
        {"type": "webhook", "url": europe_only.url(), "secret": SECRET, "regions": ["eu-*"]},
        {"type": "webhook", "url": everything.url(), "secret": SECRET},
    ]);
    let org = Org::start(members(), fleet(LAYOUT, &["dev-api", "prod-eu-2"])).await;
    let runner = org
        .runner(&[
            ("TARGET_ACCOUNTS", "*"),
            BOTH_REGIONS,
            ("DESTINATIONS", &destinations.to_string()),
            ("SLACK_WEBHOOK_URL", &slack.url()),
        ])
        .await;
    org.tick(&runner, 0).await;
    let summary = org.tick(&runner, 1).await;
    assert_eq!(
        told(&summary),
        [
            (
                "sync.failed".into(),
                "222222222222/us-east-1/dev-api".into()
            ),
            (
                "sync.failed".into(),
                "333333333333/eu-west-1/prod-eu-2".into()
            ),
        ]
    );

    let stacks = |receiver: &Receiver| {
        let mut stacks: Vec<String> = receiver
            .received()
            .iter()
            .map(|request| {
                request.json()["data"]["resourceName"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        stacks.sort();
        stacks
    };
    assert_eq!(stacks(&dev_only), ["dev-api"]);
    assert_eq!(stacks(&europe_only), ["prod-eu-2"]);
    assert_eq!(stacks(&everything), ["dev-api", "prod-eu-2"]);

    let body = everything
        .received()
        .iter()
        .map(|request| request.json())
        .find(|body| body["data"]["resourceName"] == "prod-eu-2")
        .unwrap();
    println!("{}", serde_json::to_string_pretty(&body["data"]).unwrap());
    assert_eq!(body["data"]["account"], PROD);
    assert_eq!(body["data"]["accountName"], "prod");
    assert_eq!(body["data"]["region"], "eu-west-1");
    let console = body["data"]["consoleUrl"].as_str().unwrap();
    assert!(
        console.starts_with(
            "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1"
        ),
        "the stack's own Region: {console}"
    );

    // Chat messages name the account (and its name) and the Region.
    let texts: Vec<String> = slack
        .received()
        .iter()
        .map(|request| request.json().to_string())
        .collect();
    let prod = texts
        .iter()
        .find(|text| text.contains("prod-eu-2"))
        .unwrap();
    assert!(prod.contains("prod (333333333333)"), "{prod}");
    assert!(prod.contains("eu-west-1"), "{prod}");
}

#[tokio::test]
async fn a_repository_link_is_listed_in_the_members_account_and_region() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    let runner = org
        .runner(&[("TARGET_ACCOUNTS", &format!("{DEV},{PROD}")), BOTH_REGIONS])
        .await;
    let prod_eu = location(PROD, "eu-west-1");
    let link = org
        .codeconnections
        .link_in(
            PROD,
            "eu-west-1",
            &ResourceName::parse("prod-eu-4").unwrap(),
        )
        .unwrap();
    let stacks = runner
        .source()
        .stacks_of_link(Some(&prod_eu), &link)
        .await
        .unwrap();
    let keys: Vec<String> = stacks.iter().map(StackRef::key).collect();
    assert_eq!(keys, ["333333333333/eu-west-1/prod-eu-4"]);
    assert_eq!(
        org.codeconnections
            .calls_in(PROD, "eu-west-1", "ListSyncConfigurations"),
        1
    );
}

#[tokio::test]
async fn stack_events_and_tags_are_read_in_the_stack_account_and_region_with_its_credentials() {
    // The loopback answers each call from the scenario of the account and Region it was
    // signed for: a call signed as the hub, or for another Region, finds no such stack.
    let scenario = |entries: serde_json::Value| {
        sync_notifier::scenario::Scenario::parse(
            &serde_json::json!({"ticks": [entries]}).to_string(),
        )
        .unwrap()
    };
    let status =
        serde_json::json!({"LatestSync": {"StartedAt": 1_795_687_200, "Status": "FAILED"}});
    let mut dev_eu = status.clone();
    dev_eu["@stackEvents"] = serde_json::json!([{
        "StackId": "arn:aws:cloudformation:eu-west-1:222222222222:stack/dev-eu/1", "EventId": "e1",
        "StackName": "dev-eu", "LogicalResourceId": "Bucket", "ResourceType": "AWS::S3::Bucket",
        "Timestamp": 1_795_687_260, "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "bucket name taken"
    }]);
    let mut prod = status.clone();
    prod["@tags"] = serde_json::json!({"team": "payments"});
    let fleet = std::collections::HashMap::from([
        (
            (DEV.to_owned(), "eu-west-1".to_owned()),
            scenario(serde_json::json!({"dev-eu": dev_eu})),
        ),
        (
            (PROD.to_owned(), "us-east-1".to_owned()),
            scenario(serde_json::json!({"prod-api": prod})),
        ),
    ]);
    let org = Org::start(members(), fleet).await;
    let runner = org
        .runner(&[("TARGET_ACCOUNTS", &format!("{DEV},{PROD}")), BOTH_REGIONS])
        .await;
    let source = runner.source();

    let stack = StackRef::parse(&format!("{DEV}/eu-west-1/dev-eu")).unwrap();
    let since = sync_notifier::domain::Timestamp::from_millis(1_795_687_200_000);
    let history = source.stack_history(&stack, since).await.unwrap();
    let cause = sync_notifier::domain::root_cause(&history).unwrap();
    assert_eq!(
        (cause.logical_id.as_str(), cause.reason.as_deref()),
        ("Bucket", Some("bucket name taken"))
    );

    let tags = source
        .stack_tags(Some(&location(PROD, "us-east-1")))
        .await
        .unwrap();
    assert_eq!(
        tags[&ResourceName::parse("prod-api").unwrap()],
        vec![("team".to_owned(), "payments".to_owned())]
    );
    assert!(
        source.stack_tags(None).await.is_err(),
        "a hub reads tags in an account and Region"
    );

    let calls = org.codeconnections.cloudformation();
    assert_eq!(
        (
            calls.calls("DescribeStackEvents"),
            calls.calls("DescribeStacks")
        ),
        (1, 1)
    );
    // Each member role assumed once, shared with that account's CodeConnections clients,
    // and every call over the one HTTP client's connection.
    source.fetch(&stack).await.unwrap_err();
    assert_eq!(org.apis.assumed(DEV), 1);
    assert_eq!(org.apis.assumed(PROD), 1);
    assert_eq!(org.codeconnections.connections(), 1);
}
