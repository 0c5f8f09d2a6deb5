//! PagerDuty through the Events API v2: a sync that needs someone opens an alert, and the
//! news that it no longer does resolves it.
//!
//! | notification | event |
//! |---|---|
//! | `sync.failed` | `trigger`, severity `error` |
//! | `sync.blocked` | `trigger`, severity `critical` |
//! | `sync.stuck` | `trigger`, severity `warning` |
//! | `sync.succeeded`, `sync.unblocked` | `resolve` |
//! | `sync.started` (only when an `events` filter asks for it), `sync.test` | a change event, which pages nobody |
//!
//! Every event of a stack carries the same `dedup_key` (`sync-notifier/<stack>`), so a
//! failure, the blocker that follows it and a second failure are one alert, which the next
//! success or unblocking resolves. Without an `events` filter a PagerDuty destination gets
//! everything but `sync.started`.
//!
//! 202 is delivered; 400 is permanent (PagerDuty's reason is reported, the routing key
//! never); 429 and 5xx are retried, after their `Retry-After` when they send one. The
//! routing key travels only in the body: no message, log or `Debug` shows it.

use serde_json::{Value, json};

use super::http::{self, Answer};
use super::layout::Message;
use super::secret::{InvalidUrl, SecretToken, SecretUrl};
use super::{Attempt, Clients, Context, Delivered, DeliveryError, Entry, Kind, Variables};
use crate::domain::{KindSet, Notification, NotificationKind, Region};
use crate::text::{clip, preview, single_line};

/// Where events go, unless `eventsUrl` or `PAGERDUTY_EVENTS_URL` says otherwise (the EU
/// service region's is `https://events.eu.pagerduty.com/v2/enqueue`).
pub const DEFAULT_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// "The maximum permitted length of this property is 1024 characters."
pub const SUMMARY_LIMIT: usize = 1024;
/// PagerDuty takes events up to 512 KB; ours stay well under.
pub const EVENT_SIZE_LIMIT: usize = 256 * 1024;
const KEY_FIX: &str = "an integration key is 32 letters and digits: in PagerDuty, open the service → Integrations → Events API V2 → Integration Key";

/// An Events API v2 integration key, and where the Events API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerDutySettings {
    pub routing_key: SecretToken,
    /// Ends with `/enqueue`; change events go to `…/change/enqueue` beside it.
    pub events_url: SecretUrl,
}

/// A PagerDuty service's Events API v2 integration.
#[derive(Debug)]
pub struct PagerDuty {
    settings: PagerDutySettings,
    http: reqwest::Client,
}

/// Why a value is not an integration key. It holds nothing of the value but its length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRoutingKey {
    #[error("the value is {length} characters long; {KEY_FIX}")]
    Length { length: usize },
    #[error("the value has characters other than letters and digits; {KEY_FIX}")]
    Characters,
}

/// Checks an integration key; the error never repeats it.
pub fn parse_routing_key(value: &str) -> Result<SecretToken, InvalidRoutingKey> {
    let value = value.trim();
    let length = value.chars().count();
    if length != 32 {
        return Err(InvalidRoutingKey::Length { length });
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(InvalidRoutingKey::Characters);
    }
    Ok(SecretToken::new(value))
}

/// Why a value is not an Events API v2 URL (the URL shown as its scheme and host only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEventsUrl {
    #[error(transparent)]
    Url(#[from] InvalidUrl),
    #[error(
        "{url} is not an Events API v2 URL; it ends with /v2/enqueue, like {DEFAULT_EVENTS_URL} (change events go beside it)"
    )]
    NotEnqueue { url: SecretUrl },
}

/// Checks an Events API v2 URL: it ends with `/enqueue` (the alert events endpoint).
pub fn check_events_url(url: SecretUrl) -> Result<SecretUrl, InvalidEventsUrl> {
    let path = url.expose().path();
    if path.ends_with("/enqueue") && !path.ends_with("/change/enqueue") {
        Ok(url)
    } else {
        Err(InvalidEventsUrl::NotEnqueue { url })
    }
}

/// `…/v2/change/enqueue`, beside `…/v2/enqueue`.
pub fn change_url(events_url: &SecretUrl) -> Option<reqwest::Url> {
    let mut url = events_url.expose().clone();
    let path = url.path().strip_suffix("enqueue")?.to_owned();
    url.set_path(&format!("{path}change/enqueue"));
    Some(url)
}

fn default_url() -> Result<SecretUrl, InvalidUrl> {
    SecretUrl::parse(DEFAULT_EVENTS_URL)
}

impl Kind for PagerDuty {
    const TYPE: &'static str = "pagerduty";
    const VARIABLES: &'static [&'static str] = &["PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL"];
    const FIELDS: &'static [&'static str] = &["routingKey", "eventsUrl"];
    type Settings = PagerDutySettings;

    fn from_entry(entry: &mut Entry) -> Option<PagerDutySettings> {
        let routing_key = entry.secret(
            "routingKey",
            &format!("give the integration key; {KEY_FIX}"),
            parse_routing_key,
        );
        let events_url = match entry.optional_url("eventsUrl")? {
            Some(url) => check_events_url(url),
            None => default_url().map_err(InvalidEventsUrl::from),
        }
        .map_err(|error| entry.problem("eventsUrl", error.to_string()))
        .ok();
        Some(PagerDutySettings {
            routing_key: routing_key?,
            events_url: events_url?,
        })
    }

    fn from_variables(variables: &mut Variables) -> Option<PagerDutySettings> {
        let url_set = variables.get("PAGERDUTY_EVENTS_URL").is_some();
        if variables.get("PAGERDUTY_ROUTING_KEY").is_none() {
            if url_set {
                variables.problem(
                    "PAGERDUTY_EVENTS_URL",
                    "is used only with PAGERDUTY_ROUTING_KEY; set it too, or unset PAGERDUTY_EVENTS_URL",
                );
            }
            return None;
        }
        let routing_key = variables.parsed("PAGERDUTY_ROUTING_KEY", parse_routing_key);
        let events_url = if url_set {
            variables.parsed("PAGERDUTY_EVENTS_URL", |value| {
                SecretUrl::parse(value)
                    .map_err(InvalidEventsUrl::from)
                    .and_then(check_events_url)
            })
        } else {
            default_url()
                .map_err(|error| variables.problem("PAGERDUTY_EVENTS_URL", error.to_string()))
                .ok()
        };
        Some(PagerDutySettings {
            routing_key: routing_key?,
            events_url: events_url?,
        })
    }

    /// A stack's start is no incident: it is sent only when an `events` filter asks.
    fn default_events() -> KindSet {
        KindSet::ALL.without(NotificationKind::Started)
    }

    fn identity(settings: &PagerDutySettings) -> String {
        format!(
            "{} {}",
            settings.events_url.expose(),
            settings.routing_key.expose()
        )
    }

    fn identity_word() -> &'static str {
        "integration key"
    }

    fn describe(settings: &PagerDutySettings) -> String {
        format!(
            "{}, integration key {}",
            settings.events_url, settings.routing_key
        )
    }

    fn build(settings: &PagerDutySettings, clients: &Clients) -> PagerDuty {
        PagerDuty {
            settings: settings.clone(),
            http: clients.http.clone(),
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let gate = context.gate;
        let (endpoint, mut event) = pagerduty_event(notification, context.region);
        let url = match endpoint {
            Endpoint::Events => Some(self.settings.events_url.expose().clone()),
            Endpoint::Change => change_url(&self.settings.events_url),
        };
        let Some(url) = url else {
            return Err(DeliveryError::Permanent(format!(
                "{}: no change events URL can be made from the events URL",
                gate.key()
            )));
        };
        let key = self.settings.routing_key.expose();
        event["routing_key"] = json!(key);
        let body = super::encode(gate, &event)?;
        http::post(&self.http, gate, &url, &body, Vec::new, |name, answer| {
            interpret(name, key, answer)
        })
        .await?;
        Ok(Delivered::default())
    }
}

/// Where an event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Endpoint {
    /// `…/v2/enqueue`: alert events (trigger, resolve).
    Events,
    /// `…/v2/change/enqueue`: change events, which page nobody.
    Change,
}

/// The same alert for every event of a stack.
pub fn dedup_key(notification: &Notification) -> String {
    format!("sync-notifier/{}", notification.stack().key())
}

/// A value as plain text: cut and on one line (PagerDuty shows text as it is).
fn plain(raw: &str, limit: usize) -> String {
    single_line(&clip(raw, limit))
}

/// The affected system: the stack, with its account and Region when known.
fn source(notification: &Notification, region: Option<&Region>) -> String {
    match (&notification.location, region) {
        (Some(location), _) => format!(
            "{}/{}/{}",
            location.account, location.region, notification.resource
        ),
        (None, Some(region)) => format!("{region}/{}", notification.resource),
        (None, None) => notification.resource.to_string(),
    }
}

/// The event for `notification` (without the routing key, which [`PagerDuty`] adds), and
/// where it goes.
pub fn pagerduty_event(notification: &Notification, region: Option<&Region>) -> (Endpoint, Value) {
    let message = Message::of(notification, region);
    let severity = match notification.kind {
        NotificationKind::Failed => "error",
        NotificationKind::Blocked => "critical",
        NotificationKind::Stuck | NotificationKind::Reminder => "warning",
        NotificationKind::Succeeded | NotificationKind::Unblocked => {
            return (
                Endpoint::Events,
                json!({"event_action": "resolve", "dedup_key": dedup_key(notification)}),
            );
        }
        NotificationKind::Started | NotificationKind::Test | NotificationKind::Digest => "",
    };
    let links: Vec<Value> = message
        .links
        .iter()
        .map(|link| json!({"href": link.url, "text": link.label}))
        .collect();
    let mut payload = json!({
        "summary": clip(&message.phone_line(plain), SUMMARY_LIMIT),
        "source": source(notification, region),
        "timestamp": notification.occurred_at.to_rfc3339(),
        "custom_details": details(notification, region),
    });
    if severity.is_empty() {
        return (
            Endpoint::Change,
            json!({"payload": payload, "links": links}),
        );
    }
    payload["severity"] = json!(severity);
    payload["component"] = json!(notification.resource.as_str());
    payload["group"] = json!(plain(&message.facts.repository, 255));
    payload["class"] = json!(notification.kind.event_type());
    let mut event = json!({
        "event_action": "trigger",
        "dedup_key": dedup_key(notification),
        "payload": payload,
        "links": links,
        "client": "sync-notifier",
    });
    if let Some(url) = &message.facts.console_url {
        event["client_url"] = json!(url);
    }
    (Endpoint::Events, event)
}

/// The webhook body's `data`: everything a responder may want, as a receiver gets it;
/// without its events if they would make the event too large.
fn details(notification: &Notification, region: Option<&Region>) -> Value {
    let body = super::webhook_body(notification, region);
    let mut data = serde_json::to_value(&body.data).unwrap_or_default();
    let size = serde_json::to_vec(&data).map_or(usize::MAX, |bytes| bytes.len());
    if size > EVENT_SIZE_LIMIT / 2 {
        let omitted = data["events"].as_array().map_or(0, Vec::len)
            + data["eventsOmitted"].as_u64().unwrap_or(0) as usize;
        data["events"] = json!([]);
        data["eventsOmitted"] = json!(omitted);
    }
    data
}

/// What one Events API answer means (the rules at the top of this file). `routing_key`
/// is taken out of anything PagerDuty says back.
pub fn interpret(key: &str, routing_key: &str, answer: Answer) -> Attempt<()> {
    match answer.status {
        200..=299 => Attempt::Done(()),
        400 => {
            let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            let mut said: Vec<String> = parsed["message"]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect();
            said.extend(
                parsed["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .take(3)
                    .map(str::to_owned),
            );
            let said = if said.is_empty() {
                String::new()
            } else {
                let text = said.join("; ");
                let text = if routing_key.is_empty() {
                    text
                } else {
                    text.replace(routing_key, "(the integration key)")
                };
                format!(": {}", preview(&text, 300))
            };
            Attempt::Refused(format!(
                "{key}: PagerDuty refused the event (HTTP 400){said}; check that the integration key is an Events API V2 integration's"
            ))
        }
        429 | 500..=599 => Attempt::Failed {
            reason: format!(
                "{key}: PagerDuty answered {}",
                http::status_words(answer.status, answer.retry_after)
            ),
            retry_after: answer.retry_after,
            timed_out: false,
        },
        status => http::classify(key, status, answer.retry_after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_are_checked_without_being_repeated() {
        assert!(parse_routing_key("e93facc04764012d7bfb002500d5d1a6").is_ok());
        assert!(parse_routing_key("R0123456789ABCDEFGHIJKLMNOPQRSTU").is_ok());
        let short = parse_routing_key("SECRETSECRET").unwrap_err().to_string();
        assert!(short.contains("12 characters long"), "{short}");
        assert!(!short.contains("SECRET"), "{short}");
        let odd = parse_routing_key("SECRET-SECRET-SECRET-SECRET-SECR")
            .unwrap_err()
            .to_string();
        assert!(odd.contains("other than letters and digits"), "{odd}");
        assert!(!odd.contains("SECRET"), "{odd}");
    }

    #[test]
    fn change_events_go_beside_alert_events() {
        let events = SecretUrl::parse(DEFAULT_EVENTS_URL).unwrap();
        assert_eq!(
            change_url(&events).unwrap().as_str(),
            "https://events.pagerduty.com/v2/change/enqueue"
        );
        let loopback = SecretUrl::parse("http://127.0.0.1:9/pd/v2/enqueue").unwrap();
        assert_eq!(
            change_url(&loopback).unwrap().as_str(),
            "http://127.0.0.1:9/pd/v2/change/enqueue"
        );
        for bad in [
            "https://events.pagerduty.com/",
            "https://events.pagerduty.com/v2/change/enqueue",
        ] {
            let message = check_events_url(SecretUrl::parse(bad).unwrap())
                .unwrap_err()
                .to_string();
            assert!(message.contains("ends with /v2/enqueue"), "{message}");
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: Some(std::time::Duration::from_secs(2)),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_are_delivered_refused_or_retried() {
        let key = "e93facc04764012d7bfb002500d5d1a6";
        assert_eq!(interpret("k", key, answer(202, "{}")), Attempt::Done(()));
        let body = format!(
            r#"{{"status":"invalid event","message":"Event object is invalid","errors":["bad key {key}"]}}"#
        );
        match interpret("k", key, answer(400, &body)) {
            Attempt::Refused(reason) => {
                assert!(
                    reason.contains("Event object is invalid; bad key (the integration key)"),
                    "{reason}"
                );
                assert!(!reason.contains(key));
            }
            other => panic!("{other:?}"),
        }
        for status in [429, 500, 502, 503] {
            assert_eq!(
                interpret("k", key, answer(status, "")),
                Attempt::Failed {
                    reason: format!("k: PagerDuty answered HTTP {status}, Retry-After 2s"),
                    retry_after: Some(std::time::Duration::from_secs(2)),
                    timed_out: false
                }
            );
        }
        assert!(matches!(
            interpret("k", key, answer(404, "")),
            Attempt::Refused(_)
        ));
    }
}
