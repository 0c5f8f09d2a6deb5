//! Slack through a Slack app's bot token (the Web API): one message per sync attempt,
//! kept up to date in place.
//!
//! - The attempt's first notification posts a message (`chat.postMessage`, the same Block
//!   Kit as the incoming webhook) and its `ts` is kept in the stack's record.
//! - Its ending updates that message in place (`chat.update`); a failure also posts its
//!   events as a reply in the message's thread, broadcast to the channel, so an update in
//!   place is not missed.
//! - `sync.stuck`, `sync.blocked` and `sync.unblocked` are replies in that thread
//!   (`sync.blocked` broadcast to the channel too).
//! - With no message known for the attempt (it was first seen already ended, or its start
//!   was filtered out), or when the message was deleted (`message_not_found`), a new
//!   message is posted (a failure's events as a reply under it) and kept.
//!
//! Slack answers errors with HTTP 200 and `{"ok": false, "error": …}`. Rate limiting
//! (HTTP 429 with `Retry-After`) is waited out through the [`Gate`](super::Gate); errors
//! only a person can fix (the token, the channel, the app's membership) are permanent and
//! say how to fix them; other errors, and an answer that is not Slack's JSON, are retried.
//! The token travels only in the `Authorization` header: no message, log or `Debug` shows it.

use serde_json::{Value, json};

use super::http::{self, Answer};
use super::secret::{InvalidUrl, SecretToken, SecretUrl, quote};
use super::slack::{slack_message, slack_thread_reply};
use super::{Attempt, Clients, Context, Delivered, DeliveryError, Entry, Gate, Kind, Variables};
use crate::domain::{Notification, NotificationKind};
use crate::text::preview;

/// Where the Web API is, unless `apiUrl` or `SLACK_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

const TOKEN_FIX: &str = "a bot token starts with xoxb-: Slack app settings → OAuth & Permissions → Bot User OAuth Token";
const CHANNEL_FIX: &str = "use the channel id, e.g. C0123456789: open the channel's details in Slack, the id is at the bottom";
const INVITE_FIX: &str = "invite the app to the channel: /invite @your-app";

/// A Slack app's bot token, the channel it posts in, and the Web API's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackAppSettings {
    pub token: SecretToken,
    /// The channel id (`C…`, `G…` or `D…`).
    pub channel: String,
    /// Ends with `/`: a method's URL is this and its name.
    pub api: SecretUrl,
}

/// A Slack app posting with its bot token.
#[derive(Debug)]
pub struct SlackApp {
    settings: SlackAppSettings,
    http: reqwest::Client,
    /// Whether a post without a `ts` in Slack's answer was said (once per process).
    said_no_ts: std::sync::atomic::AtomicBool,
}

/// Why a value is not a bot token. It holds nothing of the value but the public prefix
/// that says what kind of token it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBotToken {
    #[error(
        "this is a URL, not a bot token (an incoming webhook's URL goes in SLACK_WEBHOOK_URL, or a destination of type slack); {TOKEN_FIX}"
    )]
    Url,
    /// `kind`: "a user token (xoxp-)", "not a bot token"…
    #[error("the value is {kind}; {TOKEN_FIX}")]
    Kind { kind: &'static str },
    #[error(
        "the value is not a whole bot token (it is cut short, or has spaces, quotes or other characters a token never has); copy it again: {TOKEN_FIX}"
    )]
    Malformed,
}

/// Checks a bot token; the error never repeats it.
pub fn parse_token(value: &str) -> Result<SecretToken, InvalidBotToken> {
    let value = value.trim();
    if value.contains("://") {
        return Err(InvalidBotToken::Url);
    }
    if !value.starts_with("xoxb-") {
        // Only the public prefix that says what kind of token it is is named.
        let kind = [
            ("xoxp-", "a user token (xoxp-)"),
            ("xapp-", "an app-level token (xapp-)"),
            ("xoxe", "a token-rotation token (xoxe)"),
        ]
        .iter()
        .find(|(prefix, _)| value.starts_with(prefix))
        .map_or("not a bot token", |(_, kind)| kind);
        return Err(InvalidBotToken::Kind { kind });
    }
    if value.len() < 20 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(InvalidBotToken::Malformed);
    }
    Ok(SecretToken::new(value))
}

/// Why a value is not a channel id. It holds the value only [`quote`]d.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannel {
    #[error("{quoted} is a channel name; {CHANNEL_FIX}")]
    Name { quoted: String },
    #[error(
        "{quoted} is a person's id; to post to a person, use the id of their direct-message channel with the app (it starts with D); {CHANNEL_FIX}"
    )]
    Person { quoted: String },
    #[error("{quoted} is not a channel id; {CHANNEL_FIX}")]
    NotAnId { quoted: String },
}

/// Checks a channel id: `C`, `G` or `D`, then capital letters and digits.
pub fn parse_channel(value: &str) -> Result<String, InvalidChannel> {
    let value = value.trim();
    let id = value.len() >= 9
        && value.len() <= 24
        && value.starts_with(['C', 'G', 'D'])
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if id {
        return Ok(value.to_owned());
    }
    let quoted = quote(value);
    Err(if value.starts_with('#') {
        InvalidChannel::Name { quoted }
    } else if value.starts_with(['U', 'W'])
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        InvalidChannel::Person { quoted }
    } else {
        InvalidChannel::NotAnId { quoted }
    })
}

/// The API's base URL, ending with `/` so that a method name can be appended.
fn api_base(url: SecretUrl) -> SecretUrl {
    if url.expose().path().ends_with('/') {
        return url;
    }
    let mut base = url.expose().clone();
    let path = format!("{}/", base.path());
    base.set_path(&path);
    SecretUrl::parse(base.as_str()).unwrap_or(url)
}

fn default_api() -> Result<SecretUrl, InvalidUrl> {
    SecretUrl::parse(DEFAULT_API_URL)
}

impl Kind for SlackApp {
    const TYPE: &'static str = "slack-app";
    const VARIABLES: &'static [&'static str] =
        &["SLACK_BOT_TOKEN", "SLACK_CHANNEL", "SLACK_API_URL"];
    const FIELDS: &'static [&'static str] = &["token", "channel", "apiUrl"];
    type Settings = SlackAppSettings;

    fn from_entry(entry: &mut Entry) -> Option<SlackAppSettings> {
        let token = entry.secret(
            "token",
            &format!("give the app's bot token; {TOKEN_FIX}"),
            parse_token,
        );
        let channel = entry
            .required(
                "channel",
                "a channel id",
                &format!("give the channel to post in; {CHANNEL_FIX}"),
            )
            .and_then(|channel| {
                parse_channel(&channel)
                    .map_err(|error| entry.problem("channel", error.to_string()))
                    .ok()
            });
        let api = match entry.optional_url("apiUrl")? {
            Some(url) => Some(url),
            None => default_api()
                .map_err(|error| entry.problem("apiUrl", error.to_string()))
                .ok(),
        };
        Some(SlackAppSettings {
            token: token?,
            channel: channel?,
            api: api_base(api?),
        })
    }

    fn from_variables(variables: &mut Variables) -> Option<SlackAppSettings> {
        let token_set = variables.get("SLACK_BOT_TOKEN").is_some();
        let channel_set = variables.get("SLACK_CHANNEL").is_some();
        let api_set = variables.get("SLACK_API_URL").is_some();
        if !token_set && !channel_set {
            if api_set {
                variables.problem(
                    "SLACK_API_URL",
                    "is used only with SLACK_BOT_TOKEN and SLACK_CHANNEL; set them too, or unset SLACK_API_URL",
                );
            }
            return None;
        }
        let token = variables.parsed("SLACK_BOT_TOKEN", parse_token);
        let channel = variables.parsed("SLACK_CHANNEL", parse_channel);
        let api = if api_set {
            variables.url("SLACK_API_URL")
        } else {
            default_api()
                .map_err(|error| variables.problem("SLACK_API_URL", error.to_string()))
                .ok()
        };
        if !token_set {
            variables.problem(
                "SLACK_BOT_TOKEN",
                format!("is required with SLACK_CHANNEL: the app's bot token; {TOKEN_FIX}"),
            );
        }
        if !channel_set {
            variables.problem(
                "SLACK_CHANNEL",
                format!("is required with SLACK_BOT_TOKEN: the channel to post in; {CHANNEL_FIX}"),
            );
        }
        Some(SlackAppSettings {
            token: token?,
            channel: channel?,
            api: api_base(api?),
        })
    }

    /// The channel and the API it is reached through (not the token: a new token for the
    /// same channel keeps the messages already posted).
    fn identity(settings: &SlackAppSettings) -> String {
        format!("{} {}", settings.api.expose(), settings.channel)
    }

    fn identity_word() -> &'static str {
        "channel"
    }

    fn describe(settings: &SlackAppSettings) -> String {
        format!("channel {} through {}", settings.channel, settings.api)
    }

    fn build(settings: &SlackAppSettings, clients: &Clients) -> SlackApp {
        SlackApp {
            settings: settings.clone(),
            http: clients.http.clone(),
            said_no_ts: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let gate = context.gate;
        let message = slack_message(notification, context.region);
        let kind = notification.kind;
        let reply = (kind == NotificationKind::Failed)
            .then(|| slack_thread_reply(notification, context.region));
        let thread = context
            .thread
            .map(|thread| (thread.channel.as_str(), thread.ts.as_str()));
        match (kind, thread) {
            (NotificationKind::Test, _) => {
                self.post(gate, &message, None).await?;
                Ok(Delivered::default())
            }
            (
                NotificationKind::Started | NotificationKind::Succeeded | NotificationKind::Failed,
                Some((channel, ts)),
            ) => {
                let mut update = message.clone();
                update["channel"] = json!(channel);
                update["ts"] = json!(ts);
                if let Some(code) = self.call(gate, "chat.update", &update, true).await?.err() {
                    tracing::info!(destination = gate.key(), %code, "the attempt's message can no longer be updated; posting a new one");
                    return self.fresh(gate, &message, reply.as_ref()).await;
                }
                if let Some(reply) = &reply {
                    // The update is done: the message already says it failed, with its
                    // events. A reply Slack refuses is reported, not retried; one that
                    // may pass is retried with the (repeatable) update.
                    match self.post(gate, reply, Some((channel, ts, true))).await {
                        Ok(_) => {}
                        Err(DeliveryError::Permanent(reason)) => {
                            tracing::warn!(destination = gate.key(), %reason, "the attempt's message was updated, but its events could not be posted in its thread");
                        }
                        Err(retry) => return Err(retry),
                    }
                }
                Ok(kept(channel, ts))
            }
            (
                NotificationKind::Stuck
                | NotificationKind::Blocked
                | NotificationKind::Unblocked
                | NotificationKind::Reminder,
                Some((channel, ts)),
            ) => {
                let broadcast = kind == NotificationKind::Blocked;
                self.post(gate, &message, Some((channel, ts, broadcast)))
                    .await?;
                Ok(kept(channel, ts))
            }
            (NotificationKind::Digest, _) | (_, None) => {
                self.fresh(gate, &message, reply.as_ref()).await
            }
        }
    }
}

fn kept(channel: &str, ts: &str) -> Delivered {
    Delivered {
        thread: Some((channel.to_owned(), ts.to_owned())),
    }
}

impl SlackApp {
    /// A new message for the attempt (and a failure's events as a reply under it), kept.
    async fn fresh(
        &self,
        gate: &Gate,
        message: &Value,
        reply: Option<&Value>,
    ) -> Result<Delivered, DeliveryError> {
        let (channel, ts) = self.post(gate, message, None).await?;
        let Some(ts) = ts else {
            if !self
                .said_no_ts
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(
                    destination = gate.key(),
                    "Slack took the message but its answer has no ts, so it cannot be updated: this sync's later notifications will be new messages (said once)"
                );
            }
            return Ok(Delivered::default());
        };
        if let Some(reply) = reply
            && let Err(error) = self
                .post(gate, reply, Some((channel.as_str(), ts.as_str(), false)))
                .await
        {
            // The new message is there, events included; posting it again would repeat it.
            tracing::warn!(destination = gate.key(), reason = %error, "the new message was posted, but its events could not be posted in its thread");
        }
        Ok(kept(&channel, &ts))
    }

    /// `chat.postMessage`, in the configured channel or as a reply in a thread
    /// (`channel`, `thread_ts`, `reply_broadcast`). Returns the channel and the new
    /// message's `ts`.
    async fn post(
        &self,
        gate: &Gate,
        content: &Value,
        thread: Option<(&str, &str, bool)>,
    ) -> Result<(String, Option<String>), DeliveryError> {
        let mut body = content.clone();
        body["unfurl_links"] = json!(false);
        body["unfurl_media"] = json!(false);
        match thread {
            Some((channel, ts, broadcast)) => {
                body["channel"] = json!(channel);
                body["thread_ts"] = json!(ts);
                if broadcast {
                    body["reply_broadcast"] = json!(true);
                }
            }
            None => body["channel"] = json!(self.settings.channel),
        }
        let answer = match self.call(gate, "chat.postMessage", &body, false).await? {
            Ok(answer) => answer,
            Err(code) => {
                return Err(DeliveryError::Retry(format!(
                    "{}: Slack chat.postMessage: {code}",
                    gate.key()
                )));
            }
        };
        let channel = answer["channel"]
            .as_str()
            .filter(|channel| parse_channel(channel).is_ok())
            .or(thread.map(|(channel, _, _)| channel))
            .unwrap_or(self.settings.channel.as_str())
            .to_owned();
        let ts = answer["ts"].as_str().map(str::to_owned);
        Ok((channel, ts))
    }

    /// Calls `method` with `body`. `Ok(Err(gone))`: the message to update is gone (only
    /// when `updating`).
    async fn call(
        &self,
        gate: &Gate,
        method: &'static str,
        body: &Value,
        updating: bool,
    ) -> Result<Result<Value, MessageGone>, DeliveryError> {
        let url = self.settings.api.expose().join(method).map_err(|_| {
            DeliveryError::Permanent(format!(
                "{}: the Slack API URL cannot take a method name; check apiUrl or SLACK_API_URL",
                gate.key()
            ))
        })?;
        let encoded = super::encode(gate, body)?;
        let token = &self.settings.token;
        let headers = || {
            vec![
                ("content-type", "application/json; charset=utf-8".to_owned()),
                ("authorization", format!("Bearer {}", token.expose())),
            ]
        };
        http::post(&self.http, gate, &url, &encoded, headers, |key, answer| {
            interpret(key, method, updating, answer)
        })
        .await
    }
}

/// The message to update is gone, or can no longer be changed by us: Slack's error code,
/// one of [`GONE`]. Its `Display` is the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}")]
pub struct MessageGone {
    pub code: String,
}

/// Errors that say the message to update is gone, or can no longer be changed by us.
const GONE: [&str; 3] = [
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
];

/// What one Web API answer means (the rules at the top of this file).
pub fn interpret(
    key: &str,
    method: &str,
    updating: bool,
    answer: Answer,
) -> Attempt<Result<Value, MessageGone>> {
    if answer.status == 429 {
        return Attempt::Failed {
            reason: format!("{key}: Slack {method}: HTTP 429, rate limited"),
            retry_after: answer.retry_after,
            timed_out: false,
        };
    }
    if !(200..300).contains(&answer.status) {
        return match http::classify(key, answer.status, answer.retry_after) {
            Attempt::Refused(reason) => Attempt::Refused(format!(
                "{reason} from Slack {method}; check apiUrl or SLACK_API_URL"
            )),
            Attempt::Failed {
                reason,
                retry_after,
                timed_out,
            } => Attempt::Failed {
                reason: format!("{reason} from Slack {method}"),
                retry_after,
                timed_out,
            },
            Attempt::Done(()) => Attempt::Failed {
                reason: format!("{key}: Slack {method}: HTTP {}", answer.status),
                retry_after: None,
                timed_out: false,
            },
        };
    }
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let Some(ok) = parsed.as_ref().and_then(|value| value["ok"].as_bool()) else {
        return Attempt::Failed {
            reason: format!("{key}: Slack {method}: the answer is not the Web API's JSON"),
            retry_after: None,
            timed_out: false,
        };
    };
    let value = parsed.unwrap_or_default();
    if ok {
        return Attempt::Done(Ok(value));
    }
    let code = value["error"].as_str().unwrap_or("unknown_error");
    let code = preview(code, 60);
    if updating && GONE.contains(&code.as_str()) {
        return Attempt::Done(Err(MessageGone { code }));
    }
    if let Some(fix) = permanent_fix(&code, &value) {
        return Attempt::Refused(format!("{key}: Slack {method}: {code}; {fix}"));
    }
    Attempt::Failed {
        reason: format!("{key}: Slack {method}: {code}"),
        retry_after: matches!(code.as_str(), "ratelimited" | "rate_limited")
            .then_some(answer.retry_after)
            .flatten(),
        timed_out: false,
    }
}

/// The fix for an error only a person can fix, or `None` when trying again may pass.
fn permanent_fix(code: &str, answer: &Value) -> Option<String> {
    let fix = match code {
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
        | "token_expired" => format!(
            "Slack does not accept the bot token; copy it again (reinstall the app if it was removed): {TOKEN_FIX}"
        ),
        "missing_scope" | "no_permission" => {
            let needed = answer["needed"]
                .as_str()
                .map(|needed| format!(" (Slack says it needs {})", preview(needed, 80)))
                .unwrap_or_default();
            format!(
                "the app lacks the chat:write bot scope{needed}: add it under Slack app settings → OAuth & Permissions → Scopes, reinstall the app, and {INVITE_FIX}"
            )
        }
        "channel_not_found" => format!(
            "Slack finds no such channel for this app; check the id ({CHANNEL_FIX}); a private channel is found only once the app is in it: {INVITE_FIX}"
        ),
        "not_in_channel" => INVITE_FIX.to_owned(),
        "is_archived" | "is_inactive" => {
            "the channel is archived; unarchive it, or configure another channel".to_owned()
        }
        "ekm_access_denied" | "team_access_not_granted" => {
            "a workspace setting stops the app from posting; ask a Slack admin".to_owned()
        }
        code if code.starts_with("restricted_action") => {
            "a workspace or channel setting stops the app from posting there; ask a Slack admin, or configure another channel".to_owned()
        }
        "invalid_blocks" | "invalid_blocks_format" | "msg_too_long" | "msg_blocks_too_long"
        | "no_text" | "invalid_arguments" | "invalid_arg_name" | "too_many_attachments" => {
            let details = answer["errors"]
                .as_array()
                .map(|errors| {
                    let errors: Vec<String> = errors
                        .iter()
                        .filter_map(Value::as_str)
                        .take(3)
                        .map(|error| preview(error, 200))
                        .collect();
                    format!(" ({})", errors.join("; "))
                })
                .unwrap_or_default();
            format!("Slack refused the message itself{details}; this is a bug in sync-notifier, please report it")
        }
        _ => return None,
    };
    Some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_without_being_repeated() {
        assert!(parse_token("xoxb-1234567890-0987654321-AbCdEfGhIjKl").is_ok());
        for (bad, says) in [
            ("xoxp-1234567890-0987654321-SECRETSECRET", "a user token"),
            ("xapp-1-A0123-SECRETSECRETSECRET", "an app-level token"),
            ("SECRETSECRETSECRETSECRET", "not a bot token"),
            ("https://hooks.slack.com/services/T/B/SECRET", "a URL"),
            ("xoxb-SECRET SECRET SECRET", "not a whole bot token"),
        ] {
            let message = parse_token(bad).unwrap_err().to_string();
            assert!(message.contains(says), "{message}");
            assert!(message.contains("OAuth & Permissions"), "{message}");
            assert!(!message.contains("SECRET"), "{message}");
        }
    }

    #[test]
    fn channels_are_ids_and_names_get_the_fix() {
        assert_eq!(parse_channel(" C0123456789 ").unwrap(), "C0123456789");
        assert!(parse_channel("G01234567").is_ok());
        assert!(parse_channel("D0123456789").is_ok());
        let message = parse_channel("#deploys").unwrap_err().to_string();
        assert!(
            message.starts_with(
                "\"#deploys\" is a channel name; use the channel id, e.g. C0123456789"
            ),
            "{message}"
        );
        assert!(
            parse_channel("U0123456789")
                .unwrap_err()
                .to_string()
                .contains("a person's id")
        );
        assert!(
            parse_channel("deploys")
                .unwrap_err()
                .to_string()
                .contains("is not a channel id")
        );
        assert!(parse_channel("C012").is_err());
    }

    #[test]
    fn the_api_base_always_takes_a_method_name() {
        let base = api_base(SecretUrl::parse("http://127.0.0.1:9/api").unwrap());
        assert_eq!(
            base.expose().join("chat.update").unwrap().as_str(),
            "http://127.0.0.1:9/api/chat.update"
        );
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: Some(std::time::Duration::from_secs(3)),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_are_sorted_into_done_gone_permanent_and_retried() {
        let ok = interpret(
            "k",
            "chat.postMessage",
            false,
            answer(200, r#"{"ok":true,"ts":"1.2"}"#),
        );
        assert!(matches!(ok, Attempt::Done(Ok(value)) if value["ts"] == "1.2"));
        let gone = interpret(
            "k",
            "chat.update",
            true,
            answer(200, r#"{"ok":false,"error":"message_not_found"}"#),
        );
        assert_eq!(
            gone,
            Attempt::Done(Err(MessageGone {
                code: "message_not_found".into()
            }))
        );
        let not_gone = interpret(
            "k",
            "chat.postMessage",
            false,
            answer(200, r#"{"ok":false,"error":"message_not_found"}"#),
        );
        assert!(matches!(not_gone, Attempt::Failed { .. }));
        match interpret(
            "k",
            "chat.postMessage",
            false,
            answer(200, r#"{"ok":false,"error":"not_in_channel"}"#),
        ) {
            Attempt::Refused(reason) => assert_eq!(
                reason,
                "k: Slack chat.postMessage: not_in_channel; invite the app to the channel: /invite @your-app"
            ),
            other => panic!("{other:?}"),
        }
        for code in [
            "invalid_auth",
            "channel_not_found",
            "is_archived",
            "invalid_blocks",
            "missing_scope",
            "restricted_action_read_only_channel",
        ] {
            let body = format!(r#"{{"ok":false,"error":"{code}"}}"#);
            assert!(
                matches!(
                    interpret("k", "m", false, answer(200, &body)),
                    Attempt::Refused(_)
                ),
                "{code}"
            );
        }
        match interpret(
            "k",
            "m",
            false,
            answer(429, r#"{"ok":false,"error":"ratelimited"}"#),
        ) {
            Attempt::Failed { retry_after, .. } => {
                assert_eq!(retry_after, Some(std::time::Duration::from_secs(3)))
            }
            other => panic!("{other:?}"),
        }
        for (status, body) in [
            (200, r#"{"ok":false,"error":"internal_error"}"#),
            (200, "<html>"),
            (200, r#"{"ts":"1"}"#),
            (502, ""),
        ] {
            assert!(
                matches!(
                    interpret("k", "m", false, answer(status, body)),
                    Attempt::Failed {
                        retry_after: None,
                        ..
                    }
                ),
                "{status} {body}"
            );
        }
        assert!(
            matches!(interpret("k", "m", false, answer(404, "")), Attempt::Refused(reason) if reason.contains("SLACK_API_URL"))
        );
    }
}
