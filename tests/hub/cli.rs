//! `sync-notifier check` as a hub: the same code as the function, run from a shell with
//! the `AWS_ENDPOINT_URL_*` variables pointing at loopback stand-ins.

use std::process::{Command, Output};

use sync_notifier::loopback::access_key_for;

use crate::support::*;

fn check(org: &Org, state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sync-notifier"))
        .arg("check")
        .args(args)
        .arg("--state")
        .arg(state)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", state.parent().unwrap())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", access_key_for(HUB))
        .env("AWS_SECRET_ACCESS_KEY", "hub-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_STS", org.apis.endpoint())
        .env(
            "AWS_ENDPOINT_URL_CODECONNECTIONS",
            org.codeconnections.endpoint_url(),
        )
        .env(
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            org.codeconnections.endpoint_url(),
        )
        .env("TARGET_ACCOUNTS", format!("{DEV},{PROD}"))
        .env("TARGET_REGIONS", "us-east-1,eu-west-1")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_takes_account_region_and_stack_in_hub_mode() {
    let org = Org::start(members(), fleet(LAYOUT, &[])).await;
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let org_ref = &org;
    let state_ref = state.clone();
    let output = tokio::task::block_in_place(|| {
        check(
            org_ref,
            &state_ref,
            &[
                "--resources",
                "333333333333/eu-west-1/prod-eu-2,222222222222/us-east-1/dev-api",
            ],
        )
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("checked 2"), "{stdout}");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("333333333333/eu-west-1/prod-eu-2"),
        "{saved}"
    );

    for (resource, expected) in [
        (
            "dev-api",
            "error: --resources: item 1 \"dev-api\" names no account and Region; an org-wide hub checks ACCOUNT/REGION/STACK, like 111122223333/us-east-1/dev-api",
        ),
        (
            "444444444444/us-east-1/dev-api",
            "error: --resources: item 1 \"444444444444/us-east-1/dev-api\": account 444444444444 in us-east-1 is not a target of this hub (TARGET_ACCOUNTS, TARGET_REGIONS)",
        ),
        (
            "222222222222/us-east-1",
            "error: --resources: item 1 \"222222222222/us-east-1\" is neither a stack name nor ACCOUNT/REGION/STACK (like 111122223333/us-east-1/payments-stack)",
        ),
    ] {
        let output =
            tokio::task::block_in_place(|| check(org_ref, &state_ref, &["--resources", resource]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "bad input: {stderr}");
        assert_eq!(stderr.trim(), expected);
    }
}
