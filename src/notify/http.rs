//! Delivery over HTTP: the one client every destination shares, the policy each run's
//! [`Gate`] applies, and what each answer of a webhook means.
//!
//! - 2xx is delivered.
//! - 429 (and 503) with a `Retry-After`: waited out and retried in this run when short (up
//!   to [`DeliveryPolicy::max_retry_after`]); longer, it becomes the destination's quiet
//!   period, kept in state.
//! - Other 5xx, 408, timeouts and network errors are retried with backoff while the
//!   destination's retry budget for the run lasts; then the destination is paused for the
//!   run.
//! - 400, 403, 404, 410 (and the other 4xx, and 3xx: we never follow redirects, which
//!   could carry a signed body elsewhere) are permanent for that message.
//!
//! Messages name the destination by its key, never by its URL. An answer's body is read
//! up to [`ANSWER_LIMIT`], whatever the destination sends.

use std::time::Duration;

use super::DeliveryError;
use super::gate::{Attempt, Gate};
use super::secret::SecretUrl;

/// How long one request may take before it counts as failed.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Sent with every request.
pub const USER_AGENT: &str = concat!("sync-notifier/", env!("CARGO_PKG_VERSION"));

/// The most of an answer's body that is read (a Slack API answer is a few hundred bytes).
pub const ANSWER_LIMIT: usize = 64 * 1024;

/// Built once per process: connection pools and TLS configuration are reused.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// How hard to try one destination within one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// The timeout of each request.
    pub timeout: Duration,
    /// Requests per message per run, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles with each retry, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited out within a run.
    pub max_retry_after: Duration,
    /// How much time a destination may spend on retries (waits and retried requests,
    /// the one in flight included) in one run, across all its messages.
    pub retry_budget: Duration,
    /// Requests in flight to one destination at once, across all stacks: polite to its
    /// rate limits, and a dead destination ties up no more than this many before it is
    /// paused.
    pub concurrency: usize,
}

impl Default for DeliveryPolicy {
    /// Fits the function's 50 s timeout and 120 s delivery lease: a dead destination
    /// costs a run one request timeout (then it is paused), a failing one at most 15 s of
    /// retries.
    fn default() -> Self {
        DeliveryPolicy {
            timeout: HTTP_TIMEOUT,
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(5),
            retry_budget: Duration::from_secs(15),
            concurrency: 4,
        }
    }
}

/// An HTTP answer, its body read up to [`ANSWER_LIMIT`].
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Posts `body` as JSON to `url` through `gate`, and reads each answer with `interpret`.
/// `headers` is called for each attempt, so a signature can carry the attempt's own
/// timestamp.
pub async fn post<T>(
    client: &reqwest::Client,
    gate: &Gate,
    url: &reqwest::Url,
    body: &[u8],
    headers: impl Fn() -> Vec<(&'static str, String)>,
    interpret: impl Fn(&str, Answer) -> Attempt<T>,
) -> Result<T, DeliveryError> {
    gate.send(|timeout| {
        let key = gate.key();
        let extra = header_map(headers());
        let request = extra.map(|extra| {
            client
                .post(url.clone())
                .timeout(timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::USER_AGENT, USER_AGENT)
                // An adapter's own headers replace these (a `Content-Type` with a charset).
                .headers(extra)
                .body(body.to_vec())
        });
        let interpret = &interpret;
        async move {
            let Some(request) = request else {
                return Attempt::Refused(format!(
                    "{key}: cannot send: a header value is not valid in HTTP"
                ));
            };
            match exchange(request, timeout).await {
                Ok(answer) => interpret(key, answer),
                Err(failure) => Attempt::Failed {
                    reason: format!("{key}: {}", failure.reason),
                    retry_after: None,
                    timed_out: failure.timed_out,
                },
            }
        }
    })
    .await
}

/// An adapter's headers as a map; an `Authorization` value is marked sensitive, so no
/// `Debug` of the request can show it. `None` if a name or value is not valid HTTP.
fn header_map(headers: Vec<(&'static str, String)>) -> Option<reqwest::header::HeaderMap> {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok()?;
        let mut value = reqwest::header::HeaderValue::from_str(&value).ok()?;
        if name == reqwest::header::AUTHORIZATION {
            value.set_sensitive(true);
        }
        map.insert(name, value);
    }
    Some(map)
}

/// A webhook: posts `body` to `url`; 2xx is delivered (the answer's body is not needed).
pub async fn post_webhook(
    client: &reqwest::Client,
    gate: &Gate,
    url: &SecretUrl,
    body: &[u8],
    headers: impl Fn() -> Vec<(&'static str, String)>,
) -> Result<(), DeliveryError> {
    post(client, gate, url.expose(), body, headers, |key, answer| {
        classify(key, answer.status, answer.retry_after)
    })
    .await
}

/// Why a request got no answer.
struct NoAnswer {
    reason: String,
    timed_out: bool,
}

/// Sends `request` and reads its answer (at most [`ANSWER_LIMIT`] of the body), all within
/// `timeout`.
async fn exchange(request: reqwest::RequestBuilder, timeout: Duration) -> Result<Answer, NoAnswer> {
    let timed_out = || NoAnswer {
        reason: format!("timed out after {}s", timeout.as_secs_f64()),
        timed_out: true,
    };
    let exchange = async {
        let mut response = request.send().await.map_err(|error| {
            if error.is_timeout() {
                timed_out()
            } else if error.is_connect() {
                NoAnswer {
                    reason: "could not connect".to_owned(),
                    timed_out: false,
                }
            } else {
                NoAnswer {
                    reason: error.without_url().to_string(),
                    timed_out: false,
                }
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        let mut body = Vec::new();
        while body.len() < ANSWER_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status is what matters; a body cut short is read as it is.
                Err(error) if error.is_timeout() => return Err(timed_out()),
                Err(_) => break,
            }
        }
        body.truncate(ANSWER_LIMIT);
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

/// An answer's status in words, with the `Retry-After` it asked for: `HTTP 503,
/// Retry-After 1s`. Every kind of destination says a failure this way.
pub fn status_words(status: u16, retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("HTTP {status}, Retry-After {}s", wait.as_secs_f64()),
        None => format!("HTTP {status}"),
    }
}

/// What an HTTP status means for the message (the rules at the top of this file).
pub fn classify(key: &str, status: u16, retry_after: Option<Duration>) -> Attempt<()> {
    match status {
        200..=299 => Attempt::Done(()),
        429 | 503 => Attempt::Failed {
            reason: format!("{key}: {}", status_words(status, retry_after)),
            retry_after,
            timed_out: false,
        },
        408 | 500..=599 => Attempt::Failed {
            reason: format!("{key}: HTTP {status}"),
            retry_after: None,
            timed_out: false,
        },
        300..=399 => Attempt::Refused(format!(
            "{key}: HTTP {status}, a redirect; it is not followed, so update the destination's URL"
        )),
        410 => Attempt::Refused(format!(
            "{key}: HTTP 410, the endpoint is gone; remove or replace this destination"
        )),
        _ => Attempt::Refused(format!("{key}: HTTP {status}")),
    }
}

/// The longest `Retry-After` read as asked (a year); the gate keeps at most an hour of
/// it, and logs both what was asked and what it kept.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

/// `Retry-After` as a wait: delay-seconds (a decimal is accepted too), or an HTTP-date.
/// Anything unreadable counts as absent.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(LONGEST_RETRY_AFTER.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at.duration_since(now).unwrap_or_default();
    Some(wait.min(LONGEST_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(answer: Attempt<()>) -> Option<(String, Option<Duration>)> {
        match answer {
            Attempt::Failed {
                reason,
                retry_after,
                ..
            } => Some((reason, retry_after)),
            _ => None,
        }
    }

    fn refused(answer: Attempt<()>) -> Option<String> {
        match answer {
            Attempt::Refused(reason) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn statuses_are_sorted_into_delivered_retry_and_permanent() {
        assert!(matches!(classify("k", 200, None), Attempt::Done(())));
        assert!(matches!(classify("k", 204, None), Attempt::Done(())));
        for status in [408, 500, 502, 503, 504, 429] {
            assert!(failed(classify("k", status, None)).is_some(), "{status}");
        }
        for status in [301, 302, 307, 400, 401, 403, 404, 410, 413, 422] {
            assert!(refused(classify("k", status, None)).is_some(), "{status}");
        }
        assert!(refused(classify("k", 410, None)).unwrap().contains("gone"));
    }

    #[test]
    fn retry_after_is_kept_for_429_and_503_only() {
        let wait = Some(Duration::from_secs(2));
        assert_eq!(failed(classify("k", 429, wait)).unwrap().1, wait);
        assert_eq!(failed(classify("k", 503, wait)).unwrap().1, wait);
        assert_eq!(failed(classify("k", 500, wait)).unwrap().1, None);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        for junk in ["", "soon", "-1", "NaN", "Sun, 06 Nov 1994 25:00:00 GMT"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }
}
