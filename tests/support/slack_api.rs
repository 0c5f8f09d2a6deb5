//! A loopback Slack Web API: `chat.postMessage` and `chat.update` over HTTP, as a Slack app
//! sees them.
//!
//! It checks the `Authorization: Bearer` token (`not_authed`, `invalid_auth`), knows its
//! channels (`channel_not_found`), answers each new message with the next `ts`, keeps every
//! message as it now reads (an update changes it in place; a deleted one answers
//! `message_not_found`), records every call, and can be told to answer the next calls
//! otherwise: an `ok: false` error, HTTP 429 with `Retry-After`, another status, or a body
//! that is not JSON.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One call as received, with what it was answered.
#[derive(Debug, Clone)]
pub struct SlackCall {
    /// `chat.postMessage`, `chat.update`, …
    pub method: String,
    pub body: Value,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub status: u16,
    pub answer: Value,
}

/// A message in a channel, as it reads now.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    /// The message it replies to, for a reply.
    pub thread_ts: Option<String>,
    pub broadcast: bool,
    pub text: String,
    pub blocks: Value,
    /// How many times it was updated.
    pub updates: usize,
    pub deleted: bool,
}

/// How to answer one call, instead of doing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackReply {
    /// HTTP 200 with `{"ok": false, "error": code}`.
    Error(String),
    /// HTTP 429 with this `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
    RateLimited(String),
    /// This status, with an empty body.
    Status(u16),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// HTTP 200 with `{"ok": true}` and no `ts`.
    OkWithoutTs,
}

#[derive(Default)]
struct State {
    token: String,
    channels: Vec<String>,
    next: u64,
    /// Replies to give instead, each for the next call of its method (any, if `None`).
    script: VecDeque<(Option<String>, SlackReply)>,
    calls: Vec<SlackCall>,
    messages: Vec<Posted>,
}

impl State {
    fn answer(
        &mut self,
        method: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> (u16, Option<String>, Value) {
        let scripted = self
            .script
            .iter()
            .position(|(only, _)| only.as_deref().is_none_or(|only| only == method))
            .and_then(|index| self.script.remove(index))
            .map(|(_, reply)| reply);
        match scripted {
            Some(SlackReply::Error(code)) => {
                return (200, None, json!({"ok": false, "error": code}));
            }
            Some(SlackReply::RateLimited(wait)) => {
                return (
                    429,
                    Some(wait),
                    json!({"ok": false, "error": "ratelimited"}),
                );
            }
            Some(SlackReply::Status(status)) => return (status, None, Value::Null),
            Some(SlackReply::Garbage) => return (200, None, Value::String("<html>".into())),
            Some(SlackReply::OkWithoutTs) => return (200, None, json!({"ok": true})),
            None => {}
        }
        let error = |code: &str| (200, None, json!({"ok": false, "error": code}));
        match authorization {
            None => return error("not_authed"),
            Some(value) if value != format!("Bearer {}", self.token) => {
                return error("invalid_auth");
            }
            Some(_) => {}
        }
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return error("invalid_json");
        };
        let channel = body["channel"].as_str().unwrap_or_default().to_owned();
        let text = body["text"].as_str().unwrap_or_default().to_owned();
        if !self.channels.contains(&channel) {
            return error("channel_not_found");
        }
        if text.is_empty() && body.get("blocks").is_none() {
            return error("no_text");
        }
        match method {
            "chat.postMessage" => {
                self.next += 100;
                let ts = format!("1795687330.{:06}", self.next);
                self.messages.push(Posted {
                    channel: channel.clone(),
                    ts: ts.clone(),
                    thread_ts: body["thread_ts"].as_str().map(str::to_owned),
                    broadcast: body["reply_broadcast"].as_bool().unwrap_or(false),
                    text: text.clone(),
                    blocks: body["blocks"].clone(),
                    updates: 0,
                    deleted: false,
                });
                (
                    200,
                    None,
                    json!({"ok": true, "channel": channel, "ts": ts, "message": {"type": "message", "text": text, "ts": ts}}),
                )
            }
            "chat.update" => {
                let ts = body["ts"].as_str().unwrap_or_default().to_owned();
                let Some(message) = self.messages.iter_mut().find(|message| {
                    message.channel == channel && message.ts == ts && !message.deleted
                }) else {
                    return error("message_not_found");
                };
                message.text = text.clone();
                message.blocks = body["blocks"].clone();
                message.updates += 1;
                (
                    200,
                    None,
                    json!({"ok": true, "channel": channel, "ts": ts, "text": text}),
                )
            }
            _ => error("unknown_method"),
        }
    }
}

/// The loopback Web API; it serves until dropped.
pub struct SlackApi {
    base: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for SlackApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlackApi {
    /// Accepts `token`, and knows `channels`.
    pub async fn start(token: &str, channels: &[&str]) -> std::io::Result<SlackApi> {
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            channels: channels.iter().map(|channel| channel.to_string()).collect(),
            ..State::default()
        }));
        let shared = state.clone();
        let (address, task) = sync_notifier::loopback::serve(0, move |request| {
            let state = shared.clone();
            async move {
                let method = request
                    .uri()
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned)
                };
                let authorization = header("authorization");
                let content_type = header("content-type");
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|body| body.to_bytes())
                    .unwrap_or_default();
                let (status, retry_after, answer) = match state.lock() {
                    Ok(mut state) => {
                        let (status, retry_after, answer) =
                            state.answer(&method, authorization.as_deref(), &body);
                        state.calls.push(SlackCall {
                            method,
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                            authorization,
                            content_type,
                            status,
                            answer: answer.clone(),
                        });
                        (status, retry_after, answer)
                    }
                    Err(_) => (500, None, Value::Null),
                };
                let bytes = match &answer {
                    Value::Null => Bytes::new(),
                    Value::String(text) => Bytes::from(text.clone()),
                    other => Bytes::from(other.to_string()),
                };
                let mut response = Response::builder()
                    .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .header("content-type", "application/json; charset=utf-8");
                if let Some(wait) = retry_after {
                    response = response.header("retry-after", wait);
                }
                response
                    .body(Full::new(bytes))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
            }
        })
        .await?;
        Ok(SlackApi {
            base: format!("http://{address}"),
            state,
            task,
        })
    }

    /// The base URL to configure (`SLACK_API_URL`, `apiUrl`): `http://127.0.0.1:PORT/api/`.
    pub fn url(&self) -> String {
        format!("{}/api/", self.base)
    }

    fn with<T>(&self, read: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&mut state)
    }

    /// The next call (of `method`, or any when `None`) is answered with `reply`.
    pub fn script(&self, method: Option<&str>, reply: SlackReply) {
        self.with(|state| state.script.push_back((method.map(str::to_owned), reply)));
    }

    /// Deletes a message, as a person can in Slack.
    pub fn delete(&self, ts: &str) {
        self.with(|state| {
            for message in state.messages.iter_mut().filter(|message| message.ts == ts) {
                message.deleted = true;
            }
        });
    }

    /// Every call, in order.
    pub fn calls(&self) -> Vec<SlackCall> {
        self.with(|state| state.calls.clone())
    }

    /// The methods called, in order.
    pub fn methods(&self) -> Vec<String> {
        self.with(|state| state.calls.iter().map(|call| call.method.clone()).collect())
    }

    /// Every message, as it reads now, in the order it was posted.
    pub fn messages(&self) -> Vec<Posted> {
        self.with(|state| state.messages.clone())
    }
}
