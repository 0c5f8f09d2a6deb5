//! The one HTTP client all webhook destinations share, and how its answers are read.

use std::time::Duration;

use super::DeliveryError;
use crate::config::SecretUrl;

/// How long one webhook request may take before it counts as failed (and is retried).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Built once per process: connection pools and TLS configuration are reused.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("sync-notifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Posts `body` and sorts the answer: 2xx delivered; 400/403/404/410 (and other 4xx)
/// refused for good; 429, 5xx and network failures worth retrying. Errors name the
/// destination, never its URL.
pub async fn post_json(
    client: &reqwest::Client,
    destination: &str,
    url: &SecretUrl,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<(), DeliveryError> {
    let mut request = client
        .post(url.expose().clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response =
        request.body(body).send().await.map_err(|error| {
            DeliveryError::Retry(format!("{destination}: {}", error.without_url()))
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(|value| format!(", Retry-After {value}"))
        .unwrap_or_default();
    let answer = format!("{destination}: HTTP {}{retry_after}", status.as_u16());
    if status.as_u16() == 429 || status.is_server_error() {
        Err(DeliveryError::Retry(answer))
    } else {
        Err(DeliveryError::Permanent(answer))
    }
}
