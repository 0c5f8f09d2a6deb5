//! A loopback HTTP receiver that records every request and answers from a script,
//! standing in for Slack, Teams, Discord, Google Chat or a webhook endpoint.
//!
//! Each request is stamped from one process-wide sequence when it arrives and when it is
//! answered, so tests can prove what happened before what (across receivers too)
//! without measuring time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use tokio::task::JoinHandle;

/// Orders arrivals and answers across every receiver in the process.
static SEQUENCE: AtomicU64 = AtomicU64::new(1);

fn next_sequence() -> u64 {
    SEQUENCE.fetch_add(1, Ordering::SeqCst)
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// The query string, as sent (without the `?`).
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The status it was answered with.
    pub status: u16,
    /// When it arrived and when it was answered, on the process-wide sequence.
    pub arrived: u64,
    pub answered: u64,
    /// The same two moments on the clock, for the waits a destination asks for (a
    /// `Retry-After` is a lower bound on the time between an answer and the next request).
    pub arrived_at: Instant,
    pub answered_at: Instant,
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

/// How to answer one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Wait this long before answering (to provoke client timeouts, or to be slow).
    pub delay: Duration,
    /// The `Retry-After` header to send, if any.
    pub retry_after: Option<String>,
    /// The body to answer with (`ok` when `None`).
    pub body: Option<String>,
    /// Never answer (a destination that hangs): the request counts as arrived, never as
    /// answered, whatever the client does.
    pub hang: bool,
}

impl Reply {
    /// This status, at once, without `Retry-After`.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
            retry_after: None,
            body: None,
            hang: false,
        }
    }

    /// No answer at all, ever.
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::status(200)
        }
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = Some(body.to_owned());
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn retry_after(mut self, value: &str) -> Reply {
        self.retry_after = Some(value.to_owned());
        self
    }
}

#[derive(Default)]
struct Script {
    /// Replies to give, in order; once used up, every request gets 200.
    replies: VecDeque<Reply>,
    arrivals: usize,
    answered: Vec<Recorded>,
    /// Every request as it arrived, answered or not (a client that gave up on a slow
    /// answer drops the request before it is answered: a real service may still take it).
    arrived: Vec<Recorded>,
}

pub struct Receiver {
    base: String,
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
        let (address, task) = sync_notifier::loopback::serve(0, move |request| {
            let state = state.clone();
            async move {
                let arrived = next_sequence();
                let arrived_at = Instant::now();
                let path = request.uri().path().to_owned();
                let query = request.uri().query().map(str::to_owned);
                let headers: Vec<(String, String)> = request
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
                let reply = state
                    .lock()
                    .ok()
                    .and_then(|mut script| {
                        script.arrivals += 1;
                        let reply = script.replies.pop_front();
                        script.arrived.push(Recorded {
                            path: path.clone(),
                            query: query.clone(),
                            headers: headers.clone(),
                            body: body.clone(),
                            status: reply.as_ref().map_or(200, |reply| reply.status),
                            arrived,
                            answered: 0,
                            arrived_at,
                            answered_at: arrived_at,
                        });
                        reply
                    })
                    .unwrap_or(Reply::status(200));
                if reply.hang {
                    std::future::pending::<()>().await;
                }
                if !reply.delay.is_zero() {
                    tokio::time::sleep(reply.delay).await;
                }
                let recorded = Recorded {
                    path,
                    query,
                    headers,
                    body,
                    status: reply.status,
                    arrived,
                    answered: next_sequence(),
                    arrived_at,
                    answered_at: Instant::now(),
                };
                if let Ok(mut script) = state.lock() {
                    script.answered.push(recorded);
                }
                let mut response = Response::builder()
                    .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
                if let Some(retry_after) = &reply.retry_after {
                    response = response.header("retry-after", retry_after);
                }
                let body = reply
                    .body
                    .clone()
                    .map_or(Bytes::from_static(b"ok"), Bytes::from);
                response
                    .body(Full::new(body))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
            }
        })
        .await?;
        Ok(Receiver {
            base: format!("http://{address}"),
            script,
            task,
        })
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        self.url_with_path("/hook")
    }

    /// The receiver's address with another path (it answers on every path).
    pub fn url_with_path(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next requests get these statuses, in order (then 200 again); 429 and 503
    /// come with `Retry-After: 1`, as Slack sends it.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.reply(statuses.iter().map(|status| match status {
            429 | 503 => Reply::status(*status).retry_after("1"),
            other => Reply::status(*other),
        }));
    }

    /// The next requests get these replies, in order (then 200 again).
    pub fn reply(&self, replies: impl IntoIterator<Item = Reply>) {
        if let Ok(mut script) = self.script.lock() {
            script.replies.extend(replies);
        }
    }

    /// Forgets the replies still scripted: every request gets 200 again (the destination
    /// recovered).
    pub fn recover(&self) {
        if let Ok(mut script) = self.script.lock() {
            script.replies.clear();
        }
    }

    /// The next request is answered only after `delay` (to provoke client timeouts).
    pub fn delay_next(&self, delay: Duration) {
        self.reply([Reply::status(200).after(delay)]);
    }

    /// How many requests have arrived, answered or not.
    pub fn arrivals(&self) -> usize {
        self.script
            .lock()
            .map(|script| script.arrivals)
            .unwrap_or_default()
    }

    /// Every request, as it arrived (`answered` is 0: it may never have been), in order.
    pub fn arrived(&self) -> Vec<Recorded> {
        self.script
            .lock()
            .map(|script| script.arrived.clone())
            .unwrap_or_default()
    }

    /// Every answered request, in the order the answers went out.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script
            .lock()
            .map(|script| script.answered.clone())
            .unwrap_or_default()
    }

    /// Requests answered with 2xx, in order.
    pub fn received(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| (200..300).contains(&request.status))
            .collect()
    }

    /// Requests answered with a non-2xx status.
    pub fn refused(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| !(200..300).contains(&request.status))
            .collect()
    }
}
