//! The Slack app (`slack-app`) through the real reqwest client to a loopback Slack Web
//! API: one message per sync attempt, posted then updated in place, a failure's events in
//! its thread, replies for stuck, blocked and unblocked, a deleted message posted anew,
//! and every kind of answer Slack gives. Its configuration, too.

use serde_json::{Value, json};
use sync_notifier::config::Config;
use sync_notifier::notify::{Delivered, DeliveryError};

use crate::shared::{SlackApi, SlackCall, SlackReply};
use crate::support::*;

const TOKEN: &str = "xoxb-1234567890-0987654321-LoopbackSecretToken";
const CHANNEL: &str = "C0123456789";

async fn api() -> SlackApi {
    SlackApi::start(TOKEN, &[CHANNEL]).await.unwrap()
}

fn variables(api: &SlackApi) -> Vec<(&'static str, String)> {
    vec![
        ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
        ("SLACK_CHANNEL", CHANNEL.to_owned()),
        ("SLACK_API_URL", api.url()),
    ]
}

fn header(call: &SlackCall) -> &str {
    call.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join("\n"),
        Value::Object(map) => map.values().map(text_of).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

#[tokio::test]
async fn one_message_per_attempt_posted_then_updated_in_place_with_the_failure_in_its_thread() {
    let api = api().await;
    let pipeline = Pipeline::start(start_then_fail(&["orders-stack"]), &variables(&api)).await;
    pipeline.tick(0).await;
    let summary = pipeline.tick(1).await;
    assert_eq!(summary.deliveries.delivered, 1);
    let calls = api.calls();
    assert_eq!(api.methods(), ["chat.postMessage"]);
    let post = &calls[0];
    assert_eq!(
        post.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        post.content_type.as_deref(),
        Some("application/json; charset=utf-8"),
        "one Content-Type, with its charset"
    );
    assert_eq!(post.body["channel"], CHANNEL);
    assert_eq!(post.body["unfurl_links"], false);
    assert!(post.body.get("thread_ts").is_none());
    assert_eq!(header(post), "🔄 Sync started: orders-stack");
    assert!(
        post.body["text"]
            .as_str()
            .unwrap()
            .starts_with("🔄 Sync started: orders-stack · bbbbbbb")
    );
    let ts = post.answer["ts"].as_str().unwrap().to_owned();

    // The ts is kept in the stack's record, for the attempt.
    let threads = pipeline.threads("orders-stack").await;
    assert_eq!(threads.len(), 1);
    assert_eq!(
        (threads[0].channel.as_str(), threads[0].ts.as_str()),
        (CHANNEL, ts.as_str())
    );
    assert_eq!(threads[0].attempt.sha, "b".repeat(40));

    let summary = pipeline.tick(2).await;
    assert_eq!(summary.deliveries.delivered, 1);
    assert_eq!(
        api.methods(),
        ["chat.postMessage", "chat.update", "chat.postMessage"]
    );
    let calls = api.calls();
    let update = &calls[1];
    assert_eq!(update.body["channel"], CHANNEL);
    assert_eq!(update.body["ts"], ts.as_str());
    assert_eq!(header(update), "❌ Sync failed: orders-stack");
    assert!(text_of(&update.body["blocks"]).contains("UPDATE_ROLLBACK_COMPLETE"));
    let reply = &calls[2];
    // What arrives (shown with --nocapture).
    for call in &calls {
        println!(
            "POST /api/{}\n{:#}\n→ {}",
            call.method, call.body, call.answer
        );
    }
    assert_eq!(reply.body["thread_ts"], ts.as_str());
    assert_eq!(
        reply.body["reply_broadcast"], true,
        "a failure is seen in the channel"
    );
    let said = text_of(&reply.body["blocks"]);
    assert!(said.contains("*❌ Sync failed: orders-stack*"), "{said}");
    assert!(said.contains("*What happened* (newest first)"), "{said}");
    assert!(
        said.contains("Stack orders-stack is in UPDATE_ROLLBACK_COMPLETE state"),
        "{said}"
    );

    // In the channel: one message, now the failure, and the events under it.
    let messages = api.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0].ts.as_str(), messages[0].updates),
        (ts.as_str(), 1)
    );
    assert!(messages[0].text.starts_with("❌ Sync failed: orders-stack"));
    assert_eq!(messages[1].thread_ts.as_deref(), Some(ts.as_str()));
    assert!(messages[1].broadcast);
    assert!(pipeline.pending("orders-stack").await.is_empty());
    assert_eq!(
        pipeline.threads("orders-stack").await,
        threads,
        "still the same message"
    );
}

#[tokio::test]
async fn an_attempt_whose_start_was_filtered_out_gets_one_message_and_its_events_under_it() {
    let api = api().await;
    let entry = json!({"type": "slack-app", "token": TOKEN, "channel": CHANNEL, "apiUrl": api.url(), "events": ["sync.failed"]});
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[destinations_variable(&[entry])],
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    assert_eq!(api.methods(), ["chat.postMessage", "chat.postMessage"]);
    let calls = api.calls();
    assert_eq!(header(&calls[0]), "❌ Sync failed: orders-stack");
    assert!(calls[0].body.get("thread_ts").is_none());
    let ts = calls[0].answer["ts"].as_str().unwrap();
    assert_eq!(calls[1].body["thread_ts"], ts);
    assert!(
        calls[1].body.get("reply_broadcast").is_none(),
        "the new message is already in the channel"
    );
    assert_eq!(pipeline.threads("orders-stack").await[0].ts, ts);
}

#[tokio::test]
async fn a_deleted_message_is_posted_anew_and_the_new_ts_kept() {
    let api = api().await;
    let pipeline = Pipeline::start(start_then_fail(&["orders-stack"]), &variables(&api)).await;
    pipeline.tick(0).await;
    pipeline.tick(1).await;
    let first = api.messages()[0].ts.clone();
    api.delete(&first);
    let summary = pipeline.tick(2).await;
    assert_eq!(
        (summary.deliveries.delivered, summary.deliveries.refused),
        (1, 0)
    );
    assert_eq!(
        api.methods(),
        [
            "chat.postMessage",
            "chat.update",
            "chat.postMessage",
            "chat.postMessage"
        ]
    );
    let calls = api.calls();
    assert_eq!(calls[1].answer["error"], "message_not_found");
    assert_eq!(header(&calls[2]), "❌ Sync failed: orders-stack");
    let second = calls[2].answer["ts"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(calls[3].body["thread_ts"], second);
    assert_eq!(pipeline.threads("orders-stack").await[0].ts, second);
}

#[tokio::test]
async fn stuck_blocked_and_unblocked_are_replies_in_the_attempt_s_thread() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    let started = started();
    let kept = send_one(&app, &started, None).await.unwrap();
    let thread = thread_of(&app, &started, &kept);
    assert_eq!(thread.channel, CHANNEL);

    for (notification, broadcast, title) in [
        (stuck(), false, "⏳ Sync stuck: orders-stack"),
        (blocked(), true, "⛔ Sync blocked: orders-stack"),
        (unblocked(), false, "🔓 Sync unblocked: orders-stack"),
    ] {
        let delivered = send_one(&app, &notification, Some(&thread)).await.unwrap();
        assert_eq!(
            delivered.thread,
            Some((CHANNEL.to_owned(), thread.ts.clone())),
            "{title}: the attempt keeps its message"
        );
        let calls = api.calls();
        let reply = calls.last().unwrap();
        assert_eq!(reply.method, "chat.postMessage");
        assert_eq!(reply.body["thread_ts"], thread.ts.as_str(), "{title}");
        assert_eq!(
            reply.body["reply_broadcast"].as_bool().unwrap_or(false),
            broadcast,
            "{title}"
        );
        assert_eq!(header(reply), title);
    }
    let messages = api.messages();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0].updates, 0, "replies leave the message as it is");
    assert!(
        messages[1..]
            .iter()
            .all(|message| message.thread_ts.as_deref() == Some(thread.ts.as_str()))
    );
}

#[tokio::test]
async fn with_no_message_known_stuck_and_blocked_post_one_and_keep_it() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    for notification in [stuck(), blocked(), unblocked()] {
        let delivered = send_one(&app, &notification, None).await.unwrap();
        let (channel, ts) = delivered.thread.expect("kept");
        assert_eq!(channel, CHANNEL);
        let last = api.calls().pop().unwrap();
        assert!(last.body.get("thread_ts").is_none());
        assert_eq!(last.answer["ts"], ts.as_str());
    }
    assert_eq!(api.messages().len(), 3);
}

#[tokio::test]
async fn a_success_updates_the_message_in_place_and_says_nothing_more() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    let started = started();
    let kept = send_one(&app, &started, None).await.unwrap();
    let thread = thread_of(&app, &started, &kept);
    let mut succeeded = success();
    succeeded.attempt = started.attempt.clone();
    let delivered = send_one(&app, &succeeded, Some(&thread)).await.unwrap();
    assert_eq!(delivered.thread, kept.thread);
    assert_eq!(api.methods(), ["chat.postMessage", "chat.update"]);
    let messages = api.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].text.starts_with("✅ Sync succeeded"),
        "{}",
        messages[0].text
    );
}

#[tokio::test]
async fn send_test_posts_one_message_and_keeps_nothing() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    let results = sync_notifier::notify::send_test_to(std::slice::from_ref(&app), None).await;
    assert_eq!(results[0].result, "delivered", "{:?}", results[0]);
    assert_eq!(api.methods(), ["chat.postMessage"]);
    assert_eq!(
        header(&api.calls()[0]),
        "🧪 Test message: sync-notifier-test"
    );
    let delivered = send_one(&app, &test_message(), None).await.unwrap();
    assert_eq!(delivered, Delivered::default());
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_slack_asks() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    api.script(
        Some("chat.postMessage"),
        SlackReply::RateLimited("1".into()),
    );
    let started_at = std::time::Instant::now();
    send_one(&app, &started(), None).await.unwrap();
    assert!(
        started_at.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let calls = api.calls();
    assert_eq!(
        calls.iter().map(|call| call.status).collect::<Vec<_>>(),
        [429, 200]
    );
}

#[tokio::test]
async fn other_errors_and_unreadable_answers_are_retried() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    api.script(None, SlackReply::Error("internal_error".into()));
    api.script(None, SlackReply::Garbage);
    send_one(&app, &started(), None).await.unwrap();
    assert_eq!(api.calls().len(), 3);

    api.script(None, SlackReply::Status(502));
    api.script(None, SlackReply::Error("fatal_error".into()));
    api.script(None, SlackReply::Error("service_unavailable".into()));
    let error = send_one(&app, &started(), None).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Retry(_)), "{error}");
    assert!(error.to_string().contains("service_unavailable"), "{error}");
}

#[tokio::test]
async fn errors_only_a_person_can_fix_are_permanent_and_say_how_never_with_the_token() {
    let api = api().await;
    let app = only_destination(&variables(&api));
    let cases = [
        ("invalid_auth", "OAuth & Permissions → Bot User OAuth Token"),
        ("not_authed", "OAuth & Permissions"),
        ("account_inactive", "reinstall the app"),
        ("token_revoked", "reinstall the app"),
        ("channel_not_found", "C0123456789"),
        (
            "not_in_channel",
            "invite the app to the channel: /invite @your-app",
        ),
        ("is_archived", "archived"),
        ("invalid_blocks", "a bug in sync-notifier"),
        ("msg_too_long", "a bug in sync-notifier"),
        ("no_text", "a bug in sync-notifier"),
        ("missing_scope", "chat:write"),
    ];
    for (code, fix) in cases {
        let before = api.calls().len();
        api.script(None, SlackReply::Error(code.into()));
        let error = send_one(&app, &started(), None).await.unwrap_err();
        let DeliveryError::Permanent(reason) = &error else {
            panic!("{code}: {error}");
        };
        assert!(
            reason.contains(&format!("Slack chat.postMessage: {code}; ")),
            "{reason}"
        );
        assert!(reason.contains(fix), "{code}: {reason}");
        assert!(!reason.contains("LoopbackSecretToken"), "{reason}");
        assert_eq!(api.calls().len(), before + 1, "{code}: not retried");
    }

    // Not scripted: the loopback itself refuses a token it does not know, and a channel
    // it does not have.
    let mut wrong = variables(&api);
    wrong[0].1 = "xoxb-1234567890-0987654321-AnotherSecretToken".into();
    let error = send_one(&only_destination(&wrong), &started(), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid_auth"), "{error}");
    assert!(!error.to_string().contains("AnotherSecretToken"), "{error}");
    let mut elsewhere = variables(&api);
    elsewhere[1].1 = "C0999999999".into();
    let error = send_one(&only_destination(&elsewhere), &started(), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("channel_not_found"), "{error}");
}

#[tokio::test]
async fn logs_and_debug_output_never_show_the_token() {
    let api = api().await;
    api.script(None, SlackReply::Error("not_in_channel".into()));
    let pipeline = Pipeline::start(start_then_fail(&["orders-stack"]), &variables(&api)).await;
    let (summary, logs) = logs_of(async {
        pipeline.tick(0).await;
        pipeline.tick(1).await
    })
    .await;
    assert_eq!(summary.deliveries.refused, 1);
    assert!(
        logs.contains("not_in_channel; invite the app to the channel"),
        "{logs}"
    );
    let app = only_destination(&variables(&api));
    let config = config(
        &variables(&api)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect::<Vec<_>>(),
    );
    let shown = format!("{logs}\n{app:?}\n{}\n{config:?}", app.label());
    assert!(!shown.contains("LoopbackSecretToken"), "{shown}");
    assert!(
        app.label()
            .contains("channel C0123456789 through http://127.0.0.1"),
        "{}",
        app.label()
    );
}

fn problems(pairs: &[(&str, &str)]) -> String {
    Config::from_lookup(|name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    })
    .unwrap_err()
    .to_string()
}

#[test]
fn start_up_problems_name_the_place_and_the_fix() {
    let message = problems(&[
        ("SLACK_BOT_TOKEN", "xoxp-1234567890-SECRETUSERTOKEN"),
        ("SLACK_CHANNEL", "#deploys"),
    ]);
    assert!(message.contains("SLACK_BOT_TOKEN: the value is a user token (xoxp-); a bot token starts with xoxb-: Slack app settings → OAuth & Permissions → Bot User OAuth Token"), "{message}");
    assert!(message.contains("SLACK_CHANNEL: \"#deploys\" is a channel name; use the channel id, e.g. C0123456789: open the channel's details in Slack, the id is at the bottom"), "{message}");
    assert!(!message.contains("SECRETUSERTOKEN"), "{message}");

    let message = problems(&[("SLACK_BOT_TOKEN", TOKEN)]);
    assert!(
        message.contains("SLACK_CHANNEL: is required with SLACK_BOT_TOKEN"),
        "{message}"
    );
    let message = problems(&[("SLACK_CHANNEL", CHANNEL)]);
    assert!(
        message.contains("SLACK_BOT_TOKEN: is required with SLACK_CHANNEL"),
        "{message}"
    );
    let message = problems(&[
        ("SLACK_BOT_TOKEN", TOKEN),
        ("SLACK_CHANNEL", CHANNEL),
        ("SLACK_API_URL", "http://example.com/api/"),
    ]);
    assert!(
        message.contains("SLACK_API_URL: \"http://example.com/…\" uses http"),
        "{message}"
    );

    let entries = json!([{"type": "slack-app", "token": "SECRETNOTATOKEN", "channel": "deploys"},
                         {"type": "slack-app", "channel": CHANNEL}]);
    let message = problems(&[("DESTINATIONS", &entries.to_string())]);
    assert!(
        message.contains(
            "DESTINATIONS[0].token: the value is not a bot token; a bot token starts with xoxb-"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "DESTINATIONS[0].channel: \"deploys\" is not a channel id; use the channel id"
        ),
        "{message}"
    );
    assert!(
        message.contains("DESTINATIONS[1].token: missing; give the app's bot token"),
        "{message}"
    );
    assert!(!message.contains("SECRETNOTATOKEN"), "{message}");
}

/// One line per Web API call, as a person would read the channel's history.
fn transcript(api: &SlackApi) -> String {
    let mut lines = Vec::new();
    for call in api.calls() {
        let place = match (call.body["ts"].as_str(), call.body["thread_ts"].as_str()) {
            (Some(ts), _) => format!("update ts={ts}"),
            (None, Some(parent)) => format!(
                "reply under ts={parent}{}",
                if call.body["reply_broadcast"] == true {
                    ", broadcast"
                } else {
                    ""
                }
            ),
            (None, None) => format!(
                "new message → ts={}",
                call.answer["ts"].as_str().unwrap_or("?")
            ),
        };
        lines.push(format!(
            "{} {} ({place}): {}",
            call.method,
            call.body["channel"].as_str().unwrap_or_default(),
            call.body["text"].as_str().unwrap_or_default()
        ));
    }
    lines.push("The channel now reads:".into());
    for message in api.messages() {
        let indent = if message.thread_ts.is_some() {
            "    ↳ "
        } else {
            "  "
        };
        lines.push(format!(
            "{indent}ts={} (updated {}×): {}",
            message.ts, message.updates, message.text
        ));
    }
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_replays_as_messages_posted_then_updated_in_place() {
    let api = api().await;
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scenarios/demo.json");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    for variable in [
        "STATE_TABLE",
        "WATCH_RESOURCES",
        "NOTIFY_ON",
        "DESTINATIONS",
        "SLACK_WEBHOOK_URL",
        "WEBHOOK_URL",
        "TEAMS_WEBHOOK_URL",
        "DISCORD_WEBHOOK_URL",
        "GOOGLE_CHAT_WEBHOOK_URL",
        "PAGERDUTY_ROUTING_KEY",
    ] {
        command.env_remove(variable);
    }
    command
        .env("AWS_REGION", "us-east-1")
        .envs(variables(&api))
        .arg("replay")
        .arg(&demo);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("destination: slack-app#")
            && stderr.contains("(SLACK_BOT_TOKEN, channel C0123456789 through http://127.0.0.1/…)"),
        "{stderr}"
    );
    assert!(!stderr.contains("LoopbackSecretToken"), "{stderr}");

    let transcript = transcript(&api);
    println!("{transcript}");
    // Stacks are delivered side by side: only each stack's own calls are in order.
    let methods = api.methods();
    let count = |method: &str| methods.iter().filter(|called| *called == method).count();
    assert_eq!(
        (count("chat.postMessage"), count("chat.update")),
        (3, 2),
        "two messages, each updated once, and one reply: {transcript}"
    );
    let messages = api.messages();
    let top: Vec<_> = messages
        .iter()
        .filter(|message| message.thread_ts.is_none())
        .collect();
    assert_eq!(top.len(), 2, "one message per attempt: {transcript}");
    assert!(
        top[0]
            .text
            .starts_with("✅ Sync succeeded: payments-stack · 9f1c2e7"),
        "{transcript}"
    );
    assert!(
        top[1]
            .text
            .starts_with("❌ Sync failed: orders-stack · c4f8a2e"),
        "{transcript}"
    );
    assert!(
        top.iter().all(|message| message.updates == 1),
        "{transcript}"
    );
    let reply = messages
        .iter()
        .find(|message| message.thread_ts.is_some())
        .unwrap();
    assert_eq!(reply.thread_ts.as_deref(), Some(top[1].ts.as_str()));
    assert!(reply.broadcast);
}
