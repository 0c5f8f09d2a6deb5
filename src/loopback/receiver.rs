//! A loopback HTTP receiver that records every request and answers from a script,
//! standing in for Slack or a webhook endpoint.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order; once used up, every request gets 200.
    answers: VecDeque<(u16, Duration)>,
    received: Vec<Recorded>,
    /// Requests answered with a non-2xx status (kept apart from the delivered ones).
    refused: Vec<Recorded>,
}

pub struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start() -> std::io::Result<Receiver> {
        let script = Arc::new(Mutex::new(Script::default()));
        let state = script.clone();
        let (address, task) = super::serve(0, move |request| {
            let state = state.clone();
            async move {
                let path = request.uri().path().to_owned();
                let headers = request
                    .headers()
                    .iter()
                    .map(|(name, value)| {
                        (name.to_string(), value.to_str().unwrap_or("").to_owned())
                    })
                    .collect();
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|body| body.to_bytes())
                    .unwrap_or_default();
                let recorded = Recorded {
                    path,
                    headers,
                    body,
                };
                let (status, delay) = state
                    .lock()
                    .ok()
                    .and_then(|mut script| script.answers.pop_front())
                    .unwrap_or((200, Duration::ZERO));
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if let Ok(mut script) = state.lock() {
                    if (200..300).contains(&status) {
                        script.received.push(recorded);
                    } else {
                        script.refused.push(recorded);
                    }
                }
                Response::builder()
                    .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .header("retry-after", "1")
                    .body(Full::new(Bytes::from_static(b"ok")))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
            }
        })
        .await?;
        Ok(Receiver {
            url: format!("http://{address}/hook"),
            script,
            task,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next requests get these statuses, in order (then 200 again).
    pub fn answer_with(&self, statuses: &[u16]) {
        if let Ok(mut script) = self.script.lock() {
            script
                .answers
                .extend(statuses.iter().map(|status| (*status, Duration::ZERO)));
        }
    }

    /// The next request is answered only after `delay` (to provoke client timeouts).
    pub fn delay_next(&self, delay: Duration) {
        if let Ok(mut script) = self.script.lock() {
            script.answers.push_back((200, delay));
        }
    }

    /// Requests answered with 2xx, in arrival order.
    pub fn received(&self) -> Vec<Recorded> {
        self.script
            .lock()
            .map(|script| script.received.clone())
            .unwrap_or_default()
    }

    /// Requests answered with a non-2xx status.
    pub fn refused(&self) -> Vec<Recorded> {
        self.script
            .lock()
            .map(|script| script.refused.clone())
            .unwrap_or_default()
    }
}
