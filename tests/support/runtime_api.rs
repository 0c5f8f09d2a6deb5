//! A loopback AWS Lambda Runtime API: hands out queued events on `invocation/next` and
//! records what the function posts to `response` and `error`, so the real binary can be
//! driven through the real `lambda_runtime` loop (tests, and the init-time benchmark).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Answer {
    Response(Value),
    Error(Value),
    /// Posted after the invocation's deadline: Lambda would have stopped the function
    /// ("Task timed out") and never taken it.
    TooLate(Value),
}

#[derive(Default)]
struct State {
    /// Events to hand out, each with the time the function gets for it.
    queue: VecDeque<(String, Value, Duration)>,
    answers: HashMap<String, Answer>,
    /// The deadline handed out with each invocation, in epoch milliseconds.
    deadlines: HashMap<String, u128>,
    next_id: u64,
    /// When the function first asked for work: the end of its init.
    first_poll: Option<std::time::Instant>,
}

pub struct LoopbackRuntimeApi {
    address: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LoopbackRuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LoopbackRuntimeApi {
    pub async fn start() -> std::io::Result<LoopbackRuntimeApi> {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (address, task) =
            sync_notifier::loopback::serve(0, move |request| handle(shared.clone(), request))
                .await?;
        Ok(LoopbackRuntimeApi {
            address: address.to_string(),
            state,
            task,
        })
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` takes it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Prepares `command` to run the function as Lambda would start it against this API:
    /// a clean environment with the runtime's variables, JSON logs, a fixed Region and
    /// placeholder credentials (nothing here talks to AWS). Callers add the endpoints and
    /// settings of their case.
    pub fn lambda_environment<'c>(
        &self,
        command: &'c mut std::process::Command,
    ) -> &'c mut std::process::Command {
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "sync-notifier")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "loopback")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/sync-notifier")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
    }

    /// When the function first polled for an invocation (its init was done), if it has.
    pub fn first_poll(&self) -> Option<std::time::Instant> {
        self.state.lock().ok().and_then(|state| state.first_poll)
    }

    /// Queues `event` with a 30 s deadline and waits for the function's answer; `None` if
    /// none came.
    pub async fn invoke(&self, event: Value) -> Option<Answer> {
        self.invoke_within(event, Duration::from_secs(30)).await
    }

    /// Queues `event` with a deadline `time` ahead (as Lambda's timeout would give) and
    /// waits for the function's answer (up to 5 s past the deadline); `None` if none came.
    pub async fn invoke_within(&self, event: Value, time: Duration) -> Option<Answer> {
        let give_up = std::time::Instant::now() + time + Duration::from_secs(5);
        let id = {
            let Ok(mut state) = self.state.lock() else {
                return None;
            };
            state.next_id += 1;
            let id = format!("request-{}", state.next_id);
            state.queue.push_back((id.clone(), event, time));
            id
        };
        while std::time::Instant::now() < give_up {
            if let Some(answer) = self
                .state
                .lock()
                .ok()
                .and_then(|mut state| state.answers.remove(&id))
            {
                return Some(answer);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        if let Ok(mut state) = state.lock() {
            state.first_poll.get_or_insert_with(std::time::Instant::now);
        }
        // Long-poll like Lambda does: hold the request until an event is queued.
        loop {
            let next = state
                .lock()
                .ok()
                .and_then(|mut state| state.queue.pop_front());
            if let Some((id, event, time)) = next {
                let deadline = epoch_millis() + time.as_millis();
                if let Ok(mut state) = state.lock() {
                    state.deadlines.insert(id.clone(), deadline);
                }
                return Response::builder()
                    .header("lambda-runtime-aws-request-id", id)
                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:sync-notifier",
                    )
                    .header(
                        "lambda-runtime-trace-id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1;Sampled=0",
                    )
                    .body(Full::new(Bytes::from(event.to_string())))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // 2018-06-01/runtime/invocation/{id}/{response|error}
    if let ["2018-06-01", "runtime", "invocation", id, kind] = parts.as_slice()
        && let Ok(mut state) = state.lock()
    {
        let late = state
            .deadlines
            .get(*id)
            .is_some_and(|deadline| epoch_millis() > *deadline);
        let answer = match (*kind, late) {
            (_, true) => Answer::TooLate(value),
            ("response", false) => Answer::Response(value),
            _ => Answer::Error(value),
        };
        state.answers.insert((*id).to_owned(), answer);
    }
    Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn epoch_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}
