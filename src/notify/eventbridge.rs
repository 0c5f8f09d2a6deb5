//! Amazon EventBridge: one `PutEvents` entry per notification, on the default bus, a
//! named bus, or a bus given by its ARN (in its own Region and account).
//!
//! ```json
//! {"Source": "sync-notifier", "DetailType": "sync.failed",
//!  "Detail": "<the webhook body, as JSON text>",
//!  "Resources": ["arn:aws:cloudformation:…:stack/orders-stack/…"], "EventBusName": "…"}
//! ```
//!
//! `Detail` is the webhook body (ARCHITECTURE §8), so a rule or a target reads the same
//! fields a webhook receiver does; `Resources` holds the stack's ARN when an event of
//! the attempt carries it. An entry must be under 256 KB (its source, detail type,
//! detail and resources): the body already keeps only its newest events, and if it is
//! still too large the oldest of those go too, counted in `eventsOmitted`.
//!
//! `PutEvents` answers 200 even when it fails the entry: a `FailedEntryCount` above zero
//! is a failed delivery, retried when its `ErrorCode` may pass (`ThrottlingException`,
//! `InternalFailure`, a code we do not know) and refused when it will not (access denied,
//! a malformed event), with its `ErrorCode` and `ErrorMessage` in the reason.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::aws_service::{self, Arn, Client, InvalidArn};
use super::facts::stack_arn;
use super::secret::quote;
use super::webhook::{WebhookBody, webhook_body};
use super::{Attempt, Clients, Context, Delivered, DeliveryError, Entry, Kind, Variables};
use crate::domain::{Notification, Region};
use crate::text::preview;

/// The `Source` of every event.
pub const SOURCE: &str = "sync-notifier";
/// An entry (source, detail type, detail and resources, in UTF-8 bytes) must be under
/// this size.
pub const ENTRY_LIMIT: usize = 256 * 1024;

const EXAMPLE: &str = "arn:aws:events:us-east-1:123456789012:event-bus/sync-notifier";

/// Where events go: a bus of the function's account and Region by name (`default`), or
/// any bus by its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    Name(String),
    Arn(Arn),
}

impl Bus {
    /// The `EventBusName` sent.
    pub fn as_str(&self) -> &str {
        match self {
            Bus::Name(name) => name,
            Bus::Arn(arn) => &arn.text,
        }
    }

    fn region(&self) -> Option<&Region> {
        match self {
            Bus::Name(_) => None,
            Bus::Arn(arn) => Some(&arn.region),
        }
    }
}

/// An event bus name: 1-256 letters, digits, `.`, `-`, `_` or `/`.
fn is_bus_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

/// Why a value is not an event bus. It holds the value only [`quote`]d.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBus {
    #[error(transparent)]
    Arn(#[from] InvalidArn),
    #[error(
        "is not the ARN of an event bus (…:event-bus/NAME); give \"default\", a bus name, or a bus ARN like {EXAMPLE}"
    )]
    NotABus,
    #[error(
        "\"-\" is not an event bus (\"-\" leaves only the template's hidden, secret parameters unset); for no event bus leave EVENT_BUS (the template's EventBusName) empty, otherwise give \"default\", a bus name, or a bus ARN"
    )]
    Dash,
    #[error(
        "{quoted} is neither \"default\", an event bus name (1-256 letters, digits, '.', '-', '_' or '/') nor an event bus ARN; give one, like default or {EXAMPLE}"
    )]
    Neither { quoted: String },
}

/// Reads `default`, a bus name or a bus ARN.
pub fn parse_bus(value: &str) -> Result<Bus, InvalidBus> {
    let value = value.trim();
    if value.starts_with("arn:") {
        let arn = Arn::parse(value, "events", "an EventBridge event bus", EXAMPLE)?;
        return match arn.resource.strip_prefix("event-bus/") {
            Some(name) if is_bus_name(name) => Ok(Bus::Arn(arn)),
            _ => Err(InvalidBus::NotABus),
        };
    }
    // "-" means "unset" only for the template's hidden parameters; as a bus it would name
    // a bus "-" that every delivery fails to reach.
    if value == "-" {
        return Err(InvalidBus::Dash);
    }
    if is_bus_name(value) {
        return Ok(Bus::Name(value.to_owned()));
    }
    Err(InvalidBus::Neither {
        quoted: quote(value),
    })
}

/// An EventBridge event bus.
#[derive(Debug)]
pub struct EventBridge {
    bus: Bus,
    client: Client<aws_sdk_eventbridge::Client>,
}

impl Kind for EventBridge {
    const TYPE: &'static str = "eventbridge";
    const VARIABLES: &'static [&'static str] = &["EVENT_BUS"];
    const FIELDS: &'static [&'static str] = &["eventBus"];
    type Settings = Bus;

    fn from_entry(entry: &mut Entry) -> Option<Bus> {
        let value = entry.required(
            "eventBus",
            "an event bus name or ARN",
            &format!("give \"default\", an event bus name, or a bus ARN like {EXAMPLE}"),
        )?;
        parse_bus(&value)
            .map_err(|error| entry.problem("eventBus", error.to_string()))
            .ok()
    }

    fn from_variables(variables: &mut Variables) -> Option<Bus> {
        variables.parsed("EVENT_BUS", parse_bus)
    }

    fn identity(bus: &Bus) -> String {
        bus.as_str().to_owned()
    }

    fn identity_word() -> &'static str {
        "event bus"
    }

    fn describe(bus: &Bus) -> String {
        match bus {
            Bus::Name(name) => format!("event bus {name} in the function's Region"),
            Bus::Arn(arn) => format!("event bus {}", arn.text),
        }
    }

    fn build(bus: &Bus, clients: &Clients) -> EventBridge {
        let client = aws_service::client(clients.aws.as_ref(), bus.region(), |aws, region| {
            aws_service::sdk_client!(aws_sdk_eventbridge, aws, region)
        });
        EventBridge {
            bus: bus.clone(),
            client,
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let key = context.gate.key();
        let client = self.client.ready(key)?;
        let entry = eventbridge_entry(notification, context.region, self.bus.as_str())
            .map_err(|reason| DeliveryError::Permanent(format!("{key}: {reason}")))?;
        context
            .gate
            .send(|timeout| {
                let request = client.put_events().entries(entry.clone()).send();
                aws_service::call(key, timeout, request, fixes, |output| {
                    read_answer(key, &output)
                })
            })
            .await?;
        Ok(Delivered::default())
    }
}

/// A notification too large for an EventBridge entry, even without its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the event is over EventBridge's {ENTRY_LIMIT}-byte limit even without its events; not sent"
)]
pub struct EntryTooLarge;

/// The one entry sent for `notification` to `bus`, its detail cut to fit [`ENTRY_LIMIT`].
pub fn eventbridge_entry(
    notification: &Notification,
    region: Option<&Region>,
    bus: &str,
) -> Result<PutEventsRequestEntry, EntryTooLarge> {
    let detail_type = notification.kind.event_type();
    let resources: Vec<String> = stack_arn(notification, region)
        .map(str::to_owned)
        .into_iter()
        .collect();
    let used = SOURCE.len() + detail_type.len() + resources.iter().map(String::len).sum::<usize>();
    // "Under" the limit: one byte less at most.
    let room = ENTRY_LIMIT.saturating_sub(used + 1);
    let detail = fit(webhook_body(notification, region), room).ok_or(EntryTooLarge)?;
    Ok(PutEventsRequestEntry::builder()
        .source(SOURCE)
        .detail_type(detail_type)
        .detail(detail)
        .set_resources((!resources.is_empty()).then_some(resources))
        .event_bus_name(bus)
        .build())
}

/// The body as JSON text of at most `room` bytes: the oldest events go first (counted in
/// `eventsOmitted`), then a blocker's Key/Value pairs; `None` if it still does not fit.
fn fit(mut body: WebhookBody<'_>, room: usize) -> Option<String> {
    loop {
        let text = serde_json::to_string(&body).ok()?;
        if text.len() <= room {
            return Some(text);
        }
        let events = &mut body.data.events;
        if events.is_empty() {
            match body.data.blocker.as_mut() {
                Some(blocker) if !blocker.contexts.is_empty() => {
                    blocker.contexts.clear();
                    continue;
                }
                _ => return None,
            }
        }
        // Drop the oldest until about the excess is freed; the loop checks the result.
        let excess = text.len() - room;
        let mut freed = 0;
        while freed < excess && !events.is_empty() {
            let oldest = (0..events.len())
                .min_by(|a, b| events[*a].time.cmp(&events[*b].time))
                .unwrap_or(0);
            let event = events.remove(oldest);
            freed += serde_json::to_string(&event).map_or(0, |text| text.len() + 1);
            body.data.events_omitted += 1;
        }
    }
}

/// Whether `PutEvents` took the one entry.
fn read_answer(
    key: &str,
    output: &aws_sdk_eventbridge::operation::put_events::PutEventsOutput,
) -> Attempt<()> {
    let entries = output.entries();
    let failed = output.failed_entry_count();
    let unread = |what: &str| Attempt::Failed {
        reason: format!("{key}: EventBridge's answer {what}, so the event may not have been put"),
        retry_after: None,
        timed_out: false,
    };
    match entries {
        [entry] if entry.error_code().is_some() || failed > 0 => {
            let code = entry.error_code().unwrap_or("no error code");
            let said = format!(
                "{key}: EventBridge failed the entry: {code}: {}",
                preview(entry.error_message().unwrap_or("no message"), 300)
            );
            match fixes(code) {
                Some(fix) if !aws_service::is_transient(code) => {
                    Attempt::Refused(format!("{said}; {fix}"))
                }
                _ => Attempt::Failed {
                    reason: said,
                    retry_after: None,
                    timed_out: false,
                },
            }
        }
        [entry] if entry.event_id().is_some_and(|id| !id.is_empty()) => Attempt::Done(()),
        [_] => unread("gave no EventId"),
        _ if failed > 0 => unread("counted a failed entry without saying which"),
        _ => unread(&format!("has {} entries for the one sent", entries.len())),
    }
}

/// What to do when EventBridge refuses, by its error code (of the call, or of the entry).
fn fixes(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDeniedException" | "AccessDenied" => {
            "the function's role needs events:PutEvents on this event bus (and a bus in another account must allow it in its resource policy)"
        }
        "NotAuthorizedForSourceException" => {
            "the role's events:PutEvents permission is limited by an events:source condition; allow the source sync-notifier"
        }
        "NotAuthorizedForDetailTypeException" => {
            "the role's events:PutEvents permission is limited by an events:detail-type condition; allow the detail types sync.*"
        }
        "ResourceNotFoundException" => {
            "the event bus does not exist in that Region and account; create it, or correct eventBus / EVENT_BUS"
        }
        "InvalidAccountIdException" => {
            "the event bus's account is not valid; correct eventBus / EVENT_BUS"
        }
        "InvalidArgument" | "ValidationException" | "MalformedDetail" | "RedactionFailure" => {
            "EventBridge did not accept the event as it is; report this as a bug"
        }
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationTokenException" => {
            "AWS did not accept the function's credentials; check the AWS configuration it runs with"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_default_names_and_arns() {
        assert_eq!(parse_bus("default"), Ok(Bus::Name("default".into())));
        assert_eq!(
            parse_bus(" ops.sync-events "),
            Ok(Bus::Name("ops.sync-events".into()))
        );
        let Ok(Bus::Arn(arn)) = parse_bus("arn:aws:events:eu-west-1:123456789012:event-bus/hub")
        else {
            panic!("an ARN");
        };
        assert_eq!(arn.region.as_str(), "eu-west-1");
    }

    #[test]
    fn says_what_is_wrong_with_a_bus() {
        for (value, expected) in [
            ("my bus", "is neither"),
            (
                "arn:aws:events:eu-west-1:123456789012:rule/x",
                "not the ARN of an event bus",
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:t",
                "not of an EventBridge event bus",
            ),
            (
                "arn:aws:events:eu-west:123456789012:event-bus/x",
                "not a Region",
            ),
        ] {
            let message = parse_bus(value).unwrap_err().to_string();
            assert!(message.contains(expected), "{value}: {message}");
        }
        let message = parse_bus("https://example.com/hook?token=SECRET")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("SECRET"), "{message}");
    }
}
