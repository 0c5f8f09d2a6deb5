//! A loopback AWS Lambda Runtime API: hands out queued events on `invocation/next` and
//! records what the function posts to `response` and `error`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use serde_json::Value;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub enum Answer {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    answers: HashMap<String, Answer>,
    next_id: u64,
}

pub struct RuntimeApi {
    address: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            address,
            state,
            task,
        }
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` takes it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues `event` and waits (up to 30 s) for the function's answer.
    pub async fn invoke(&self, event: Value) -> Answer {
        let id = {
            let mut state = self.state.lock().unwrap();
            state.next_id += 1;
            let id = format!("request-{}", state.next_id);
            state.queue.push_back((id.clone(), event));
            id
        };
        for _ in 0..3000 {
            if let Some(answer) = self.state.lock().unwrap().answers.remove(&id) {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no answer to {id} within 30 s");
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        // Long-poll like Lambda does: hold the request until an event is queued.
        loop {
            let next = state.lock().unwrap().queue.pop_front();
            if let Some((id, event)) = next {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 30_000;
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
                    .unwrap();
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
    if let ["2018-06-01", "runtime", "invocation", id, kind] = parts.as_slice() {
        let answer = if *kind == "response" {
            Answer::Response(value)
        } else {
            Answer::Error(value)
        };
        state
            .lock()
            .unwrap()
            .answers
            .insert((*id).to_owned(), answer);
    }
    Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}
