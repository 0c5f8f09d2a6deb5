//! A loopback PagerDuty Events API v2: alert events on `…/v2/enqueue`, change events on
//! `…/v2/change/enqueue`.
//!
//! It checks what the API requires (a 32-character `routing_key` it knows, an
//! `event_action`, a trigger's `summary` of at most 1024 characters, `source` and
//! `severity`, a `dedup_key` of at most 255), answers 202 with the `dedup_key` or 400 with
//! its reasons, and keeps alerts as PagerDuty does: a trigger opens an alert or adds to the
//! open one with its `dedup_key`, a resolve closes it (or is dropped when none is open), and
//! a trigger after that opens a new one. It can be told to answer the next events with
//! another status (and `Retry-After`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One event as received, with the status it was answered.
#[derive(Debug, Clone)]
pub struct PdEvent {
    /// True for a change event.
    pub change: bool,
    pub body: Value,
    pub status: u16,
    pub answer: Value,
}

/// An alert, as PagerDuty keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub dedup_key: String,
    pub open: bool,
    /// The severity of each trigger it took, in order.
    pub severities: Vec<String>,
    /// The summary of its last trigger.
    pub summary: String,
}

#[derive(Default)]
struct State {
    routing_key: String,
    script: VecDeque<(u16, Option<String>)>,
    events: Vec<PdEvent>,
    alerts: Vec<Alert>,
}

fn invalid(errors: &[&str]) -> (u16, Option<String>, Value) {
    (
        400,
        None,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    )
}

impl State {
    fn answer(&mut self, change: bool, body: &[u8]) -> (u16, Option<String>, Value) {
        if let Some((status, retry_after)) = self.script.pop_front() {
            return (status, retry_after, Value::Null);
        }
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return invalid(&["JSON parse error"]);
        };
        let key = body["routing_key"].as_str().unwrap_or_default();
        if key.chars().count() != 32 {
            return invalid(&["Length of 'routing_key' is incorrect (should be 32 characters)"]);
        }
        if key != self.routing_key {
            return invalid(&["routing_key is not one this loopback knows"]);
        }
        let payload = &body["payload"];
        let summary = payload["summary"].as_str().unwrap_or_default();
        if change {
            if summary.is_empty() || summary.chars().count() > 1024 {
                return invalid(&["'payload.summary' is missing or longer than 1024 characters"]);
            }
            return (
                202,
                None,
                json!({"status": "success", "message": "Change event processed"}),
            );
        }
        let Some(dedup_key) = body["dedup_key"].as_str().map(str::to_owned) else {
            return invalid(&["this loopback wants every event to carry a dedup_key"]);
        };
        if dedup_key.chars().count() > 255 {
            return invalid(&["'dedup_key' is longer than 255 characters"]);
        }
        let open = self
            .alerts
            .iter()
            .position(|alert| alert.open && alert.dedup_key == dedup_key);
        match body["event_action"].as_str() {
            Some("trigger") => {
                let severity = payload["severity"].as_str().unwrap_or_default();
                if summary.is_empty() || summary.chars().count() > 1024 {
                    return invalid(&[
                        "'payload.summary' is missing or longer than 1024 characters",
                    ]);
                }
                if payload["source"].as_str().unwrap_or_default().is_empty() {
                    return invalid(&["'payload.source' is missing"]);
                }
                if !["critical", "error", "warning", "info"].contains(&severity) {
                    return invalid(&[
                        "'payload.severity' must be critical, error, warning or info",
                    ]);
                }
                match open {
                    Some(index) => {
                        let alert = &mut self.alerts[index];
                        alert.severities.push(severity.to_owned());
                        alert.summary = summary.to_owned();
                    }
                    None => self.alerts.push(Alert {
                        dedup_key: dedup_key.clone(),
                        open: true,
                        severities: vec![severity.to_owned()],
                        summary: summary.to_owned(),
                    }),
                }
            }
            Some("resolve") | Some("acknowledge") => {
                if body["event_action"] == "resolve"
                    && let Some(index) = open
                {
                    self.alerts[index].open = false;
                }
            }
            _ => return invalid(&["'event_action' must be trigger, acknowledge or resolve"]),
        }
        (
            202,
            None,
            json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
        )
    }
}

/// The loopback Events API; it serves until dropped.
pub struct PagerDutyApi {
    base: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for PagerDutyApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PagerDutyApi {
    /// Knows one integration key.
    pub async fn start(routing_key: &str) -> std::io::Result<PagerDutyApi> {
        let state = Arc::new(Mutex::new(State {
            routing_key: routing_key.to_owned(),
            ..State::default()
        }));
        let shared = state.clone();
        let (address, task) = sync_notifier::loopback::serve(0, move |request| {
            let state = shared.clone();
            async move {
                let path = request.uri().path().to_owned();
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|body| body.to_bytes())
                    .unwrap_or_default();
                let change = path.ends_with("/v2/change/enqueue");
                let (status, retry_after, answer) = if !change && !path.ends_with("/v2/enqueue") {
                    (404, None, Value::Null)
                } else {
                    match state.lock() {
                        Ok(mut state) => {
                            let (status, retry_after, answer) = state.answer(change, &body);
                            state.events.push(PdEvent {
                                change,
                                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                                status,
                                answer: answer.clone(),
                            });
                            (status, retry_after, answer)
                        }
                        Err(_) => (500, None, Value::Null),
                    }
                };
                let mut response = Response::builder()
                    .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .header("content-type", "application/json");
                if let Some(wait) = retry_after {
                    response = response.header("retry-after", wait);
                }
                let bytes = match answer {
                    Value::Null => Bytes::new(),
                    other => Bytes::from(other.to_string()),
                };
                response
                    .body(Full::new(bytes))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
            }
        })
        .await?;
        Ok(PagerDutyApi {
            base: format!("http://{address}"),
            state,
            task,
        })
    }

    /// The events URL to configure (`PAGERDUTY_EVENTS_URL`, `eventsUrl`).
    pub fn url(&self) -> String {
        format!("{}/v2/enqueue", self.base)
    }

    fn with<T>(&self, read: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&mut state)
    }

    /// The next event is answered with `status` (and this `Retry-After`), whatever it is.
    pub fn answer_next(&self, status: u16, retry_after: Option<&str>) {
        self.with(|state| {
            state
                .script
                .push_back((status, retry_after.map(str::to_owned)))
        });
    }

    /// Every event, in order.
    pub fn events(&self) -> Vec<PdEvent> {
        self.with(|state| state.events.clone())
    }

    /// Every alert, in the order they were opened.
    pub fn alerts(&self) -> Vec<Alert> {
        self.with(|state| state.alerts.clone())
    }
}
