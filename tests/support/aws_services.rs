//! A loopback stand-in for Amazon SNS and Amazon EventBridge, speaking the wire protocols
//! the real SDK clients speak, so tests send through `aws-sdk-sns` and
//! `aws-sdk-eventbridge` over TCP:
//!
//! - SNS is awsQuery: `POST /` with a form body (`Action=Publish&Version=2010-03-31&
//!   TopicArn=…&Message=…`), answered with a `PublishResponse` XML document, or an
//!   `ErrorResponse` (`<Error><Type>Sender</Type><Code>…</Code><Message>…</Message>`).
//! - EventBridge is awsJson1.1: `POST /` with `X-Amz-Target: AWSEvents.PutEvents` and a
//!   JSON body, answered with `{"FailedEntryCount": …, "Entries": […]}`, or an error
//!   `{"__type": "…", "message": "…"}` with a 4xx or 5xx status.
//!
//! Both are served on one address (an SDK configuration's `endpoint_url` points every
//! client at it); a request is told apart by its `Content-Type` and `X-Amz-Target`.
//! Every call is recorded with the Region and service its SigV4 signature was made for,
//! and each service can be scripted to fail the next calls.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Which service a call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sns,
    EventBridge,
}

/// How to fail one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SNS: 400 `Throttling`; EventBridge: 400 `ThrottlingException`.
    Throttling,
    /// SNS: 403 `AuthorizationError`; EventBridge: 400 `AccessDeniedException`.
    AccessDenied,
    /// SNS: 404 `NotFound`; EventBridge: 400 `ResourceNotFoundException`.
    NotFound,
    /// SNS: 400 `InvalidParameter`; EventBridge: 400 `ValidationException`.
    Invalid,
    /// SNS: 500 `InternalError`; EventBridge: 500 `InternalException`.
    ServerError,
    /// EventBridge: 200 with `FailedEntryCount: 1` and this entry error (SNS: as
    /// `ServerError`).
    FailedEntry { code: String, message: String },
    /// 200 with a body that is neither the service's XML nor its JSON.
    Malformed,
    /// The right answer, but only after this long.
    Slow(Duration),
}

impl Fault {
    pub fn failed_entry(code: &str, message: &str) -> Fault {
        Fault::FailedEntry {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// One call as received.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: Service,
    /// `Publish`, `PutEvents`, or what else was asked for.
    pub action: String,
    /// SNS: the form's fields, in order.
    pub form: Vec<(String, String)>,
    /// EventBridge: the JSON body.
    pub json: Value,
    /// The Region and service the request was signed for (SigV4 credential scope).
    pub signed_region: String,
    pub signed_service: String,
    pub content_type: String,
    /// The status it was answered with.
    pub status: u16,
    /// Whether it was taken: a 200, and for `PutEvents` no failed entry.
    pub delivered: bool,
}

impl Call {
    /// A form field of an SNS call.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The `Message` of a `Publish`, as JSON.
    pub fn message(&self) -> Value {
        self.field("Message")
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null)
    }

    /// The only entry of a `PutEvents`.
    pub fn entry(&self) -> &Value {
        &self.json["Entries"][0]
    }

    /// The `Detail` of the only entry of a `PutEvents`, as JSON.
    pub fn detail(&self) -> Value {
        self.entry()["Detail"]
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    sns_faults: VecDeque<Fault>,
    eventbridge_faults: VecDeque<Fault>,
    calls: Vec<Call>,
    next_id: u64,
}

pub struct AwsServices {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for AwsServices {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The credential scope of a SigV4 `Authorization` header: (Region, service).
fn scope(authorization: &str) -> (String, String) {
    let credential = authorization
        .split([' ', ','])
        .find_map(|part| part.strip_prefix("Credential="))
        .unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, _] => ((*region).to_owned(), (*service).to_owned()),
        _ => (String::new(), String::new()),
    }
}

fn answer(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("x-amzn-requestid", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn sns_error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>a1b2c3d4-5678-90ab-cdef-EXAMPLE11111</RequestId></ErrorResponse>"
        ),
    )
}

fn eventbridge_error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        json!({"__type": code, "message": message}).to_string(),
    )
}

/// SNS `Publish`: the answer to `form`, or to `fault`.
fn publish(form: &[(String, String)], fault: Option<Fault>, id: u64) -> (u16, String) {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    match fault {
        Some(Fault::Throttling) => return sns_error(400, "Throttling", "Rate exceeded"),
        Some(Fault::AccessDenied) => {
            return sns_error(
                403,
                "AuthorizationError",
                "User: arn:aws:sts::123456789012:assumed-role/sync-notifier/fn is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:123456789012:ops because no identity-based policy allows the SNS:Publish action",
            );
        }
        Some(Fault::NotFound) => return sns_error(404, "NotFound", "Topic does not exist"),
        Some(Fault::Invalid) => {
            return sns_error(400, "InvalidParameter", "Invalid parameter: Message");
        }
        Some(Fault::ServerError | Fault::FailedEntry { .. }) => {
            return sns_error(500, "InternalError", "Internal Error");
        }
        Some(Fault::Malformed) => return (200, "<html><body>Service Unavailable".to_owned()),
        Some(Fault::Slow(_)) | None => {}
    }
    if field("Action") != Some("Publish") {
        return sns_error(
            400,
            "InvalidAction",
            "The action is not valid for this endpoint.",
        );
    }
    if field("Version") != Some("2010-03-31") {
        return sns_error(400, "InvalidParameter", "Invalid parameter: Version");
    }
    if field("TopicArn").is_none_or(|arn| !arn.starts_with("arn:aws:sns:")) {
        return sns_error(400, "InvalidParameter", "Invalid parameter: TopicArn");
    }
    match field("Message") {
        None | Some("") => return sns_error(400, "InvalidParameter", "Empty message"),
        Some(message) if message.len() > 256 * 1024 => {
            return sns_error(
                400,
                "InvalidParameter",
                "Invalid parameter: Message too long",
            );
        }
        Some(_) => {}
    }
    (
        200,
        format!(
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>567910cd-659e-55d4-8ccb-{id:012x}</MessageId></PublishResult><ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata></PublishResponse>"
        ),
    )
}

/// The size EventBridge counts for an entry: source, detail type, detail, resources.
pub fn entry_size(entry: &Value) -> usize {
    let text = |name: &str| entry[name].as_str().map_or(0, str::len);
    let resources: usize = entry["Resources"]
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).map(str::len).sum())
        .unwrap_or_default();
    text("Source") + text("DetailType") + text("Detail") + resources
}

/// EventBridge `PutEvents`: the answer to `body`, or to `fault`.
fn put_events(body: &Value, fault: Option<Fault>, id: u64) -> (u16, String) {
    match fault {
        Some(Fault::Throttling) => {
            return eventbridge_error(400, "ThrottlingException", "Rate exceeded.");
        }
        Some(Fault::AccessDenied) => {
            return eventbridge_error(
                400,
                "AccessDeniedException",
                "User: arn:aws:sts::123456789012:assumed-role/sync-notifier/fn is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/default because no identity-based policy allows the events:PutEvents action",
            );
        }
        Some(Fault::NotFound) => {
            return eventbridge_error(
                400,
                "ResourceNotFoundException",
                "Event bus ops does not exist.",
            );
        }
        Some(Fault::Invalid) => {
            return eventbridge_error(400, "ValidationException", "1 validation error detected");
        }
        Some(Fault::ServerError) => {
            return eventbridge_error(500, "InternalException", "Internal error.");
        }
        Some(Fault::FailedEntry { code, message }) => {
            return (
                200,
                json!({"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": message}]})
                    .to_string(),
            );
        }
        Some(Fault::Malformed) => {
            return (200, "{\"FailedEntryCount\": 0, \"Entries\": [".to_owned());
        }
        Some(Fault::Slow(_)) | None => {}
    }
    let Some(entries) = body["Entries"]
        .as_array()
        .filter(|entries| (1..=10).contains(&entries.len()))
    else {
        return eventbridge_error(
            400,
            "ValidationException",
            "Entries must hold 1 to 10 entries",
        );
    };
    let mut failed = 0;
    let results: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let detail_is_object = entry["Detail"]
                .as_str()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .is_some_and(|detail| detail.is_object());
            let complete = entry["Source"].is_string() && entry["DetailType"].is_string();
            if !complete {
                failed += 1;
                json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source and DetailType are required."})
            } else if !detail_is_object {
                failed += 1;
                json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
            } else if entry_size(entry) >= 256 * 1024 {
                failed += 1;
                json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Entry size exceeds the limit."})
            } else {
                json!({"EventId": format!("11710aed-b79e-4468-a20b-{:012x}", id * 16 + index as u64)})
            }
        })
        .collect();
    (
        200,
        json!({"FailedEntryCount": failed, "Entries": results}).to_string(),
    )
}

impl AwsServices {
    pub async fn start() -> std::io::Result<AwsServices> {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (address, task) = sync_notifier::loopback::serve(0, move |request| {
            let state = shared.clone();
            async move {
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let content_type = header("content-type");
                let target = header("x-amz-target");
                let (signed_region, signed_service) = scope(&header("authorization"));
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|body| body.to_bytes())
                    .unwrap_or_default();
                let service = if target.is_empty() {
                    Service::Sns
                } else {
                    Service::EventBridge
                };
                let (fault, id) = match state.lock() {
                    Ok(mut state) => {
                        state.next_id += 1;
                        let faults = match service {
                            Service::Sns => &mut state.sns_faults,
                            Service::EventBridge => &mut state.eventbridge_faults,
                        };
                        (faults.pop_front(), state.next_id)
                    }
                    Err(_) => (None, 0),
                };
                if let Some(Fault::Slow(delay)) = &fault {
                    tokio::time::sleep(*delay).await;
                }
                let mut call = Call {
                    service,
                    action: String::new(),
                    form: Vec::new(),
                    json: Value::Null,
                    signed_region,
                    signed_service,
                    content_type: content_type.clone(),
                    status: 0,
                    delivered: false,
                };
                let (status, text, answer_type) = match service {
                    Service::Sns => {
                        call.form = url::form_urlencoded::parse(&body)
                            .map(|(key, value)| (key.into_owned(), value.into_owned()))
                            .collect();
                        call.action = call.field("Action").unwrap_or_default().to_owned();
                        let (status, text) =
                            if content_type.starts_with("application/x-www-form-urlencoded") {
                                publish(&call.form, fault, id)
                            } else {
                                sns_error(400, "InvalidAction", "Unsupported content type")
                            };
                        (status, text, "text/xml")
                    }
                    Service::EventBridge => {
                        call.action = target
                            .strip_prefix("AWSEvents.")
                            .unwrap_or(&target)
                            .to_owned();
                        call.json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let (status, text) = if target != "AWSEvents.PutEvents" {
                            eventbridge_error(400, "UnknownOperationException", "Unknown operation")
                        } else if content_type != "application/x-amz-json-1.1" {
                            eventbridge_error(
                                400,
                                "SerializationException",
                                "Unsupported content type",
                            )
                        } else {
                            put_events(&call.json, fault, id)
                        };
                        (status, text, "application/x-amz-json-1.1")
                    }
                };
                call.status = status;
                call.delivered = status == 200
                    && match service {
                        Service::Sns => text.contains("<MessageId>"),
                        Service::EventBridge => serde_json::from_str::<Value>(&text)
                            .is_ok_and(|answer| answer["FailedEntryCount"] == 0),
                    };
                if let Ok(mut state) = state.lock() {
                    state.calls.push(call);
                }
                answer(status, answer_type, text)
            }
        })
        .await?;
        Ok(AwsServices {
            endpoint: format!("http://{address}"),
            state,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration that sends every client here: Region us-east-1, static test
    /// credentials, the function's timeouts.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        use aws_sdk_sns::config::{Credentials, Region, SharedCredentialsProvider};
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTESTAWSSERVICES",
                "test-secret-never-shown",
                None,
                None,
                "tests",
            )))
            .timeout_config(sync_notifier::aws::timeouts())
            .endpoint_url(&self.endpoint)
            .build()
    }

    /// The next calls to `service` fail as `faults` say, in order (then succeed again).
    pub fn fail_next(&self, service: Service, faults: impl IntoIterator<Item = Fault>) {
        if let Ok(mut state) = self.state.lock() {
            match service {
                Service::Sns => state.sns_faults.extend(faults),
                Service::EventBridge => state.eventbridge_faults.extend(faults),
            }
        }
    }

    /// Every call answered, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state
            .lock()
            .map(|state| state.calls.clone())
            .unwrap_or_default()
    }

    /// Calls to `service` that were taken (see [`Call::delivered`]), in order.
    pub fn delivered(&self, service: Service) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.service == service && call.delivered)
            .collect()
    }
}
