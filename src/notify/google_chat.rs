//! Google Chat incoming webhooks: a card (`cardsV2`) with the same facts as the other chat
//! destinations, and a one-line `text` that a phone notification shows.
//!
//! ```json
//! {"text": "❌ Sync failed: orders-stack · c4f8a2e on acme/infra (main) · …",
//!  "cardsV2": [{"cardId": "sync-notifier", "card": {"header": {…}, "sections": [{"widgets": […]}]}}],
//!  "thread": {"threadKey": "sync-notifier-…"}}
//! ```
//!
//! Card text is Google Chat's HTML subset, so every value from AWS or Git is cut, put on one
//! line and has `&`, `<` and `>` escaped ([`escape_html`]): nothing in a commit or an event
//! can open a tag, a link or a mention; the only tags are the links, bold and italics
//! written here. In the plain `text`, where `<…>` is link and mention syntax, those two
//! characters become `‹` and `›`.
//!
//! Each stack's attempt is one thread: `thread.threadKey` is derived from the stack and the
//! attempt (never the notification), and the webhook URL gets
//! `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`, without which Google Chat
//! ignores the key. A message stays under [`GOOGLE_CHAT_LIMIT`] bytes and
//! [`WIDGETS_LIMIT`] widgets, whatever the input: events are dropped oldest first, then
//! every value is cut shorter.

use serde_json::{Value, json};

use super::layout::{Message, Part};
use super::secret::SecretUrl;
use super::{Attempt, Clients, Context, Delivered, DeliveryError, Entry, Kind, Variables, http};
use crate::domain::{Notification, NotificationKind, Region, SyncEvent};
use crate::text::{clip, escape_html, more, preview, single_line};

/// Google Chat refuses messages over 32,000 bytes; the JSON we send is measured against a
/// lower ceiling, since Google counts the message its own way.
pub const GOOGLE_CHAT_LIMIT: usize = 30_000;
/// "You can add up to 100 widgets per card. Any widgets beyond this limit are ignored."
pub const WIDGETS_LIMIT: usize = 100;
/// The one-line `text`.
pub const TEXT_LIMIT: usize = 300;
const EVENT_LIMIT: usize = 400;
const NOTE_LIMIT: usize = 1000;
/// What the webhook URL gets, so that `thread.threadKey` is honoured.
const REPLY_OPTION: &str = "messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

/// A Google Chat space's incoming webhook.
#[derive(Debug)]
pub struct GoogleChat {
    /// The webhook URL with [`REPLY_OPTION`] in its query.
    url: SecretUrl,
    http: reqwest::Client,
}

/// The webhook URL with `messageReplyOption` set (replacing any the URL had), the rest of
/// its query (the key and token) kept byte for byte.
pub fn threaded_url(url: &SecretUrl) -> SecretUrl {
    let mut threaded = url.expose().clone();
    let mut query: Vec<&str> = url
        .expose()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("messageReplyOption="))
        .collect();
    query.push(REPLY_OPTION);
    threaded.set_query(Some(&query.join("&")));
    SecretUrl::parse(threaded.as_str()).unwrap_or_else(|_| url.clone())
}

impl Kind for GoogleChat {
    const TYPE: &'static str = "google-chat";
    const VARIABLES: &'static [&'static str] = &["GOOGLE_CHAT_WEBHOOK_URL"];
    const FIELDS: &'static [&'static str] = &["url"];
    type Settings = SecretUrl;

    fn from_entry(entry: &mut Entry) -> Option<SecretUrl> {
        entry.url("url")
    }

    fn from_variables(variables: &mut Variables) -> Option<SecretUrl> {
        variables.url("GOOGLE_CHAT_WEBHOOK_URL")
    }

    fn identity(url: &SecretUrl) -> String {
        url.expose().as_str().to_owned()
    }

    fn describe(url: &SecretUrl) -> String {
        url.to_string()
    }

    fn build(url: &SecretUrl, clients: &Clients) -> GoogleChat {
        GoogleChat {
            url: threaded_url(url),
            http: clients.http.clone(),
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let body = super::encode(
            context.gate,
            &google_chat_message(notification, context.region),
        )?;
        let headers = || vec![("content-type", "application/json; charset=UTF-8".to_owned())];
        http::post(
            &self.http,
            context.gate,
            self.url.expose(),
            &body,
            headers,
            interpret,
        )
        .await?;
        Ok(Delivered::default())
    }
}

/// What Google Chat's answer means: as any webhook's, and a refusal says what Google said
/// (`{"error": {"message": …}}`, cut and on one line) and the fix.
pub fn interpret(key: &str, answer: http::Answer) -> Attempt<()> {
    let Attempt::Refused(reason) = http::classify(key, answer.status, answer.retry_after) else {
        return http::classify(key, answer.status, answer.retry_after);
    };
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let said = parsed["error"]["message"]
        .as_str()
        .map(|message| format!(": Google Chat says {:?}", preview(message, 200)))
        .unwrap_or_default();
    Attempt::Refused(format!(
        "{reason}{said}; if the webhook was deleted or its space is gone, create a webhook in the space (Apps & integrations → Webhooks) and put its URL in GOOGLE_CHAT_WEBHOOK_URL (or the entry's url)"
    ))
}

/// The thread of a stack's attempt: the same for every notification about it (its start,
/// its ending, a blocker seen then), and for no other attempt or stack.
pub fn thread_key(notification: &Notification) -> String {
    format!(
        "sync-notifier-{}",
        super::facts::attempt_fingerprint(notification, 16)
    )
}

/// How much of each value a rendering keeps.
#[derive(Debug, Clone, Copy)]
struct Room {
    /// Events listed (newest first).
    events: usize,
    /// The longest raw value, note or event text; `None`: each value's own limit.
    cap: Option<usize>,
}

impl Room {
    fn limit(&self, limit: usize) -> usize {
        self.cap.map_or(limit, |cap| limit.min(cap))
    }
}

/// A value for card HTML: cut, on one line, escaped.
fn html(raw: &str, limit: usize) -> String {
    escape_html(&single_line(&clip(raw, limit)))
}

/// A value for the plain `text`: cut, on one line, and no `<` or `>` (link and mention
/// syntax there).
fn plain(raw: &str, limit: usize) -> String {
    single_line(&clip(raw, limit))
        .replace('<', "‹")
        .replace('>', "›")
}

fn render(parts: &[Part], room: Room) -> String {
    parts
        .iter()
        .map(|part| match part {
            Part::Raw(raw, limit) => html(raw, room.limit(*limit)),
            Part::Fixed(text) => escape_html(text),
            Part::Commit(commit) => {
                let sha = html(&commit.short_sha, 40);
                match &commit.url {
                    // Built from checked parts (see `facts::commit_url`): no quote or tag.
                    Some(url) => format!("<a href=\"{}\">{sha}</a>", escape_html(url)),
                    None => sha,
                }
            }
            Part::Date(at) => at.to_readable(),
        })
        .collect()
}

fn event_widget(event: &SyncEvent, room: Room) -> Value {
    let kind = if event.event_type.is_empty() {
        String::new()
    } else {
        format!(" <b>{}</b>", html(&event.event_type, 30))
    };
    json!({"textParagraph": {"text": format!(
        "{}{kind} {}",
        event.time.time_of_day(),
        html(&event.event, room.limit(EVENT_LIMIT))
    )}})
}

fn paragraph(text: String) -> Value {
    json!({"textParagraph": {"text": text}})
}

pub fn google_chat_message(notification: &Notification, region: Option<&Region>) -> Value {
    let message = Message::of(notification, region);
    let (shown, _) = message.shown_events();
    let mut body = Value::Null;
    for cap in [None, Some(60)] {
        for events in (0..=shown.len()).rev() {
            body = self::body(notification, &message, Room { events, cap });
            if fits(&body) {
                return body;
            }
        }
    }
    body
}

/// Whether a message is inside Google Chat's limits.
pub fn fits(body: &Value) -> bool {
    let widgets: usize = body["cardsV2"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|card| card["card"]["sections"].as_array().into_iter().flatten())
        .map(|section| section["widgets"].as_array().map_or(0, Vec::len))
        .sum();
    widgets <= WIDGETS_LIMIT
        && serde_json::to_vec(body).map_or(usize::MAX, |bytes| bytes.len()) <= GOOGLE_CHAT_LIMIT
}

fn body(notification: &Notification, message: &Message, room: Room) -> Value {
    let mut sections = Vec::new();
    let fields: Vec<Value> = message
        .fields
        .iter()
        .map(|field| {
            json!({"decoratedText": {
                "topLabel": field.label,
                "text": render(&field.parts, room),
                "wrapText": true
            }})
        })
        .collect();
    sections.push(json!({"widgets": fields}));

    if !message.events.is_empty() {
        let mut widgets: Vec<Value> = message
            .events
            .iter()
            .take(room.events)
            .map(|event| event_widget(event, room))
            .collect();
        let shown = widgets.len();
        if message.events_total > shown {
            widgets.push(paragraph(format!(
                "<i>{}</i>",
                more(message.events_total - shown)
            )));
        }
        sections.push(json!({"header": "What happened (newest first)", "widgets": widgets}));
    }

    let mut notes: Vec<Value> = message
        .notes
        .iter()
        .map(|note| {
            paragraph(format!(
                "<i>{}</i>",
                html(note, room.limit(NOTE_LIMIT).max(300))
            ))
        })
        .collect();
    if let Some((purpose, command)) = &message.command {
        notes.push(json!({"decoratedText": {
            "topLabel": purpose,
            "text": html(command, room.limit(NOTE_LIMIT).max(300)),
            "wrapText": true
        }}));
    }
    if !notes.is_empty() {
        sections.push(json!({"widgets": notes}));
    }

    let buttons: Vec<Value> = message
        .links
        .iter()
        .map(|link| json!({"text": clip(&link.label, 75), "onClick": {"openLink": {"url": link.url}}}))
        .collect();
    if !buttons.is_empty() {
        sections.push(json!({"widgets": [{"buttonList": {"buttons": buttons}}]}));
    }
    let mut footer = message.kind.event_type().to_owned();
    if message.facts.console_url.is_some() {
        footer.push_str(
            " · every sync of this stack is on its Git sync tab in the CloudFormation console",
        );
    }
    sections.push(json!({"widgets": [paragraph(footer)]}));

    let mut body = json!({
        "text": clip(&message.phone_line(plain), TEXT_LIMIT),
        "cardsV2": [{
            "cardId": "sync-notifier",
            "card": {
                "header": {
                    // The stack's name was checked: letters, digits, '-' and '_'.
                    "title": message.title,
                    "subtitle": "AWS CloudFormation Git sync"
                },
                "sections": sections
            }
        }]
    });
    if notification.kind != NotificationKind::Test {
        body["thread"] = json!({"threadKey": thread_key(notification)});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_option_joins_the_webhook_query_untouched() {
        let url = SecretUrl::parse(
            "https://chat.googleapis.com/v1/spaces/AAA/messages?key=K%2Fy&token=T%3D",
        )
        .unwrap();
        assert_eq!(
            threaded_url(&url).expose().as_str(),
            "https://chat.googleapis.com/v1/spaces/AAA/messages?key=K%2Fy&token=T%3D&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        );
        let again = threaded_url(&threaded_url(&url));
        assert_eq!(
            again
                .expose()
                .query()
                .unwrap()
                .matches("messageReplyOption")
                .count(),
            1
        );
        let bare = SecretUrl::parse("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(
            threaded_url(&bare).expose().query(),
            Some("messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
        );
    }

    #[test]
    fn plain_text_has_no_link_or_mention_syntax() {
        assert_eq!(plain("<users/all> a\nb", 100), "‹users/all› a b");
    }
}
