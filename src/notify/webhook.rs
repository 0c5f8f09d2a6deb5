//! The generic webhook: the ARCHITECTURE §8 body, signed per the Standard Webhooks
//! specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//!
//! `webhook-id` is the notification's id, stable per resource, attempt and type, so a
//! receiver can drop a repeat; `webhook-timestamp` is the time of each attempt (a retry
//! is signed anew), as the specification asks.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::facts::console_url;
use super::{DeliveryError, Notifier, Target, http_notifier_basics};
use crate::config::SigningSecret;
use crate::domain::Region;
use crate::domain::{Notification, Revision, Timestamp};

#[derive(Debug)]
pub struct WebhookNotifier {
    target: Target,
    /// `None` only if a webhook was ever built without its secret: then nothing is sent.
    secret: Option<SigningSecret>,
}

impl WebhookNotifier {
    pub fn new(target: Target, secret: SigningSecret) -> Self {
        WebhookNotifier {
            target,
            secret: Some(secret),
        }
    }

    pub(super) fn unsigned(target: Target) -> Self {
        WebhookNotifier {
            target,
            secret: None,
        }
    }
}

impl Notifier for WebhookNotifier {
    http_notifier_basics!();

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let Some(secret) = &self.secret else {
            return Err(DeliveryError::Permanent(format!(
                "{}: no signing secret is configured, so nothing is sent",
                self.key()
            )));
        };
        let body = serde_json::to_vec(&webhook_body(notification, self.target.region.as_ref()))
            .map_err(|error| {
                DeliveryError::Permanent(format!("{}: cannot encode: {error}", self.key()))
            })?;
        let headers = || {
            let timestamp = Timestamp::now().as_millis().div_euclid(1000);
            vec![
                ("webhook-id", notification.id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
                (
                    "webhook-signature",
                    sign(secret, &notification.id, timestamp, &body),
                ),
            ]
        };
        self.target.endpoint.post(&body, headers).await
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
    /// The stack in the CloudFormation console, when the Region is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
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

pub fn webhook_body<'a>(
    notification: &'a Notification,
    region: Option<&Region>,
) -> WebhookBody<'a> {
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
            console_url: console_url(notification, region),
            note: notification.note.as_deref(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector every Standard Webhooks reference library tests `sign` with.
    #[test]
    fn signs_the_specification_test_vector() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
