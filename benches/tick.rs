//! Benchmark: one tick over many discovered stacks, measured on the real release binary.
//!
//! The bench process hosts a loopback CodeConnections endpoint (a fixed latency per call,
//! stacks spread over repository links and pages as discovery finds them) and a loopback
//! Lambda Runtime API; the binary runs as a child process, so its CPU time and memory are
//! its own. It reports:
//!
//! 1. Lambda mode over 1,000 stacks, state in memory and then in DynamoDB (a dynoxide
//!    server in the bench process, reached over HTTP through the real SDK client): init
//!    time, the baseline tick, steady ticks against the ideal
//!    `(max(⌈N / concurrency⌉, discovery pages) + 1) × latency`, CPU, peak memory, and the
//!    calls of a steady tick (status, discovery, blockers, DynamoDB);
//! 2. the same with 10 stacks failed (blockers are read every tick for those);
//! 3. a steady tick over 10,000 stacks with state in DynamoDB: wall time and peak memory;
//! 4. `check --state FILE`: the CPU of a baseline of 1,000 and of 3,000 stacks (the local
//!    store writes its file once per tick, so this grows linearly);
//! 5. blocker reads per tick over an hour of one-minute ticks (the library's runner on the
//!    tick's own clock, no latency): the hourly sweep, spread, plus every failed stack.
//!
//! `cargo bench --bench tick` runs all of it; under `cargo test` it runs a small smoke
//! version of each part so the bench never rots.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
#[path = "../tests/support/mod.rs"]
mod shared;

use shared::{LoopbackRuntimeApi, measured_invoke, usage};
use sync_notifier::domain::Timestamp;
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions, loopback_client};
use sync_notifier::run::{RunSettings, Runner, Tick};
use sync_notifier::scenario::Scenario;
use sync_notifier::source::CodeConnectionsSource;
use sync_notifier::store::LocalStore;

const LATENCY: Duration = Duration::from_millis(20);
const CONCURRENCY: usize = 16;
/// Stacks per repository link, and items per discovery page (AWS's maximum page).
const STACKS_PER_LINK: usize = 50;
const PAGE_SIZE: usize = 100;

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let scale = |full_size: usize, smoke: usize| if full { full_size } else { smoke };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let steady_ticks = scale(5, 1);
        lambda_tick(scale(1000, 20), 0, steady_ticks, None).await;
        let dynamodb = LocalDynamo::start().await;
        lambda_tick(scale(1000, 20), 0, steady_ticks, Some(&dynamodb)).await;
        let dynamodb = LocalDynamo::start().await;
        lambda_tick(scale(1000, 20), 10, steady_ticks, Some(&dynamodb)).await;
        let dynamodb = LocalDynamo::start().await;
        lambda_tick(scale(10_000, 40), 0, scale(2, 1), Some(&dynamodb)).await;
        local_store_baselines(&[scale(1000, 10), scale(3000, 30)]).await;
        hourly_blocker_reads(scale(1000, 60), if full { 60 } else { 3 }).await;
    });
}

/// A scenario of `stacks` healthy stacks (the first `failed` of them failed), one tick.
fn scenario(stacks: usize, failed: usize) -> Scenario {
    let revision = |sha: &str| json!({"Branch": "main", "Directory": "stack.yaml", "OwnerId": "acme", "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha});
    let tick: serde_json::Map<String, Value> = (0..stacks)
        .map(|i| {
            let attempt = |status: &str| json!({
                "Events": [{"Event": "Stack update complete", "Time": 1795687300, "Type": "INFO"}],
                "InitialRevision": revision("1111111"), "StartedAt": 1795687200, "Status": status,
                "Target": format!("stack-{i:05}"), "TargetRevision": revision("2222222")
            });
            let latest = attempt(if i < failed { "FAILED" } else { "SUCCEEDED" });
            (
                format!("stack-{i:05}"),
                json!({"LatestSync": latest, "LatestSuccessfulSync": attempt("SUCCEEDED")}),
            )
        })
        .collect();
    Scenario::parse(&json!({"ticks": [tick]}).to_string()).unwrap()
}

async fn loopback(stacks: usize, failed: usize, latency: Duration) -> LoopbackCodeConnections {
    let options = LoopbackOptions {
        latency,
        page_size: PAGE_SIZE,
        stacks_per_link: STACKS_PER_LINK,
        ..LoopbackOptions::default()
    };
    LoopbackCodeConnections::start(scenario(stacks, failed), options)
        .await
        .unwrap()
}

/// Discovery's calls for `stacks`: the pages of links, then each link's pages.
fn discovery_pages(stacks: usize) -> usize {
    let links = stacks.div_ceil(STACKS_PER_LINK);
    let per_link = STACKS_PER_LINK.min(stacks).div_ceil(PAGE_SIZE).max(1);
    links.div_ceil(PAGE_SIZE).max(1) + links * per_link
}

/// The binary to measure: this build's, or another one to compare the two in the same run
/// of the bench (`SYNC_NOTIFIER_BENCH_BINARY`, CONTRIBUTING.md).
fn binary() -> std::ffi::OsString {
    std::env::var_os("SYNC_NOTIFIER_BENCH_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_sync-notifier").into())
}

/// What this harness allows at best: the same `GetResourceSyncStatus` calls, through the
/// same SDK client and endpoint, `CONCURRENCY` in flight on one thread as in the function,
/// and nothing else (no discovery, no state, no decisions). Median of `rounds`. The gap
/// between it and the ideal is the harness's and the SDK's: the stand-in's answers leave
/// a little late when many are due at once (20.2 ms after the request at the median,
/// 23–30 ms at the 99th percentile, measured here), and every answer costs the client CPU,
/// so answers that arrive together are turned into new requests one after another.
fn bare_client(endpoint: &str, stacks: usize, rounds: usize) -> Duration {
    use aws_sdk_codeconnections::types::SyncConfigurationType;
    let endpoint = endpoint.to_owned();
    on_own_thread(move || async move {
        let client = loopback_client(&endpoint);
        let mut walls = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            futures_util::stream::iter(0..stacks)
                .map(|i| {
                    let call = client
                        .get_resource_sync_status()
                        .resource_name(format!("stack-{i:05}"))
                        .sync_type(SyncConfigurationType::CfnStackSync);
                    async move { call.send().await.unwrap() }
                })
                .buffer_unordered(CONCURRENCY)
                .for_each(|_| std::future::ready(()))
                .await;
            walls.push(started.elapsed());
        }
        walls.sort();
        walls[walls.len() / 2]
    })
    .join()
    .unwrap()
}

/// Runs `work` on a thread of its own, in a single-threaded runtime: what it does neither
/// waits for the bench's other tasks nor delays them.
fn on_own_thread<Fut>(
    work: impl FnOnce() -> Fut + Send + 'static,
) -> std::thread::JoinHandle<Fut::Output>
where
    Fut: std::future::Future,
    Fut::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work())
    })
}

/// Every call the loopback endpoint answered, by operation.
fn codeconnections_calls(endpoint: &LoopbackCodeConnections) -> [usize; 4] {
    [
        "GetResourceSyncStatus",
        "ListRepositoryLinks",
        "ListSyncConfigurations",
        "GetSyncBlockerSummary",
    ]
    .map(|operation| endpoint.calls(operation))
}

async fn lambda_tick(
    stacks: usize,
    failed: usize,
    steady_ticks: usize,
    dynamodb: Option<&LocalDynamo>,
) {
    let codeconnections = loopback(stacks, failed, LATENCY).await;
    let runtime = LoopbackRuntimeApi::start().await.unwrap();
    let scheduled: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scheduled-event.json"))
            .unwrap(),
    )
    .unwrap();

    let mut command = Command::new(binary());
    runtime.lambda_environment(&mut command);
    if let Some(dynamodb) = dynamodb {
        command
            .env("STATE_TABLE", dynamodb.table)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &dynamodb.endpoint);
    }
    let started = Instant::now();
    let mut child = command
        .env(
            "AWS_ENDPOINT_URL_CODECONNECTIONS",
            codeconnections.endpoint_url(),
        )
        .env(
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            codeconnections.endpoint_url(),
        )
        .env_remove("WATCH_RESOURCES")
        .env("FETCH_CONCURRENCY", CONCURRENCY.to_string())
        .env("SCHEDULE_EXPRESSION", "rate(1 minute)")
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
    let (init_cpu, init_peak_mib) = usage(pid);

    // Lambda's longest timeout, so a 10,000-stack baseline is measured whole.
    let tick = |label: &'static str| {
        measured_invoke(
            &runtime,
            pid,
            scheduled.clone(),
            Duration::from_secs(900),
            label,
        )
    };

    let (baseline_wall, baseline_cpu, baseline) = tick("baseline").await;
    let (_, baseline_peak_mib) = usage(pid);
    // From here on the kernel's peak (VmHWM) is the steady ticks' own: writing 5 to
    // clear_refs sets it back to what the process holds now (the allocator keeps what the
    // baseline freed, so that is the floor of any later peak).
    let steady_peak_measured = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    assert_eq!(
        baseline["baselines"].as_u64(),
        Some(stacks as u64),
        "{baseline}"
    );
    let calls_before = codeconnections_calls(&codeconnections);
    let state_before = dynamodb.map(LocalDynamo::all_calls);
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..steady_ticks {
        let (wall, cpu, summary) = tick("steady").await;
        assert_eq!(summary["stateWrites"].as_u64(), Some(0), "{summary}");
        assert_eq!(summary["failures"].as_array().map(Vec::len), Some(0));
        assert_eq!(summary["deferred"].as_array().map(Vec::len), Some(0));
        walls.push(wall);
        cpus.push(cpu);
    }
    let after = codeconnections_calls(&codeconnections);
    let [status, links, configurations, blockers] =
        std::array::from_fn(|i| (after[i] - calls_before[i]) / steady_ticks);
    let state_calls: Option<Vec<(String, usize)>> =
        dynamodb.zip(state_before).map(|(d, before)| {
            let mut calls: Vec<(String, usize)> = d
                .all_calls()
                .into_iter()
                .map(|(operation, count)| {
                    let earlier = before.get(&operation).copied().unwrap_or(0);
                    (operation, (count - earlier) / steady_ticks)
                })
                .filter(|(_, count)| *count > 0)
                .collect();
            calls.sort();
            calls
        });
    let (_, steady_peak_mib) = usage(pid);
    child.kill().ok();
    child.wait().ok();

    walls.sort();
    let median = walls[walls.len() / 2];
    let pages = discovery_pages(stacks);
    let ideal = LATENCY * (stacks.div_ceil(CONCURRENCY).max(pages) + 1) as u32;
    let cpu_per_tick = cpus.iter().sum::<f64>() / cpus.len() as f64;
    let store = match dynamodb {
        Some(_) => "state in DynamoDB (local server)",
        None => "state in memory",
    };
    println!(
        "tick: {stacks} discovered stacks ({failed} failed), {} ms per call, concurrency {CONCURRENCY}, {store}",
        LATENCY.as_millis()
    );
    println!(
        "  init (process start → ready)        {:>8.1} ms  (CPU {:.2} s, {init_peak_mib:.1} MiB)",
        init.as_secs_f64() * 1000.0,
        init_cpu
    );
    println!(
        "  baseline tick                       {:>8.0} ms  (CPU {:.2} s)",
        baseline_wall.as_secs_f64() * 1000.0,
        baseline_cpu
    );
    println!(
        "  steady tick, median of {steady_ticks}            {:>8.0} ms  (ideal {:.0} ms, {:.2}×)",
        median.as_secs_f64() * 1000.0,
        ideal.as_secs_f64() * 1000.0,
        median.as_secs_f64() / ideal.as_secs_f64()
    );
    if dynamodb.is_some() && failed == 0 && stacks <= 1000 {
        let floor = bare_client(codeconnections.endpoint_url(), stacks, steady_ticks);
        println!(
            "  floor: the same status calls alone   {:>8.0} ms  ({:.2}× of the ideal; the tick is {:.2}× of it)",
            floor.as_secs_f64() * 1000.0,
            floor.as_secs_f64() / ideal.as_secs_f64(),
            median.as_secs_f64() / floor.as_secs_f64()
        );
    }
    println!(
        "  CPU per steady tick                 {cpu_per_tick:>8.2} s  (/proc, 10 ms resolution)"
    );
    println!(
        "  peak memory (VmHWM), whole process  {:>8.1} MiB  (the baseline tick's: {baseline_peak_mib:.1} MiB)",
        baseline_peak_mib.max(steady_peak_mib)
    );
    if steady_peak_measured {
        println!("  peak memory during steady ticks     {steady_peak_mib:>8.1} MiB");
    }
    println!(
        "  calls per steady tick: {status} GetResourceSyncStatus, {links} ListRepositoryLinks, \
         {configurations} ListSyncConfigurations, {blockers} GetSyncBlockerSummary"
    );
    if let Some(calls) = &state_calls {
        let listed: Vec<String> = calls
            .iter()
            .map(|(operation, count)| format!("{count} {operation}"))
            .collect();
        println!("  DynamoDB calls per steady tick: {}", listed.join(", "));
        let reads = calls
            .iter()
            .find(|(operation, _)| operation == "BatchGetItem")
            .map_or(0, |(_, count)| *count);
        // Full batches of 100, and a short one where the status calls would otherwise
        // wait (the first discovery page) or at the end.
        let full = stacks.div_ceil(sync_notifier::run::BATCH);
        assert!(
            (full..=full + sync_notifier::run::BATCHES_IN_FLIGHT).contains(&reads),
            "⌈N/100⌉ state reads and a few short batches: {reads}"
        );
        assert!(
            calls
                .iter()
                .all(|(operation, _)| operation == "BatchGetItem"),
            "only reads when nothing changed: {calls:?}"
        );
    }
    assert_eq!(status, stacks, "exactly one status call per stack per tick");
    assert_eq!(links + configurations, pages, "discovery pages");
    assert!(
        blockers >= failed,
        "every failed stack's blockers every tick"
    );
}

/// `check --state FILE` over `sizes` discovered stacks: the CPU of the baseline, which
/// writes every stack's record.
async fn local_store_baselines(sizes: &[usize]) {
    let mut measured = Vec::new();
    for &stacks in sizes {
        let codeconnections = loopback(stacks, 0, Duration::ZERO).await;
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(binary());
        command
            .env_clear()
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env(
                "AWS_ENDPOINT_URL_CODECONNECTIONS",
                codeconnections.endpoint_url(),
            )
            .env(
                "AWS_ENDPOINT_URL_CLOUDFORMATION",
                codeconnections.endpoint_url(),
            )
            .args(["check", "--format", "json", "--state"])
            .arg(dir.path().join("state.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let before = children_cpu();
        let begun = Instant::now();
        let status = tokio::task::spawn_blocking(move || command.status().unwrap())
            .await
            .unwrap();
        let wall = begun.elapsed();
        let cpu = children_cpu() - before;
        assert!(status.success(), "check over {stacks} stacks: {status}");
        let size = std::fs::metadata(dir.path().join("state.json"))
            .unwrap()
            .len();
        println!(
            "check --state FILE, baseline of {stacks} stacks: CPU {cpu:.2} s, wall {:.0} ms, file {:.1} MiB",
            wall.as_secs_f64() * 1000.0,
            size as f64 / 1_048_576.0
        );
        measured.push(cpu);
    }
    if let [small, large] = measured[..] {
        println!(
            "  CPU ratio {}→{} stacks: {:.1}× (linear would be {:.1}×)",
            sizes[0],
            sizes[1],
            large / small.max(0.001),
            sizes[1] as f64 / sizes[0] as f64
        );
    }
}

/// Blocker reads per tick over `minutes` one-minute ticks after a baseline: steady, and
/// with 10 stacks failed.
async fn hourly_blocker_reads(stacks: usize, minutes: i64) {
    for failed in [0, 10.min(stacks)] {
        let codeconnections = loopback(stacks, failed, Duration::ZERO).await;
        let runner = Runner::new(
            CodeConnectionsSource::new(loopback_client(codeconnections.endpoint_url())),
            LocalStore::in_memory(),
            Vec::new(),
            RunSettings {
                first_sweep_window: RunSettings::first_sweep_window(Some(Duration::from_secs(60))),
                fetch_concurrency: CONCURRENCY,
                ..RunSettings::from(&sync_notifier::config::Config::from_lookup(|_| None).unwrap())
            },
        );
        let t0: i64 = 1_795_687_200;
        let tick = |minute: i64| Tick {
            now: Some(Timestamp::from_millis((t0 + minute * 60) * 1000)),
            ..Tick::watched()
        };
        runner.run(tick(0)).await.unwrap();
        let mut reads = Vec::new();
        for minute in 1..=minutes {
            let before = codeconnections.calls("GetSyncBlockerSummary");
            runner.run(tick(minute)).await.unwrap();
            reads.push(codeconnections.calls("GetSyncBlockerSummary") - before);
        }
        let total: usize = reads.iter().sum();
        println!(
            "GetSyncBlockerSummary per one-minute tick over {stacks} stacks, {failed} failed: \
             mean {:.1}, max {} ({total} in {minutes} ticks)",
            total as f64 / minutes as f64,
            reads.iter().max().unwrap()
        );
        if minutes >= 60 {
            assert_eq!(
                total,
                stacks + failed * (minutes as usize - 1),
                "each stack once an hour, failed ones every tick"
            );
        }
    }
}

/// A DynamoDB-compatible server on loopback, with the template's table, counting requests
/// by operation (a small proxy in front of dynoxide reads each request's `X-Amz-Target`).
struct LocalDynamo {
    endpoint: String,
    table: &'static str,
    calls: Calls,
}

/// Requests by operation.
type Calls = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

/// A dynoxide server behind a counting proxy, on the current runtime: its endpoint and
/// the calls it counts.
async fn serve_dynamodb() -> (String, Calls) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let db = dynoxide::Database::memory().unwrap();
    tokio::spawn(dynoxide::server::serve_with_shutdown(
        listener,
        db,
        std::future::pending::<()>(),
    ));

    // The counting proxy: forwards every request as is.
    let calls = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let counted = calls.clone();
    let upstream = reqwest::Client::new();
    let (proxy, _task) = sync_notifier::loopback::serve(0, move |request| {
        let (counted, upstream, server) = (counted.clone(), upstream.clone(), server.clone());
        async move {
            use http_body_util::BodyExt;
            let operation = request
                .headers()
                .get("x-amz-target")
                .and_then(|value| value.to_str().ok())
                .and_then(|target| target.rsplit('.').next())
                .unwrap_or("?")
                .to_owned();
            *counted.lock().unwrap().entry(operation).or_insert(0) += 1;
            let headers = request.headers().clone();
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let answer = upstream
                .post(&server)
                .headers(headers)
                .body(body)
                .send()
                .await
                .unwrap();
            let mut response = hyper::Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                response = response.header(name.as_str(), value.as_bytes());
            }
            let body = answer.bytes().await.unwrap();
            response.body(http_body_util::Full::new(body)).unwrap()
        }
    })
    .await
    .unwrap();
    (format!("http://{proxy}"), calls)
}

impl LocalDynamo {
    async fn start() -> LocalDynamo {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };

        // The DynamoDB stand-in gets a thread of its own: on the thread that answers the
        // status calls, each BatchGetItem it serves would delay the answers due meanwhile.
        let (ready, started) = tokio::sync::oneshot::channel();
        on_own_thread(move || async move {
            ready.send(serve_dynamodb().await).ok();
            std::future::pending::<()>().await
        });
        let (endpoint, calls) = started.await.unwrap();

        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "local", None, None, "bench"))
            .endpoint_url(&endpoint)
            .build();
        let table = "sync-notifier-bench";
        aws_sdk_dynamodb::Client::from_conf(config)
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        calls.lock().unwrap().clear();
        LocalDynamo {
            endpoint,
            table,
            calls,
        }
    }

    fn all_calls(&self) -> std::collections::HashMap<String, usize> {
        self.calls.lock().unwrap().clone()
    }
}

/// User + system CPU seconds of every child this process has waited for.
fn children_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
