//! The loopback CloudFormation endpoint: `DescribeStackEvents` and `DescribeStacks` from a
//! [`Scenario`]'s `@stackEvents` and `@tags`, served by the same server, port and tick as
//! the loopback CodeConnections (which hands it every `POST /`), so one endpoint URL serves
//! both and `replay` needs nothing more than a second client.
//!
//! `aws-sdk-cloudformation` speaks awsQuery: `POST /` with an
//! `application/x-www-form-urlencoded` body (`Action=DescribeStackEvents&Version=2010-05-15
//! &StackName=…&NextToken=…`), answered in XML (`<DescribeStackEventsResponse>
//! <DescribeStackEventsResult><StackEvents><member>…`), timestamps in ISO 8601. An error is
//! a 4xx/5xx status with `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code>
//! <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.
//!
//! A stack asked by ARN (a nested stack) is found by the name in the ARN. A stack the tick
//! does not hold answers `ValidationError` "Stack with id X does not exist" (HTTP 400), as
//! AWS does for a deleted stack.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value};

use super::{Body, ScopeKey, full, wait_until};
use crate::domain::explain::stack_name_of_arn;
use crate::domain::{ResourceName, Timestamp};
use crate::scenario::Scenario;

const XMLNS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// How the endpoint misbehaves for every call of one operation (tests of the bounds and of
/// optional reads failing soft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudFormationFault {
    /// `AccessDenied`, HTTP 403, as a role without the permission gets.
    Deny,
    /// `Throttling`, HTTP 400, which the SDK retries.
    Throttle,
    /// Accepts the call and never answers.
    Hang,
    /// Answers 200 with a body that is not XML.
    Garbage,
}

#[derive(Debug, Clone)]
pub struct CloudFormationOptions {
    /// Every answer leaves this long after its request came.
    pub latency: Duration,
    /// Events per page of `DescribeStackEvents` (AWS: 100); small in tests, so paging runs.
    pub events_page_size: usize,
    /// Stacks per page of `DescribeStacks`.
    pub stacks_page_size: usize,
    /// Operations (`DescribeStackEvents`, `DescribeStacks`) that misbehave.
    pub faults: HashMap<String, CloudFormationFault>,
}

impl Default for CloudFormationOptions {
    fn default() -> Self {
        CloudFormationOptions {
            latency: Duration::ZERO,
            events_page_size: 100,
            stacks_page_size: 100,
            faults: HashMap::new(),
        }
    }
}

/// The stand-in's state: its options and the calls it answered.
#[derive(Debug)]
pub struct CloudFormationStandIn {
    options: CloudFormationOptions,
    /// Per operation, and per `operation StackName` as asked.
    calls: Mutex<HashMap<String, usize>>,
}

impl CloudFormationStandIn {
    pub(super) fn new(options: CloudFormationOptions) -> Self {
        CloudFormationStandIn {
            options,
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// How many times `operation` was called.
    pub fn calls(&self, operation: &str) -> usize {
        self.count(operation)
    }

    /// How many times `operation` was called with this `StackName` (a name or an ARN, as
    /// the client sent it).
    pub fn calls_for(&self, operation: &str, stack: &str) -> usize {
        self.count(&format!("{operation} {stack}"))
    }

    /// Every CloudFormation call, whatever the operation.
    pub fn total_calls(&self) -> usize {
        self.calls
            .lock()
            .map(|calls| {
                calls
                    .iter()
                    .filter(|(key, _)| !key.contains(' '))
                    .map(|(_, count)| count)
                    .sum()
            })
            .unwrap_or(0)
    }

    fn count(&self, key: &str) -> usize {
        self.calls
            .lock()
            .map(|calls| calls.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn counted(&self, key: String) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(key).or_default() += 1;
        }
    }
}

/// Whether a request is CloudFormation's (awsQuery posts to `/`; CodeConnections to
/// `/service/…`).
pub(super) fn is_cloudformation(request: &Request<Incoming>) -> bool {
    request.method() == Method::POST && request.uri().path() == "/"
}

/// Answers one CloudFormation request from tick `tick` of `scenario` (the one of the
/// request's account and Region, in a fleet). `denied`: the account and Region refuse every
/// call, as a service control policy would.
pub(super) async fn handle(
    stand_in: &CloudFormationStandIn,
    scenario: &Scenario,
    tick: usize,
    scope: &ScopeKey,
    denied: bool,
    request: Request<Incoming>,
) -> Response<Body> {
    let due = Instant::now() + stand_in.options.latency;
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                400,
                "InvalidQueryParameter",
                "could not read the request body",
            );
        }
    };
    let input: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let action = input.get("Action").cloned().unwrap_or_default();
    stand_in.counted(action.clone());
    if let Some(stack) = input.get("StackName") {
        stand_in.counted(format!("{action} {stack}"));
    }
    let place = Place::of(scope);
    let fault = if denied {
        Some(CloudFormationFault::Deny)
    } else {
        stand_in.options.faults.get(&action).cloned()
    };
    let reply = match fault {
        Some(CloudFormationFault::Deny) => error(
            403,
            "AccessDenied",
            &format!(
                "User: arn:aws:sts::{}:assumed-role/sync-notifier/loopback is not authorized to perform: cloudformation:{action} because no identity-based policy allows the cloudformation:{action} action",
                place.account
            ),
        ),
        Some(CloudFormationFault::Throttle) => error(400, "Throttling", "Rate exceeded"),
        Some(CloudFormationFault::Garbage) => respond(200, full(&b"this is not XML {"[..])),
        Some(CloudFormationFault::Hang) => {
            std::future::pending::<()>().await;
            respond(500, full(Vec::new()))
        }
        None => {
            let tick = scenario
                .ticks
                .get(tick.min(scenario.ticks.len().saturating_sub(1)));
            match (action.as_str(), tick) {
                (_, None) => error(500, "InternalFailure", "the scenario has no ticks"),
                ("DescribeStackEvents", Some(tick)) => {
                    describe_stack_events(tick, &input, &stand_in.options)
                }
                ("DescribeStacks", Some(tick)) => {
                    describe_stacks(tick, &place, &input, &stand_in.options)
                }
                (other, _) => error(
                    400,
                    "InvalidAction",
                    &format!(
                        "the loopback endpoint does not serve {:?}",
                        crate::text::preview(other, 60)
                    ),
                ),
            }
        }
    };
    wait_until(due).await;
    reply
}

/// The account and Region stacks live in: the request's, or the single-account defaults.
struct Place {
    account: String,
    region: String,
}

impl Place {
    fn of((account, region): &ScopeKey) -> Place {
        let or = |value: &str, default: &str| {
            if value.is_empty() {
                default.to_owned()
            } else {
                value.to_owned()
            }
        };
        Place {
            account: or(account, "123456789012"),
            region: or(region, "us-east-1"),
        }
    }

    /// A stack's ARN, its id made from its name (stable from tick to tick).
    fn stack_id(&self, name: &str) -> String {
        // FNV-1a: a stable, dependency-free hash; the id only has to look like AWS's.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/{:08x}-{:04x}-4000-8000-{:012x}",
            self.region,
            self.account,
            hash >> 32,
            (hash >> 16) & 0xffff,
            hash & 0xffff_ffff_ffff
        )
    }
}

/// Whether the tick holds `name`: a watched stack (with a status) or a nested one.
fn exists(tick: &crate::scenario::ScenarioTick, name: &str) -> bool {
    tick.cloudformation.contains_key(name)
        || ResourceName::parse(name).is_ok_and(|name| tick.stacks.contains_key(&name))
}

fn does_not_exist(stack: &str) -> Response<Body> {
    error(
        400,
        "ValidationError",
        &format!("Stack with id {stack} does not exist"),
    )
}

/// One page of items from the `NextToken` (an index) on, and the next token.
fn page<'a, T>(
    items: &'a [T],
    input: &HashMap<String, String>,
    size: usize,
) -> (&'a [T], Option<String>) {
    let start = input
        .get("NextToken")
        .and_then(|token| token.parse().ok())
        .unwrap_or(0usize)
        .min(items.len());
    let end = start.saturating_add(size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    (&items[start..end], next)
}

fn describe_stack_events(
    tick: &crate::scenario::ScenarioTick,
    input: &HashMap<String, String>,
    options: &CloudFormationOptions,
) -> Response<Body> {
    let asked = input.get("StackName").cloned().unwrap_or_default();
    let name = stack_name_of_arn(&asked).unwrap_or(&asked);
    if !exists(tick, name) {
        return does_not_exist(&asked);
    }
    // Newest first, as AWS answers, whatever the file's order (a stable sort: events of
    // the same instant keep it).
    let mut events: Vec<&Map<String, Value>> = tick
        .cloudformation
        .get(name)
        .map(|stack| stack.events.iter().collect())
        .unwrap_or_default();
    let time = |event: &Map<String, Value>| event.get("Timestamp").and_then(Value::as_f64);
    events.sort_by(|a, b| {
        time(b)
            .partial_cmp(&time(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let (events, next) = page(&events, input, options.events_page_size);
    let mut xml = String::from("<StackEvents>");
    for event in events {
        xml.push_str("<member>");
        for member in [
            "StackId",
            "EventId",
            "StackName",
            "LogicalResourceId",
            "PhysicalResourceId",
            "ResourceType",
            "Timestamp",
            "ResourceStatus",
            "ResourceStatusReason",
            "ResourceProperties",
            "ClientRequestToken",
        ] {
            let text = match (member, event.get(member)) {
                ("Timestamp", Some(Value::Number(seconds))) => seconds
                    .as_f64()
                    .map(|seconds| Timestamp::from_epoch_seconds(seconds).to_rfc3339_millis()),
                (_, Some(Value::String(text))) => Some(text.clone()),
                _ => None,
            };
            if let Some(text) = text {
                element(&mut xml, member, &text);
            }
        }
        xml.push_str("</member>");
    }
    xml.push_str("</StackEvents>");
    if let Some(next) = next {
        element(&mut xml, "NextToken", &next);
    }
    ok("DescribeStackEvents", &xml)
}

fn describe_stacks(
    tick: &crate::scenario::ScenarioTick,
    place: &Place,
    input: &HashMap<String, String>,
    options: &CloudFormationOptions,
) -> Response<Body> {
    // The watched stacks, those with a status entry, as DescribeStacks lists live stacks.
    let mut names: Vec<&str> = tick.stacks.keys().map(ResourceName::as_str).collect();
    if let Some(asked) = input.get("StackName") {
        let name = stack_name_of_arn(asked).unwrap_or(asked);
        if !names.contains(&name) {
            return does_not_exist(asked);
        }
        names.retain(|listed| *listed == name);
    }
    let (names, next) = page(&names, input, options.stacks_page_size);
    let mut xml = String::from("<Stacks>");
    for name in names {
        xml.push_str("<member>");
        element(&mut xml, "StackId", &place.stack_id(name));
        element(&mut xml, "StackName", name);
        element(&mut xml, "CreationTime", "2026-01-05T09:00:00.000Z");
        element(&mut xml, "StackStatus", "UPDATE_COMPLETE");
        xml.push_str("<Tags>");
        let tags = tick
            .cloudformation
            .get(*name)
            .and_then(|stack| stack.tags.as_deref())
            .unwrap_or_default();
        for (key, value) in tags {
            xml.push_str("<member>");
            element(&mut xml, "Key", key);
            element(&mut xml, "Value", value);
            xml.push_str("</member>");
        }
        xml.push_str("</Tags></member>");
    }
    xml.push_str("</Stacks>");
    if let Some(next) = next {
        element(&mut xml, "NextToken", &next);
    }
    ok("DescribeStacks", &xml)
}

/// `<name>text</name>`, the text escaped.
fn element(xml: &mut String, name: &str, text: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    escape_into(xml, text);
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

/// XML text: the five markup characters as entities. XML 1.0 cannot carry C0 control
/// characters other than tab and line breaks (not even as references, which the SDK
/// refuses), so no real answer holds one: they become U+FFFD here. DEL, C1, bidi and
/// zero-width characters pass as they are, for the renderers to deal with.
fn escape_into(xml: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            '\r' => xml.push_str("&#xD;"),
            '\t' | '\n' => xml.push(c),
            c if u32::from(c) < 0x20 => xml.push('\u{FFFD}'),
            c => xml.push(c),
        }
    }
}

fn request_id() -> String {
    format!("{:08x}-loop-4000-8000-000000000000", fastrand::u32(..))
}

fn ok(action: &str, result: &str) -> Response<Body> {
    let body = format!(
        "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        request_id()
    );
    respond(200, full(body))
}

fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    let mut text = String::new();
    escape_into(&mut text, message);
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        request_id()
    );
    respond(status, full(body))
}

fn respond(status: u16, body: Body) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "text/xml")
        .body(body)
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

/// A CloudFormation client for a loopback endpoint: fixed Region and dummy credentials (no
/// AWS account needed), quick retries so a throttled scenario replays fast, and the same
/// bounds as the real client (timeouts, the answer size).
pub fn loopback_cloudformation_client(endpoint: &str) -> aws_sdk_cloudformation::Client {
    use aws_sdk_cloudformation::config::{
        BehaviorVersion, Credentials, Region, retry::RetryConfig,
    };
    let config = aws_sdk_cloudformation::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDLOOPBACK",
            "loopback",
            None,
            None,
            "loopback",
        ))
        .endpoint_url(endpoint)
        .timeout_config(crate::aws::timeouts())
        .interceptor(crate::aws::AnswerLimit)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .build();
    aws_sdk_cloudformation::Client::from_conf(config)
}
