//! The generic webhook: the ARCHITECTURE §8 body, signed per the Standard Webhooks
//! specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//!
//! `webhook-id` is the notification's id, stable per stack, attempt (or blocker) and type,
//! so a receiver can drop a repeat; `webhook-timestamp` is the time of each attempt (a
//! retry is signed anew), as the specification asks. The body's `events` hold at most the
//! [`EVENTS_IN_BODY`] newest events; `eventsOmitted` says how many more there were.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::facts::console_url;
use super::secret::{SecretUrl, SigningSecret};
use super::{Clients, Context, Delivered, DeliveryError, Entry, Kind, Variables, http};
use crate::domain::{Blocker, Notification, NotificationKind, Region, Revision, Timestamp};

/// The most events a webhook body carries (the newest).
pub const EVENTS_IN_BODY: usize = 50;

/// A webhook's URL and its signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub url: SecretUrl,
    pub secret: SigningSecret,
}

/// A generic webhook, signed.
#[derive(Debug)]
pub struct Webhook {
    settings: WebhookSettings,
    http: reqwest::Client,
}

const SECRET_MISSING: &str = "a webhook is always signed, so receivers can verify it: set it to whsec_$(openssl rand -base64 32)";

impl Kind for Webhook {
    const TYPE: &'static str = "webhook";
    const VARIABLES: &'static [&'static str] = &["WEBHOOK_URL", "WEBHOOK_SECRET"];
    const FIELDS: &'static [&'static str] = &["url", "secret"];
    type Settings = WebhookSettings;

    fn from_entry(entry: &mut Entry) -> Option<WebhookSettings> {
        let url = entry.url("url");
        let secret = entry.secret("secret", SECRET_MISSING, SigningSecret::parse);
        Some(WebhookSettings {
            url: url?,
            secret: secret?,
        })
    }

    fn from_variables(variables: &mut Variables) -> Option<WebhookSettings> {
        let url = variables.url("WEBHOOK_URL");
        let secret = variables.parsed("WEBHOOK_SECRET", SigningSecret::parse);
        match (
            url,
            secret,
            variables.get("WEBHOOK_URL"),
            variables.get("WEBHOOK_SECRET"),
        ) {
            (Some(url), Some(secret), _, _) => Some(WebhookSettings { url, secret }),
            (_, _, Some(_), None) => {
                variables.problem(
                    "WEBHOOK_SECRET",
                    "is required with WEBHOOK_URL, so receivers can verify each message; set it to whsec_$(openssl rand -base64 32)",
                );
                None
            }
            (_, _, None, Some(_)) => {
                variables.problem(
                    "WEBHOOK_URL",
                    "is required with WEBHOOK_SECRET; set the URL to send to, or unset WEBHOOK_SECRET",
                );
                None
            }
            _ => None,
        }
    }

    fn identity(settings: &WebhookSettings) -> String {
        settings.url.expose().as_str().to_owned()
    }

    fn describe(settings: &WebhookSettings) -> String {
        format!("{}, signed", settings.url)
    }

    fn build(settings: &WebhookSettings, clients: &Clients) -> Webhook {
        Webhook {
            settings: settings.clone(),
            http: clients.http.clone(),
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let body =
            serde_json::to_vec(&webhook_body(notification, context.region)).map_err(|error| {
                DeliveryError::Permanent(format!("{}: cannot encode: {error}", context.gate.key()))
            })?;
        let secret = &self.settings.secret;
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
        http::post_webhook(&self.http, context.gate, &self.settings.url, &body, headers).await?;
        Ok(Delivered::default())
    }
}

/// `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this never fails (and would sign with nothing).
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.key()) else {
        return "v1,".to_owned();
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
    /// The notification's id, as in the `webhook-id` header: stable across retries, so a
    /// consumer that sees only the body (EventBridge, a queue) can drop a repeat.
    pub id: &'a str,
    pub resource_name: &'a str,
    pub sync_type: &'static str,
    pub status: &'a str,
    pub previous_status: Option<&'a str>,
    pub started_at: String,
    pub target: &'a str,
    pub target_revision: WireRevision<'a>,
    pub events: Vec<WebhookEvent<'a>>,
    pub initial_revision: WireRevision<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_revision: Option<WireRevision<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_url: Option<String>,
    /// The stack in the CloudFormation console, when the Region is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// Events left out of `events` (the newest [`EVENTS_IN_BODY`] are kept).
    #[serde(skip_serializing_if = "is_zero")]
    pub events_omitted: usize,
    /// Hub mode: the stack's account, its name when known, and its Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    /// `sync.blocked` and `sync.unblocked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocker: Option<WireBlocker<'a>>,
    /// `sync.stuck`: how long the attempt has been running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_seconds: Option<i64>,
    /// The attempt this one replaced, whose outcome AWS no longer reports (rule 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<WireReplaced<'a>>,
    /// The ending of an attempt that had been reported stuck.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reported_stuck: bool,
    /// `sync.test`: this is a test message, about no real stack.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
    /// `sync.failed`: the resource that made it fail, from CloudFormation's events (§14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<WireRootCause<'a>>,
    /// What the attempt created, updated and deleted (or tried to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<WireChanges<'a>>,
    /// The provider's page comparing the last successful commit with this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_url: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireRootCause<'a> {
    pub logical_id: &'a str,
    pub resource_type: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    /// The stack or nested stack it happened in.
    pub stack: &'a str,
    pub time: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireChanges<'a> {
    pub created: Vec<WireChanged<'a>>,
    pub updated: Vec<WireChanged<'a>>,
    pub deleted: Vec<WireChanged<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub created_omitted: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub updated_omitted: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub deleted_omitted: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireChanged<'a> {
    pub logical_id: &'a str,
    pub resource_type: &'a str,
}

fn wire_changed(list: &[crate::domain::ChangedResource]) -> Vec<WireChanged<'_>> {
    list.iter()
        .map(|changed| WireChanged {
            logical_id: &changed.logical_id,
            resource_type: &changed.resource_type,
        })
        .collect()
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireRevision<'a> {
    pub provider_type: &'a str,
    pub owner_id: &'a str,
    pub repository_name: &'a str,
    pub branch: &'a str,
    pub directory: &'a str,
    pub sha: &'a str,
}

impl<'a> From<&'a Revision> for WireRevision<'a> {
    fn from(revision: &'a Revision) -> Self {
        WireRevision {
            provider_type: &revision.provider_type,
            owner_id: &revision.owner_id,
            repository_name: &revision.repository_name,
            branch: &revision.branch,
            directory: &revision.directory,
            sha: &revision.sha,
        }
    }
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireBlocker<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub blocker_type: &'a str,
    pub status: &'static str,
    pub created_reason: &'a str,
    pub created_at: String,
    /// The blocker's Key/Value pairs.
    pub contexts: serde_json::Map<String, serde_json::Value>,
    pub resolved_reason: Option<&'a str>,
    pub resolved_at: Option<String>,
}

impl<'a> From<&'a Blocker> for WireBlocker<'a> {
    fn from(blocker: &'a Blocker) -> Self {
        WireBlocker {
            id: &blocker.id,
            blocker_type: &blocker.blocker_type,
            status: blocker.status.as_str(),
            created_reason: &blocker.created_reason,
            created_at: blocker.created_at.to_rfc3339(),
            contexts: blocker
                .contexts
                .iter()
                .map(|(key, value)| (key.clone(), serde_json::Value::from(value.as_str())))
                .collect(),
            resolved_reason: blocker.resolved_reason.as_deref(),
            resolved_at: blocker.resolved_at.map(Timestamp::to_rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireReplaced<'a> {
    pub started_at: String,
    pub sha: &'a str,
    pub outcome: &'static str,
}

pub fn webhook_body<'a>(
    notification: &'a Notification,
    region: Option<&Region>,
) -> WebhookBody<'a> {
    let attempt = &notification.attempt;
    let revision = &attempt.target_revision;
    // The newest events (by time; AWS's order among equal times), in AWS's order.
    let mut newest: Vec<usize> = (0..attempt.events.len()).collect();
    newest.sort_by_key(|index| std::cmp::Reverse((attempt.events[*index].time, *index)));
    newest.truncate(EVENTS_IN_BODY);
    newest.sort_unstable();
    let omitted = attempt.events.len() - newest.len() + attempt.events_omitted;
    WebhookBody {
        event_type: notification.kind.event_type(),
        timestamp: notification.occurred_at.to_rfc3339(),
        data: WebhookData {
            id: &notification.id,
            resource_name: notification.resource.as_str(),
            sync_type: "CFN_STACK_SYNC",
            status: attempt.status.as_str(),
            previous_status: notification
                .previous_status
                .as_ref()
                .map(|status| status.as_str()),
            started_at: attempt.started_at.to_rfc3339(),
            target: &attempt.target,
            target_revision: revision.into(),
            events: newest
                .into_iter()
                .map(|index| {
                    let event = &attempt.events[index];
                    WebhookEvent {
                        event: &event.event,
                        event_type: &event.event_type,
                        time: event.time.to_rfc3339(),
                        external_id: event.external_id.as_deref(),
                    }
                })
                .collect(),
            initial_revision: (&attempt.initial_revision).into(),
            desired_revision: notification
                .desired_state
                .as_ref()
                .filter(|desired| *desired != revision)
                .map(Into::into),
            duration_seconds: notification.duration_seconds(),
            // A test message's commit is made up: no link.
            commit_url: (notification.kind != NotificationKind::Test)
                .then(|| {
                    super::facts::commit_url(
                        &revision.provider_type,
                        &revision.owner_id,
                        &revision.repository_name,
                        &revision.sha,
                    )
                })
                .flatten(),
            console_url: console_url(notification, region),
            note: notification.note.as_deref(),
            events_omitted: omitted,
            account: notification
                .location
                .as_ref()
                .map(|location| location.account.as_str()),
            account_name: notification.account_name.as_deref(),
            region: notification
                .location
                .as_ref()
                .map(|location| location.region.as_str()),
            blocker: notification.blocker.as_ref().map(Into::into),
            running_seconds: notification.running_seconds(),
            replaced: notification.replaced.as_ref().map(|replaced| WireReplaced {
                started_at: replaced.started_at.to_rfc3339(),
                sha: &replaced.sha,
                outcome: "unknown",
            }),
            reported_stuck: notification.reported_stuck,
            test: notification.kind == NotificationKind::Test,
            root_cause: notification
                .explanation
                .root_cause
                .as_ref()
                .map(|cause| WireRootCause {
                    logical_id: &cause.logical_id,
                    resource_type: &cause.resource_type,
                    status: &cause.status,
                    reason: cause.reason.as_deref(),
                    stack: &cause.stack,
                    time: cause.time.to_rfc3339(),
                }),
            changes: notification
                .explanation
                .changes
                .as_ref()
                .map(|changes| WireChanges {
                    created: wire_changed(&changes.created),
                    updated: wire_changed(&changes.updated),
                    deleted: wire_changed(&changes.deleted),
                    created_omitted: changes.created_omitted,
                    updated_omitted: changes.updated_omitted,
                    deleted_omitted: changes.deleted_omitted,
                }),
            compare_url: super::facts::compare_of(notification).map(|compare| compare.url),
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
