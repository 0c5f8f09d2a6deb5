//! Amazon Q Developer in chat applications (formerly AWS Chatbot): a custom notification
//! published to the SNS topic a Q Developer channel configuration is subscribed to, which
//! posts it to Slack, Microsoft Teams or Amazon Chime.
//!
//! ```json
//! {"version": "1.0", "source": "custom", "id": "msg_…",
//!  "content": {"textType": "client-markdown", "title": "…", "description": "…",
//!              "nextSteps": ["…"], "keywords": ["sync.failed", "orders-stack", "acme/infra"]},
//!  "metadata": {"threadId": "orders-stack-…", "summary": "…", "eventType": "sync.failed",
//!               "relatedResources": ["arn:aws:cloudformation:…"], "additionalContext": {…}}}
//! ```
//!
//! `threadId` is the same for every message about one attempt of one stack (from the
//! stack's key and the attempt's start and commit, not from the notification's id), so
//! a sync's messages form one thread where the channel allows it.
//!
//! `client-markdown` is Slack's mrkdwn (AWS's own samples link as `<url|text>`), which
//! Q Developer turns into the target platform's markdown. Every value from AWS or Git is
//! cut, put on one line and escaped: `&`, `<` and `>` as Slack asks (so nothing can
//! mention `@channel` or forge a link), a backtick becomes `ˋ` (so no code block can
//! swallow the lines after it), and `](` becomes `] (` (so no `[text](url)` link can
//! form where the target reads CommonMark). The only links are the ones written here.
//! No limits are documented; the title stays within Slack's 150 characters for a header
//! and the description within its 3,000 for a section.

use serde_json::{Map, Value, json};

use super::aws_service::{self, Arn, Client, InvalidArn};
use super::facts::{Commit, stack_arn};
use super::layout::{Message, Part};
use super::{Attempt, Clients, Context, Delivered, DeliveryError, Entry, Kind, Variables};
use crate::domain::{Notification, NotificationKind, Region, SyncEvent};
use crate::text::escape_html as escape;
use crate::text::{clip, fit_lines, single_line, units};

/// The limits we keep to (Slack's, the tightest platform Q Developer posts to).
pub const TITLE_LIMIT: usize = 150;
pub const DESCRIPTION_LIMIT: usize = 3000;
pub const SUMMARY_LIMIT: usize = 300;
/// A custom action's variable value: 1-1024 printable ASCII characters, no space.
pub const CONTEXT_VALUE_LIMIT: usize = 1024;
const EVENT_LIMIT: usize = 400;

const EXAMPLE: &str = "arn:aws:sns:us-east-1:123456789012:sync-notifier";

/// Amazon Q Developer in chat applications, through its SNS topic.
#[derive(Debug)]
pub struct QDeveloper {
    topic: Arn,
    client: Client<aws_sdk_sns::Client>,
}

/// Why a value is not the ARN of a topic Q Developer can subscribe to. It holds the
/// topic name only [`quote`](super::secret::quote)d.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTopic {
    #[error(transparent)]
    Arn(#[from] InvalidArn),
    #[error(
        "names a FIFO topic, which Amazon Q Developer cannot subscribe to; use a standard topic, like {EXAMPLE}"
    )]
    Fifo,
    #[error(
        "the topic name {quoted} is not valid (1-256 letters, digits, '-' or '_'); give the ARN of an SNS topic, like {EXAMPLE}"
    )]
    Name { quoted: String },
}

/// Reads a topic ARN: a standard SNS topic, which Q Developer can subscribe to.
pub fn parse_topic(value: &str) -> Result<Arn, InvalidTopic> {
    let arn = Arn::parse(value, "sns", "an SNS topic", EXAMPLE)?;
    if arn.resource.ends_with(".fifo") {
        return Err(InvalidTopic::Fifo);
    }
    let name = &arn.resource;
    let valid = (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(InvalidTopic::Name {
            quoted: super::secret::quote(name),
        });
    }
    Ok(arn)
}

impl Kind for QDeveloper {
    const TYPE: &'static str = "q-developer";
    const VARIABLES: &'static [&'static str] = &["Q_DEVELOPER_TOPIC_ARN"];
    const FIELDS: &'static [&'static str] = &["topicArn"];
    type Settings = Arn;

    fn from_entry(entry: &mut Entry) -> Option<Arn> {
        let value = entry.required(
            "topicArn",
            "an SNS topic ARN",
            &format!(
                "give the ARN of the SNS topic your Amazon Q Developer channel configuration is subscribed to, like {EXAMPLE}"
            ),
        )?;
        parse_topic(&value)
            .map_err(|error| entry.problem("topicArn", error.to_string()))
            .ok()
    }

    fn from_variables(variables: &mut Variables) -> Option<Arn> {
        variables.parsed("Q_DEVELOPER_TOPIC_ARN", parse_topic)
    }

    fn identity(topic: &Arn) -> String {
        topic.text.clone()
    }

    fn identity_word() -> &'static str {
        "topic"
    }

    fn describe(topic: &Arn) -> String {
        format!("SNS topic {}", topic.text)
    }

    fn build(topic: &Arn, clients: &Clients) -> QDeveloper {
        let client =
            aws_service::client(clients.aws.as_ref(), Some(&topic.region), |aws, region| {
                aws_service::sdk_client!(aws_sdk_sns, aws, region)
            });
        QDeveloper {
            topic: topic.clone(),
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
        let message = serde_json::to_string(&q_developer_message(notification, context.region))
            .map_err(|error| DeliveryError::Permanent(format!("{key}: cannot encode: {error}")))?;
        context
            .gate
            .send(|timeout| {
                let request = client
                    .publish()
                    .topic_arn(&self.topic.text)
                    .message(message.clone())
                    .send();
                aws_service::call(key, timeout, request, fixes, |output| {
                    match output.message_id() {
                        Some(id) if !id.is_empty() => Attempt::Done(()),
                        _ => Attempt::Failed {
                            reason: format!(
                                "{key}: SNS answered without a MessageId, so the message may not have been published"
                            ),
                            retry_after: None,
                            timed_out: false,
                        },
                    }
                })
            })
            .await?;
        Ok(Delivered::default())
    }
}

/// What to do when SNS refuses, by its error code.
fn fixes(code: &str) -> Option<&'static str> {
    Some(match code {
        "AuthorizationError" | "AccessDenied" | "AccessDeniedException" => {
            "the function's role needs sns:Publish on this topic (and the topic's access policy must not deny it)"
        }
        "NotFound" | "NotFoundException" => {
            "the topic does not exist in the Region and account of its ARN; create it, or correct topicArn / Q_DEVELOPER_TOPIC_ARN"
        }
        "KMSAccessDenied" | "KMSDisabled" | "KMSInvalidState" | "KMSNotFound"
        | "KMSOptInRequired" => {
            "the topic is encrypted with a KMS key the function cannot use; allow its role kms:GenerateDataKey* and kms:Decrypt on that key, and check that the key is enabled"
        }
        "InvalidParameter"
        | "ParameterValueInvalid"
        | "InvalidParameterValue"
        | "ValidationException" => {
            "SNS did not accept the message as it is; check that the topic is a standard topic, or report this as a bug"
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "InvalidSecurity" => {
            "AWS did not accept the function's credentials; check the AWS configuration it runs with"
        }
        _ => return None,
    })
}

/// A raw value made safe for client-markdown: cut, on one line, escaped (see the
/// module's rules).
fn value(raw: &str, limit: usize) -> String {
    escape(&single_line(&clip(raw, limit)))
        .replace('`', "ˋ")
        .replace("](", "] (")
}

/// Cuts markdown to `limit` without leaving half an entity (`&am`) or half a link: the
/// same repair as Slack's mrkdwn, whose entities and `<link|text>` client-markdown shares.
fn cut(text: &str, limit: usize) -> String {
    super::slack::cut(text, limit)
}

fn commit_link(commit: &Commit) -> String {
    let sha = value(&commit.short_sha, 40);
    match &commit.url {
        Some(url) => format!("<{url}|{sha}>"),
        None => sha,
    }
}

fn render(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|part| match part {
            Part::Raw(raw, limit) => value(raw, *limit),
            Part::Fixed(text) => text.clone(),
            Part::Commit(commit) => commit_link(commit),
            Part::Date(at) => at.to_readable(),
        })
        .collect()
}

/// `• 10:03:47 UTC · ERROR · what happened`.
fn event_line(event: &SyncEvent) -> String {
    let kind = if event.event_type.is_empty() {
        String::new()
    } else {
        format!("{} · ", value(&event.event_type, 30))
    };
    format!(
        "• {} UTC · {kind}{}",
        event.time.time_of_day(),
        value(&event.event, EVENT_LIMIT)
    )
}

/// The fields, the events newest first (as many as fit), then the notes.
fn description(message: &Message) -> String {
    let fields = message
        .fields
        .iter()
        .map(|field| format!("*{}:* {}", field.label, render(&field.parts)))
        .collect::<Vec<_>>()
        .join("\n");
    let notes = message
        .notes
        .iter()
        .map(|note| format!("ℹ️ {}", value(note, 1000)))
        .collect::<Vec<_>>()
        .join("\n");
    let mut text = fields;
    let (shown, _) = message.shown_events();
    if !shown.is_empty() {
        let lines: Vec<String> = shown.iter().map(|event| event_line(event)).collect();
        let used = units(&text) + units(&notes) + 4;
        let room = DESCRIPTION_LIMIT.saturating_sub(used);
        let events = fit_lines(
            "*What happened* (newest first)",
            &lines,
            message.events_total,
            room,
        );
        text.push_str("\n\n");
        text.push_str(&events);
    }
    if !notes.is_empty() {
        text.push_str("\n\n");
        text.push_str(&notes);
    }
    cut(&text, DESCRIPTION_LIMIT)
}

/// What the reader can do next: resolve a blocker, open the stack, see the commit.
fn next_steps(message: &Message) -> Vec<String> {
    let mut steps = Vec::new();
    match message.kind {
        NotificationKind::Blocked => match &message.command {
            // The command is built from checked values; a backtick would end the code.
            Some((_, command)) if !command.contains('`') => steps.push(format!(
                "Fix the cause, then resolve the blocker: `{}`",
                escape(&single_line(command))
            )),
            _ => steps.push(
                "Fix the cause, then resolve the blocker on the stack's Git sync tab in the CloudFormation console".to_owned(),
            ),
        },
        NotificationKind::Test => {
            steps.push("Nothing to do: this destination is set up.".to_owned());
        }
        _ => {}
    }
    for link in &message.links {
        steps.push(format!("<{}|{}>", link.url, value(&link.label, 75)));
    }
    steps
}

/// Per stack and attempt: every message about one sync threads together.
fn thread_id(notification: &Notification) -> String {
    format!(
        "{}-{}",
        notification.resource,
        super::facts::attempt_fingerprint(notification, 8)
    )
}

/// Values a custom action can read as variables (1-1,024 printable ASCII characters, no
/// space), and that no command or markup could misread: letters, digits and
/// `-_./:@+=,#?&%~` only. A value that is not is left out.
fn additional_context(notification: &Notification, message: &Message, arn: Option<&str>) -> Value {
    let revision = &notification.attempt.target_revision;
    let mut pairs: Vec<(&str, String)> = vec![
        ("stack", notification.resource.to_string()),
        ("eventType", notification.kind.event_type().to_owned()),
        ("status", notification.attempt.status.as_str().to_owned()),
        ("repository", message.facts.repository.clone()),
        ("branch", revision.branch.clone()),
        ("commit", revision.sha.clone()),
        ("startedAt", notification.attempt.started_at.to_rfc3339()),
        ("notificationId", notification.id.clone()),
    ];
    if let Some(location) = &notification.location {
        pairs.push(("account", location.account.to_string()));
        pairs.push(("region", location.region.to_string()));
    }
    if let Some(arn) = arn {
        pairs.push(("stackArn", arn.to_owned()));
    }
    if let Some(url) = &message.facts.console_url {
        pairs.push(("consoleUrl", url.clone()));
    }
    if let Some(blocker) = &notification.blocker {
        pairs.push(("blockerId", blocker.id.clone()));
    }
    let usable = |value: &str| {
        (1..=CONTEXT_VALUE_LIMIT).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,#?&%~".contains(c))
    };
    Value::Object(
        pairs
            .into_iter()
            .filter(|(_, value)| usable(value))
            .map(|(key, value)| (key.to_owned(), Value::String(value)))
            .collect::<Map<String, Value>>(),
    )
}

/// The custom notification for `notification`; console links point at `region` (the
/// function's) unless the stack has its own.
pub fn q_developer_message(notification: &Notification, region: Option<&Region>) -> Value {
    let message = Message::of(notification, region);
    let arn = stack_arn(notification, region);
    let related = arn
        .map(str::to_owned)
        .unwrap_or_else(|| notification.resource.to_string());
    json!({
        "version": "1.0",
        "source": "custom",
        "id": notification.id,
        "content": {
            "textType": "client-markdown",
            "title": cut(&message.title, TITLE_LIMIT),
            "description": description(&message),
            "nextSteps": next_steps(&message),
            "keywords": [
                notification.kind.event_type(),
                notification.resource.as_str(),
                value(&message.facts.repository, 100),
            ],
        },
        "metadata": {
            "threadId": thread_id(notification),
            "summary": cut(&message.summary(value), SUMMARY_LIMIT),
            "eventType": notification.kind.event_type(),
            "relatedResources": [related],
            "additionalContext": additional_context(notification, &message, arn),
        },
    })
}
