//! The generic webhook: the ARCHITECTURE §8 body, signed per the Standard Webhooks
//! specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::http::post_json;
use super::{DeliveryError, Notifier};
use crate::config::{SecretUrl, SigningSecret};
use crate::domain::{Notification, Revision, Timestamp};

#[derive(Debug)]
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: SecretUrl,
    secret: SigningSecret,
    key: String,
}

impl WebhookNotifier {
    pub fn new(client: reqwest::Client, url: SecretUrl, secret: SigningSecret) -> Self {
        let key = format!("webhook#{}", url.fingerprint());
        WebhookNotifier {
            client,
            url,
            secret,
            key,
        }
    }
}

impl Notifier for WebhookNotifier {
    fn key(&self) -> &str {
        &self.key
    }

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&webhook_body(notification)).map_err(|error| {
            DeliveryError::Permanent(format!("{}: cannot encode: {error}", self.key))
        })?;
        let timestamp = Timestamp::now().as_millis() / 1000;
        let signature = sign(&self.secret, &notification.id, timestamp, &body);
        let headers = [
            ("webhook-id", notification.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        post_json(&self.client, &self.key, &self.url, &headers, body).await
    }
}

/// `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.key()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The webhook body (ARCHITECTURE §8). Fields may be added, never removed or renamed.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub timestamp: String,
    pub data: WebhookData<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookData<'a> {
    pub resource_name: &'a str,
    pub sync_type: &'static str,
    pub status: &'a str,
    pub previous_status: Option<&'a str>,
    pub started_at: String,
    pub target: &'a str,
    pub target_revision: &'a Revision,
    pub events: Vec<WebhookEvent<'a>>,
    pub initial_revision: &'a Revision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_revision: Option<&'a Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent<'a> {
    pub event: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub time: String,
    pub external_id: Option<&'a str>,
}

pub fn webhook_body(notification: &Notification) -> WebhookBody<'_> {
    let attempt = &notification.attempt;
    let revision = &attempt.target_revision;
    WebhookBody {
        event_type: notification.kind.event_type(),
        timestamp: notification.occurred_at.to_rfc3339(),
        data: WebhookData {
            resource_name: notification.resource.as_str(),
            sync_type: "CFN_STACK_SYNC",
            status: attempt.status.as_str(),
            previous_status: notification
                .previous_status
                .as_ref()
                .map(|status| status.as_str()),
            started_at: attempt.started_at.to_rfc3339(),
            target: &attempt.target,
            target_revision: revision,
            events: attempt
                .events
                .iter()
                .map(|event| WebhookEvent {
                    event: &event.event,
                    event_type: &event.event_type,
                    time: event.time.to_rfc3339(),
                    external_id: event.external_id.as_deref(),
                })
                .collect(),
            initial_revision: &attempt.initial_revision,
            desired_revision: notification
                .desired_state
                .as_ref()
                .filter(|desired| *desired != revision),
            duration_seconds: notification.duration_seconds(),
            commit_url: super::facts::commit_url(
                &revision.provider_type,
                &revision.owner_id,
                &revision.repository_name,
                &revision.sha,
            ),
            note: notification.note.as_deref(),
        },
    }
}
