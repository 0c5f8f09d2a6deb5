//! Polite delivery over HTTP: the one client every destination shares, and [`Endpoint`],
//! which posts to one destination and decides what each answer means.
//!
//! - Every request has its own timeout.
//! - 2xx is delivered.
//! - 429 (and 503) with a short `Retry-After` (up to [`DeliveryPolicy::max_retry_after`])
//!   is waited out and retried in this run; a longer one leaves the message pending and
//!   keeps this destination quiet until then, as asked.
//! - Other 5xx, 408, timeouts and network errors are retried with exponential backoff and
//!   jitter, while the destination's retry budget for this run lasts.
//! - 400, 403, 404, 410 (and the other 4xx, and 3xx: we never follow redirects, which
//!   could carry a signed body elsewhere) are permanent for that message.
//!
//! Messages name the destination by its key, never by its URL.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::DeliveryError;
use crate::config::SecretUrl;

/// How long one webhook request may take before it counts as failed (and is retried).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Sent with every request.
pub const USER_AGENT: &str = concat!("sync-notifier/", env!("CARGO_PKG_VERSION"));

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
    /// How much time a destination may spend on retries (waits and retried requests)
    /// in one run, across all its messages.
    pub retry_budget: Duration,
}

impl Default for DeliveryPolicy {
    /// Fits the function's 50 s timeout and 120 s delivery lease: a dead destination
    /// costs a run at most about 15 s beyond its first attempts.
    fn default() -> Self {
        DeliveryPolicy {
            timeout: HTTP_TIMEOUT,
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(5),
            retry_budget: Duration::from_secs(15),
        }
    }
}

/// What a destination has used of its run.
#[derive(Debug, Default)]
struct RunState {
    spent: Duration,
    deadline: Option<Instant>,
    /// The destination asked us (Retry-After) not to call before then.
    quiet_until: Option<Instant>,
}

/// One destination's URL, with the client, policy and per-run budget to post to it.
pub struct Endpoint {
    key: String,
    url: SecretUrl,
    client: reqwest::Client,
    policy: DeliveryPolicy,
    run: Mutex<RunState>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("key", &self.key)
            .field("url", &self.url)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What one request came to.
enum Answer {
    Delivered,
    Refused(String),
    Failed {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl Endpoint {
    pub fn new(
        key: String,
        url: SecretUrl,
        client: reqwest::Client,
        policy: DeliveryPolicy,
    ) -> Self {
        Endpoint {
            key,
            url,
            client,
            policy,
            run: Mutex::new(RunState::default()),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// A new run: a fresh retry budget, and no wait may end after `deadline`. A quiet
    /// period a destination asked for outlasts the run.
    pub fn begin_run(&self, deadline: Option<Instant>) {
        if let Ok(mut run) = self.run.lock() {
            run.spent = Duration::ZERO;
            run.deadline = deadline;
        }
    }

    /// Posts `body` (JSON), retrying as the policy allows. `headers` is called for each
    /// attempt, so a signature can carry the attempt's own timestamp.
    pub async fn post(
        &self,
        body: &[u8],
        headers: impl Fn() -> Vec<(&'static str, String)>,
    ) -> Result<(), DeliveryError> {
        if let Some(until) = self.quiet_until()
            && until > Instant::now()
        {
            let seconds = (until - Instant::now()).as_secs_f64().ceil();
            return Err(DeliveryError::Retry(format!(
                "{}: not sent; the destination asked for quiet for {seconds:.0}s more (Retry-After)",
                self.key
            )));
        }
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let answer = self.attempt(body, headers()).await;
            if attempt > 1 {
                self.spend(started.elapsed());
            }
            let (reason, retry_after) = match answer {
                Answer::Delivered => return Ok(()),
                Answer::Refused(reason) => return Err(DeliveryError::Permanent(reason)),
                Answer::Failed {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            let wait = match retry_after {
                Some(wait) if wait > self.policy.max_retry_after => {
                    self.keep_quiet_until(Instant::now() + wait);
                    return Err(DeliveryError::Retry(format!(
                        "{reason}; that is longer than {}s, so it is left for a later run",
                        self.policy.max_retry_after.as_secs()
                    )));
                }
                Some(wait) => wait,
                None => self.backoff(attempt),
            };
            if attempt >= self.policy.max_attempts {
                return Err(DeliveryError::Retry(format!(
                    "{reason}; gave up for this run after {attempt} attempts"
                )));
            }
            if !self.can_wait(wait) {
                return Err(DeliveryError::Retry(format!(
                    "{reason}; no time left to retry in this run"
                )));
            }
            tokio::time::sleep(wait).await;
            self.spend(wait);
            attempt += 1;
        }
    }

    async fn attempt(&self, body: &[u8], headers: Vec<(&'static str, String)>) -> Answer {
        let mut request = self
            .client
            .post(self.url.expose().clone())
            .timeout(self.policy.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::USER_AGENT, USER_AGENT);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match request.body(body.to_vec()).send().await {
            Ok(response) => response,
            Err(error) => {
                let reason = if error.is_timeout() {
                    format!("timed out after {}s", self.policy.timeout.as_secs_f64())
                } else if error.is_connect() {
                    "could not connect".to_owned()
                } else {
                    error.without_url().to_string()
                };
                return Answer::Failed {
                    reason: format!("{}: {reason}", self.key),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        classify(&self.key, status, retry_after)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        crate::backoff::Backoff {
            first: self.policy.base_backoff,
            max: self.policy.max_backoff,
        }
        .delay(attempt)
    }

    fn can_wait(&self, wait: Duration) -> bool {
        let Ok(run) = self.run.lock() else {
            return false;
        };
        let within_budget = run.spent + wait <= self.policy.retry_budget;
        let before_deadline = run
            .deadline
            .is_none_or(|deadline| Instant::now() + wait + self.policy.timeout <= deadline);
        within_budget && before_deadline
    }

    fn spend(&self, time: Duration) {
        if let Ok(mut run) = self.run.lock() {
            run.spent += time;
        }
    }

    fn quiet_until(&self) -> Option<Instant> {
        self.run.lock().ok().and_then(|run| run.quiet_until)
    }

    fn keep_quiet_until(&self, until: Instant) {
        if let Ok(mut run) = self.run.lock() {
            run.quiet_until = Some(run.quiet_until.map_or(until, |earlier| earlier.max(until)));
        }
    }
}

/// What an HTTP status means for the message (the rules at the top of this file).
fn classify(key: &str, status: u16, retry_after: Option<Duration>) -> Answer {
    let asked = retry_after
        .map(|wait| format!(", Retry-After {}s", wait.as_secs_f64()))
        .unwrap_or_default();
    match status {
        200..=299 => Answer::Delivered,
        429 | 503 => Answer::Failed {
            reason: format!("{key}: HTTP {status}{asked}"),
            retry_after,
        },
        408 | 500..=599 => Answer::Failed {
            reason: format!("{key}: HTTP {status}"),
            retry_after: None,
        },
        300..=399 => Answer::Refused(format!(
            "{key}: HTTP {status}, a redirect; it is not followed, so update the destination's URL"
        )),
        410 => Answer::Refused(format!(
            "{key}: HTTP 410, the endpoint is gone; remove or replace this destination"
        )),
        _ => Answer::Refused(format!("{key}: HTTP {status}")),
    }
}

/// `Retry-After` as a wait: delay-seconds (a decimal is accepted too), or an HTTP-date.
/// Anything unreadable counts as absent.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at.duration_since(now).unwrap_or_default();
    Some(wait.min(Duration::from_secs(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(answer: Answer) -> Option<(String, Option<Duration>)> {
        match answer {
            Answer::Failed {
                reason,
                retry_after,
            } => Some((reason, retry_after)),
            _ => None,
        }
    }

    fn refused(answer: Answer) -> Option<String> {
        match answer {
            Answer::Refused(reason) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn statuses_are_sorted_into_delivered_retry_and_permanent() {
        assert!(matches!(classify("k", 200, None), Answer::Delivered));
        assert!(matches!(classify("k", 204, None), Answer::Delivered));
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

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_its_ceiling() {
        let endpoint = Endpoint::new(
            "k".into(),
            SecretUrl::parse("http://127.0.0.1:1/hook").unwrap(),
            reqwest::Client::new(),
            DeliveryPolicy::default(),
        );
        for attempt in 1..=8 {
            let ceiling =
                Duration::from_millis(500 * (1 << (attempt - 1))).min(Duration::from_secs(4));
            let wait = endpoint.backoff(attempt);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn the_budget_and_the_deadline_bound_every_wait() {
        let policy = DeliveryPolicy {
            retry_budget: Duration::from_secs(3),
            ..DeliveryPolicy::default()
        };
        let endpoint = Endpoint::new(
            "k".into(),
            SecretUrl::parse("http://127.0.0.1:1/hook").unwrap(),
            reqwest::Client::new(),
            policy,
        );
        endpoint.begin_run(None);
        assert!(endpoint.can_wait(Duration::from_secs(2)));
        endpoint.spend(Duration::from_secs(2));
        assert!(!endpoint.can_wait(Duration::from_secs(2)));
        endpoint.begin_run(Some(Instant::now() + Duration::from_secs(5)));
        assert!(
            !endpoint.can_wait(Duration::from_secs(1)),
            "a wait plus a request timeout must end before the deadline"
        );
        endpoint.begin_run(None);
        assert!(
            endpoint.can_wait(Duration::from_secs(3)),
            "a new run has a new budget"
        );
    }
}
