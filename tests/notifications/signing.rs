//! Standard Webhooks signatures: the specification's published vector, our own vectors
//! (computed independently with Python's `hmac`), and the reference Python library
//! (`standardwebhooks` on PyPI) verifying what the real client sends.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::shared::Receiver;
use serde_json::json;
use sync_notifier::notify::SigningSecret;
use sync_notifier::notify::sign;

use crate::support::*;

#[test]
fn the_specification_test_vector() {
    // The vector every reference library's `sign` test uses.
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

#[test]
fn our_own_vectors() {
    let secret =
        SigningSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let id = "msg_6d1b0b8f2c0e4b5f9a7c3e1d2f4a6b8c";
    assert_eq!(
        sign(
            &secret,
            id,
            1_795_687_427,
            br#"{"type":"sync.failed","timestamp":"2026-11-26T10:03:47Z","data":{"resourceName":"orders-stack"}}"#
        ),
        "v1,N3mxGLqZ5KlqNc6IyGiOXaeTxmj+p/yrBKQ/Ot5+efw="
    );
    assert_eq!(
        sign(
            &secret,
            id,
            1_795_687_427,
            r#"{"note":"déjà vu ✅"}"#.as_bytes()
        ),
        "v1,Cf52D0nEueoc+HGOXC0lyUUR/MNGCE6Bs7nSUC+8MGI=",
        "the body is signed as the UTF-8 bytes that are sent"
    );
}

/// The interpreter with `standardwebhooks` installed: `SYNC_NOTIFIER_PYTHON`, else the
/// virtualenv `scripts/install-python-tools` creates, else `python3`.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("SYNC_NOTIFIER_PYTHON") {
        return path.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    if let Some(cache) = cache {
        let venv = cache.join("sync-notifier-py").join("bin").join("python");
        if venv.exists() {
            return venv;
        }
    }
    PathBuf::from("python3")
}

/// Verifies each delivery with the reference library, and checks that the same library
/// refuses each one with its body changed by one byte.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
job = json.load(sys.stdin)
hook = Webhook(job["secret"])
for delivery in job["deliveries"]:
    hook.verify(delivery["body"], delivery["headers"])
    try:
        hook.verify(delivery["body"] + " ", delivery["headers"])
    except WebhookVerificationError:
        pass
    else:
        sys.exit("a changed body was accepted")
print("verified", len(job["deliveries"]))
"#;

#[tokio::test]
async fn the_reference_python_library_verifies_what_we_send() {
    let receiver = Receiver::start().await.unwrap();
    // A 503 first, so a retried (re-signed) request is verified too.
    receiver.answer_with(&[503]);
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[
            ("WEBHOOK_URL", receiver.url()),
            ("WEBHOOK_SECRET", SECRET.to_owned()),
        ],
    )
    .await;
    for tick in 0..3 {
        pipeline.tick(tick).await;
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "503 then retried, then the failure");
    let deliveries: Vec<_> = requests
        .iter()
        .map(|request| {
            json!({
                "body": String::from_utf8(request.body.to_vec()).unwrap(),
                "headers": {
                    "webhook-id": request.header("webhook-id"),
                    "webhook-timestamp": request.header("webhook-timestamp"),
                    "webhook-signature": request.header("webhook-signature"),
                },
            })
        })
        .collect();
    let job = json!({"secret": SECRET, "deliveries": deliveries}).to_string();

    let interpreter = python();
    let mut child = Command::new(&interpreter)
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", interpreter.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'standardwebhooks'"),
        "the reference library is missing for {}: run `bash scripts/install-python-tools` \
         (a virtualenv with standardwebhooks==1.1.0) or set SYNC_NOTIFIER_PYTHON",
        interpreter.display()
    );
    assert!(output.status.success(), "verification failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "verified 3");
}

#[tokio::test]
async fn each_attempt_is_signed_with_its_own_timestamp_and_a_stable_id() {
    let receiver = Receiver::start().await.unwrap();
    receiver.answer_with(&[500]);
    let pipeline = Pipeline::start(
        start_then_fail(&["orders-stack"]),
        &[
            ("WEBHOOK_URL", receiver.url()),
            ("WEBHOOK_SECRET", SECRET.to_owned()),
        ],
    )
    .await;
    pipeline.tick(0).await;
    pipeline.tick(1).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    let secret = SigningSecret::parse(SECRET).unwrap();
    for request in &requests {
        let id = request.header("webhook-id").unwrap();
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            request.header("webhook-signature").unwrap(),
            sign(&secret, id, timestamp, &request.body)
        );
        assert!(id.starts_with("msg_"));
    }
}
