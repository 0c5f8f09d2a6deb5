//! Benchmark: one tick over many watched stacks, measured on the real binary in Lambda mode.
//!
//! The bench process hosts a loopback CodeConnections endpoint (with a fixed latency per
//! call) and a loopback Lambda Runtime API; the release binary runs as a child process, so
//! its CPU time and memory are its own. Reported: init time (process start to the first
//! poll for work), wall time of a baseline tick and of steady-state ticks against the ideal
//! `N × latency / concurrency`, the number of status calls, CPU time per steady tick and
//! peak memory.
//!
//! It runs twice: with state in the function's memory (`STATE_TABLE` unset), and with
//! state in DynamoDB as in production (a dynoxide server in the bench process, reached over
//! HTTP through the real SDK client), counting the DynamoDB calls of a steady tick.
//!
//! `cargo bench --bench tick` runs it with 1,000 stacks; under `cargo test` it runs a
//! 20-stack smoke version so the bench never rots.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
#[path = "../tests/support/mod.rs"]
mod shared;

use shared::{Answer, LoopbackRuntimeApi};
use sync_notifier::loopback::{LoopbackCodeConnections, LoopbackOptions};
use sync_notifier::scenario::Scenario;

const LATENCY: Duration = Duration::from_millis(20);
const CONCURRENCY: usize = 16;

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let stacks = if full { 1000 } else { 20 };
    let steady_ticks = if full { 5 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        bench(stacks, steady_ticks, None).await;
        let dynamodb = LocalDynamo::start().await;
        bench(stacks, steady_ticks, Some(&dynamodb)).await;
    });
}

/// A DynamoDB-compatible server on loopback, with the template's table, counting requests
/// by operation (a small proxy in front of dynoxide reads each request's `X-Amz-Target`).
struct LocalDynamo {
    endpoint: String,
    table: &'static str,
    calls: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

impl LocalDynamo {
    async fn start() -> LocalDynamo {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };

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
        let endpoint = format!("http://{proxy}");

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

    fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

fn scenario(stacks: usize) -> Scenario {
    let revision = |sha: &str| json!({"Branch": "main", "Directory": "stack.yaml", "OwnerId": "acme", "ProviderType": "GitHub", "RepositoryName": "infra", "Sha": sha});
    let tick: serde_json::Map<String, Value> = (0..stacks)
        .map(|i| {
            let attempt = json!({
                "Events": [{"Event": "Stack update complete", "Time": 1795687300, "Type": "INFO"}],
                "InitialRevision": revision("1111111"), "StartedAt": 1795687200, "Status": "SUCCEEDED",
                "Target": format!("stack-{i:04}"), "TargetRevision": revision("2222222")
            });
            (format!("stack-{i:04}"), json!({"LatestSync": attempt.clone(), "LatestSuccessfulSync": attempt}))
        })
        .collect();
    Scenario::parse(&json!({"ticks": [tick]}).to_string()).unwrap()
}

/// (user + system CPU seconds, peak resident memory in MiB) of a live process, from /proc.
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name; 100 Hz.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    (cpu, peak_kib / 1024.0)
}

async fn bench(stacks: usize, steady_ticks: usize, dynamodb: Option<&LocalDynamo>) {
    let scenario = scenario(stacks);
    let names: Vec<String> = scenario
        .resources()
        .iter()
        .map(|name| name.to_string())
        .collect();
    let options = LoopbackOptions {
        latency: LATENCY,
        ..LoopbackOptions::default()
    };
    let codeconnections = LoopbackCodeConnections::start(scenario, options)
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
        .env("WATCH_RESOURCES", names.join(","))
        .env("FETCH_CONCURRENCY", CONCURRENCY.to_string())
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
    let (init_cpu, _) = usage(pid);

    let tick = |label: &'static str| {
        let runtime = &runtime;
        let scheduled = scheduled.clone();
        async move {
            let before = usage(pid).0;
            let begun = Instant::now();
            let Some(Answer::Response(summary)) = runtime.invoke(scheduled).await else {
                panic!("{label}: the function answered with an error or not at all")
            };
            (begun.elapsed(), usage(pid).0 - before, summary)
        }
    };

    let (baseline_wall, baseline_cpu, baseline) = tick("baseline").await;
    assert_eq!(
        baseline["baselines"].as_u64(),
        Some(stacks as u64),
        "{baseline}"
    );
    let calls_before = codeconnections.calls("GetResourceSyncStatus");
    let state_calls_before = dynamodb.map(|d| (d.calls("BatchGetItem"), d.calls("PutItem")));
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..steady_ticks {
        let (wall, cpu, summary) = tick("steady").await;
        assert_eq!(summary["stateWrites"].as_u64(), Some(0), "{summary}");
        assert_eq!(
            summary["failures"].as_array().map(Vec::len),
            Some(0),
            "{summary}"
        );
        walls.push(wall);
        cpus.push(cpu);
    }
    let calls_per_tick =
        (codeconnections.calls("GetResourceSyncStatus") - calls_before) / steady_ticks;
    let state_calls = dynamodb
        .zip(state_calls_before)
        .map(|(d, (reads, writes))| {
            (
                (d.calls("BatchGetItem") - reads) / steady_ticks,
                (d.calls("PutItem") - writes) / steady_ticks,
            )
        });
    let (_, peak_mib) = usage(pid);
    child.kill().ok();
    child.wait().ok();

    walls.sort();
    let median = walls[walls.len() / 2];
    let ideal = LATENCY * stacks as u32 / CONCURRENCY as u32;
    let cpu_per_tick = cpus.iter().sum::<f64>() / cpus.len() as f64;
    let store = match dynamodb {
        Some(_) => "state in DynamoDB (local server)",
        None => "state in memory",
    };
    println!(
        "tick benchmark: {stacks} stacks, {} ms per status call, concurrency {CONCURRENCY}, {store}",
        LATENCY.as_millis()
    );
    println!(
        "  init (process start → ready)      {:>8.1} ms  (CPU {:.2} s)",
        init.as_secs_f64() * 1000.0,
        init_cpu
    );
    println!(
        "  baseline tick ({stacks} state writes) {:>8.0} ms  (CPU {:.2} s)",
        baseline_wall.as_secs_f64() * 1000.0,
        baseline_cpu
    );
    println!(
        "  steady tick, median of {steady_ticks}          {:>8.0} ms  (ideal {:.0} ms, {:.2}×)",
        median.as_secs_f64() * 1000.0,
        ideal.as_secs_f64() * 1000.0,
        median.as_secs_f64() / ideal.as_secs_f64()
    );
    println!("  status calls per steady tick       {calls_per_tick:>8}");
    if let Some((reads, writes)) = state_calls {
        println!("  BatchGetItem / PutItem per steady tick  {reads} / {writes}");
        assert_eq!(reads, stacks.div_ceil(100), "⌈N/100⌉ state reads");
        assert_eq!(writes, 0, "no state write when nothing changed");
    }
    println!(
        "  CPU per steady tick                {cpu_per_tick:>8.2} s  (/proc, 10 ms resolution)"
    );
    println!("  peak memory (VmHWM)                {peak_mib:>8.1} MiB");
    assert_eq!(
        calls_per_tick, stacks,
        "exactly one status call per stack per tick"
    );
}
