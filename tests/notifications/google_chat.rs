//! Google Chat (`google-chat`) through the real reqwest client to a loopback receiver:
//! each attempt is one thread, the webhook's own query (its key and token) is kept and
//! `messageReplyOption` added, and the URL's secret parts never reach a log. (The failure
//! modes every webhook shares are in `delivery`.)

use sync_notifier::config::Config;

use crate::shared::{Receiver, Reply};
use crate::support::*;

const PATH: &str = "/v1/spaces/AAAAsecret/messages";
const QUERY: &str = "key=KEYSECRET&token=TOKENSECRET%3D";

fn webhook(receiver: &Receiver) -> Vec<(&'static str, String)> {
    vec![(
        "GOOGLE_CHAT_WEBHOOK_URL",
        receiver.url_with_path(&format!("{PATH}?{QUERY}")),
    )]
}

fn thread_keys(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|request| {
            request.json()["thread"]["threadKey"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_attempt_is_one_thread_and_the_webhook_query_is_kept() {
    let receiver = Receiver::start().await.unwrap();
    let pipeline = Pipeline::start(start_then_fail(&["orders-stack"]), &webhook(&receiver)).await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    let requests = receiver.received();
    assert_eq!(requests.len(), 2);
    // What arrives (shown with --nocapture).
    println!(
        "POST {}?{}\n{:#}",
        requests[1].path,
        requests[1].query.as_deref().unwrap_or_default(),
        requests[1].json()
    );
    for request in &requests {
        assert_eq!(request.path, PATH);
        assert_eq!(
            request.query.as_deref(),
            Some(
                format!("{QUERY}&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD").as_str()
            )
        );
    }
    assert_eq!(
        requests
            .iter()
            .map(|request| event_type_of("google-chat", &request.json()))
            .collect::<Vec<_>>(),
        ["sync.started", "sync.failed"]
    );
    let keys = thread_keys(&receiver);
    assert_eq!(keys[0], keys[1], "the start and the failure share a thread");
    assert!(keys[0].starts_with("sync-notifier-"), "{keys:?}");
    for request in &requests {
        assert!(
            !request.body.windows(10).any(|part| part == b"KEYSECRET&"),
            "the URL is not in the message"
        );
    }
}

#[tokio::test]
async fn different_attempts_are_different_threads() {
    let receiver = Receiver::start().await.unwrap();
    // The replaced attempt fails, then the new one starts: two attempts in one tick.
    let pipeline = Pipeline::start(two_at_once("orders-stack"), &webhook(&receiver)).await;
    pipeline.tick(0).await;
    pipeline.tick(1).await;
    let keys = thread_keys(&receiver);
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
}

#[tokio::test]
async fn send_test_is_one_message_in_no_thread() {
    let receiver = Receiver::start().await.unwrap();
    let chat = only_destination(&webhook(&receiver));
    let results = sync_notifier::notify::send_test_to(std::slice::from_ref(&chat), None).await;
    assert_eq!(results[0].result, "delivered", "{:?}", results[0]);
    let request = &receiver.received()[0];
    assert!(request.json().get("thread").is_none());
    assert_eq!(
        request.json()["cardsV2"][0]["card"]["header"]["title"],
        "🧪 Test message: sync-notifier-test"
    );
}

#[tokio::test]
async fn logs_labels_and_problems_never_show_the_webhook_s_secret_parts() {
    let receiver = Receiver::start().await.unwrap();
    receiver.reply([Reply::status(404)]);
    let pipeline = Pipeline::start(start_then_fail(&["orders-stack"]), &webhook(&receiver)).await;
    let (summary, logs) = logs_of(async {
        pipeline.tick(0).await;
        pipeline.tick(1).await
    })
    .await;
    assert_eq!(summary.deliveries.refused, 1);
    assert!(
        logs.contains("google-chat#") && logs.contains("HTTP 404"),
        "{logs}"
    );
    let chat = only_destination(&webhook(&receiver));
    let problem = Config::from_lookup(|name| {
        (name == "GOOGLE_CHAT_WEBHOOK_URL").then(|| {
            "http://chat.example.com/v1/spaces/AAAAsecret/messages?key=KEYSECRET".to_owned()
        })
    })
    .unwrap_err()
    .to_string();
    assert!(
        problem.contains("GOOGLE_CHAT_WEBHOOK_URL: \"http://chat.example.com/…\" uses http"),
        "{problem}"
    );
    let shown = format!("{logs}\n{}\n{chat:?}\n{problem}", chat.label());
    for secret in ["KEYSECRET", "TOKENSECRET", "AAAAsecret"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}
