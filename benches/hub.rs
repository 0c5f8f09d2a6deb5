//! Benchmark: one org-wide (hub) tick over a whole organization, measured on the real
//! binary in Lambda mode.
//!
//! The bench process hosts the loopback stand-ins — STS and Organizations, and one
//! CodeConnections endpoint serving every account × Region (each request answered from
//! the scenario of the account its credentials name and the Region it is signed for) —
//! each call answered after a fixed latency, and a loopback Lambda Runtime API. The
//! release binary runs as a child process with `TARGET_ACCOUNTS=*`, so its CPU time and
//! memory are its own. The hub's own account is one of the organization's (read with the
//! function's own credentials); every other one is read through its member role.
//!
//! Reported: init time, the wall time and CPU of the first tick (every account's role
//! assumed, every stack seen for the first time: its status, its blockers and a state
//! write) and of steady ticks (sessions kept, nothing changed), peak memory, and the
//! calls made: `AssumeRole`, `ListAccounts`, `GetCallerIdentity`, and CodeConnections by
//! operation.
//!
//! `cargo bench --bench hub` runs 100 accounts × 3 Regions × 10 stacks (3,000 stacks) at
//! 20 ms per call; under `cargo test` it runs a 3 × 2 × 2 smoke version so the bench never
//! rots.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
#[path = "../tests/support/mod.rs"]
mod shared;

use shared::{LoopbackRuntimeApi, OrgAccount, StsOrganizations, measured_invoke, usage};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, ScopeKey, access_key_for};
use sync_notifier::scenario::Scenario;

const LATENCY: Duration = Duration::from_millis(20);
/// The function's default `FETCH_CONCURRENCY`.
const CONCURRENCY: usize = 16;
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// Items per page of the CodeConnections list operations, and stacks per repository link:
/// each account and Region is listed in three calls (one page of links, a page of sync
/// configurations per link).
const PAGE_SIZE: usize = 50;
const STACKS_PER_LINK: usize = 5;

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (mut accounts, mut regions, mut stacks, steady_ticks) =
        if full { (100, 3, 10, 3) } else { (3, 2, 2, 1) };
    // Another shape, to compare: HUB_BENCH_SHAPE=1x1x3000 is the same number of stacks in
    // the hub's own account and Region alone (no role to assume).
    if let Ok(shape) = std::env::var("HUB_BENCH_SHAPE") {
        let parts: Vec<usize> = shape.split('x').filter_map(|n| n.parse().ok()).collect();
        let [a, r, s] = parts[..] else {
            panic!("HUB_BENCH_SHAPE is ACCOUNTSxREGIONSxSTACKS, like 100x3x10")
        };
        assert!(
            (1..=REGIONS.len()).contains(&r),
            "1 to {} Regions",
            REGIONS.len()
        );
        (accounts, regions, stacks) = (a, r, s);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(accounts, regions, stacks, steady_ticks));
}

fn account(index: usize) -> String {
    format!("{:012}", 100_000_000_000 + index)
}

/// The same ten stacks in every account and Region, every last sync succeeded.
fn scenario(stacks: usize) -> Scenario {
    let revision = |sha: &str| json!({"Branch": "main", "Directory": "stack.yaml", "OwnerId": "acme", "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha});
    let tick: serde_json::Map<String, Value> = (0..stacks)
        .map(|i| {
            let attempt = json!({
                "Events": [{"Event": "Stack update complete", "Time": 1795687300, "Type": "INFO"}],
                "InitialRevision": revision("1111111"), "StartedAt": 1795687200, "Status": "SUCCEEDED",
                "Target": format!("stack-{i:02}"), "TargetRevision": revision("2222222")
            });
            (format!("stack-{i:02}"), json!({"LatestSync": attempt.clone(), "LatestSuccessfulSync": attempt}))
        })
        .collect();
    Scenario::parse(&json!({"ticks": [tick]}).to_string()).unwrap()
}

const OPERATIONS: [&str; 4] = [
    "ListRepositoryLinks",
    "ListSyncConfigurations",
    "GetResourceSyncStatus",
    "GetSyncBlockerSummary",
];

async fn bench(accounts: usize, regions: usize, stacks: usize, steady_ticks: usize) {
    let total = accounts * regions * stacks;
    let hub = account(0);
    let organization: Vec<OrgAccount> = (0..accounts)
        .map(|index| OrgAccount::active(&account(index), &format!("team-{index}")))
        .collect();
    let apis = StsOrganizations::start(organization, "SyncNotifierReadRole", LATENCY)
        .await
        .unwrap();
    let one = scenario(stacks);
    let fleet: HashMap<ScopeKey, Scenario> = (0..accounts)
        .flat_map(|index| REGIONS[..regions].iter().map(move |region| (index, region)))
        .map(|(index, region)| ((account(index), region.to_string()), one.clone()))
        .collect();
    let options = LoopbackOptions {
        latency: LATENCY,
        page_size: PAGE_SIZE,
        stacks_per_link: STACKS_PER_LINK,
        ..LoopbackOptions::default()
    };
    let codeconnections = LoopbackCodeConnections::start_fleet(fleet, options)
        .await
        .unwrap();
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let scheduled: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scheduled-event.json"))
            .unwrap(),
    )
    .unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    runtime.lambda_environment(&mut command);
    let started = Instant::now();
    let mut child = command
        .env("AWS_ACCESS_KEY_ID", access_key_for(&hub))
        .env("AWS_ENDPOINT_URL_STS", apis.endpoint())
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", apis.endpoint())
        .env(
            "AWS_ENDPOINT_URL_CODECONNECTIONS",
            codeconnections.endpoint_url(),
        )
        .env(
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            codeconnections.endpoint_url(),
        )
        .env("TARGET_ACCOUNTS", "*")
        .env("TARGET_REGIONS", REGIONS[..regions].join(","))
        .env("FETCH_CONCURRENCY", CONCURRENCY.to_string())
        .env("STUCK_AFTER_MINUTES", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();

    let init = loop {
        if let Some(polled) = runtime.first_poll() {
            break polled - started;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };

    let calls = || {
        OPERATIONS
            .iter()
            .map(|operation| codeconnections.calls(operation))
            .collect::<Vec<_>>()
    };
    let tick = |label: &'static str| {
        measured_invoke(
            &runtime,
            pid,
            scheduled.clone(),
            Duration::from_secs(50),
            label,
        )
    };

    let (first_wall, first_cpu, first) = tick("first").await;
    assert_eq!(first["baselines"].as_u64(), Some(total as u64), "{first}");
    assert_eq!(first["failureCount"], 0, "{first}");
    let assumed_first = apis.assume_role_calls().len();
    let listed_first = apis.list_accounts_calls();
    let first_calls = calls();

    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..steady_ticks {
        let (wall, cpu, summary) = tick("steady").await;
        assert_eq!(
            summary["resourcesChecked"].as_u64(),
            Some(total as u64),
            "{summary}"
        );
        assert_eq!(summary["stateWrites"].as_u64(), Some(0), "{summary}");
        assert_eq!(summary["failureCount"], 0, "{summary}");
        walls.push(wall);
        cpus.push(cpu);
    }
    let steady_calls: Vec<usize> = calls()
        .iter()
        .zip(&first_calls)
        .map(|(after, before)| (after - before) / steady_ticks)
        .collect();
    let (_, peak_mib) = usage(pid);
    child.kill().ok();
    child.wait().ok();

    walls.sort();
    let median = walls[walls.len() / 2];
    let ideal = LATENCY * total as u32 / CONCURRENCY as u32;
    let cpu_per_tick = cpus.iter().sum::<f64>() / cpus.len() as f64;
    println!(
        "hub benchmark: {accounts} accounts × {regions} Regions × {stacks} stacks = {total} stacks, {} ms per call (CodeConnections, STS, Organizations), FETCH_CONCURRENCY {CONCURRENCY}, state in memory",
        LATENCY.as_millis()
    );
    println!(
        "  init (process start → ready)        {:>8.1} ms  (GetCallerIdentity calls: {})",
        init.as_secs_f64() * 1000.0,
        apis.caller_identity_calls()
    );
    println!(
        "  first tick (roles assumed, baselines) {:>6.0} ms  (CPU {:.2} s)",
        first_wall.as_secs_f64() * 1000.0,
        first_cpu
    );
    println!(
        "  steady tick, median of {steady_ticks}            {:>8.0} ms  (ideal for the status calls {:.0} ms, {:.2}×; CPU {cpu_per_tick:.2} s)",
        median.as_secs_f64() * 1000.0,
        ideal.as_secs_f64() * 1000.0,
        median.as_secs_f64() / ideal.as_secs_f64()
    );
    println!(
        "  AssumeRole calls, first tick          {assumed_first:>6}  (one per member account; the hub's own account uses its own credentials)"
    );
    println!(
        "  AssumeRole calls, steady ticks        {:>6}",
        apis.assume_role_calls().len() - assumed_first
    );
    println!(
        "  ListAccounts calls, first tick        {listed_first:>6}  (20 accounts a page); steady ticks {}",
        apis.list_accounts_calls() - listed_first
    );
    for ((operation, first), steady) in OPERATIONS.iter().zip(&first_calls).zip(&steady_calls) {
        println!("  {operation:<24} first {first:>6}, per steady tick {steady:>6}");
    }
    println!("  peak memory (VmHWM)                   {peak_mib:>6.1} MiB");

    assert_eq!(
        assumed_first,
        accounts - 1,
        "one AssumeRole per member account"
    );
    assert_eq!(
        apis.assume_role_calls().len(),
        assumed_first,
        "sessions kept across warm invocations"
    );
    assert_eq!(steady_calls[2], total, "one status call per stack per tick");
}
