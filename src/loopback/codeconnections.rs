//! A loopback AWS CodeConnections endpoint that serves a [`Scenario`], tick by tick.
//!
//! It can also stand in for a whole organization ([`LoopbackCodeConnections::start_fleet`]):
//! one scenario per account and Region, each request answered from the scenario of the
//! account its access key id names (see [`access_key_for`]) and of the Region its SigV4
//! signature was made for, so one endpoint serves every account × Region a hub reads.
//!
//! The same server answers CloudFormation's awsQuery requests (`POST /`) from the same
//! scenario and tick, through [`super::cloudformation`].
//!
//! The Rust SDK speaks Smithy RPC v2 CBOR: `POST /service/CodeConnections_20231201/
//! operation/<Operation>` with a CBOR body; timestamps are CBOR tag 1 (epoch seconds);
//! errors are a non-2xx status with a CBOR body whose `__type` names the error. The
//! scenario holds AWS JSON shapes, translated to CBOR here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ciborium::Value as Cbor;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::Value as Json;
use tokio::task::JoinHandle;

use super::cloudformation::{CloudFormationOptions, CloudFormationStandIn};
use super::{Body, ScopeKey, full, wait_until};
use crate::domain::{ResourceName, Timestamp};
use crate::scenario::{Response as Answer, Scenario};

const NAMESPACE: &str = "com.amazonaws.codeconnections";

/// Members of the API whose values are timestamps (tag 1 on the wire).
const TIMESTAMP_MEMBERS: [&str; 4] = ["StartedAt", "Time", "CreatedAt", "ResolvedAt"];

/// How the endpoint misbehaves for one stack's status calls (tests of the bounds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Accepts the call and never answers.
    Hang,
    /// Answers at once, then sends the body a few bytes at a time, this long apart.
    Trickle(Duration),
    /// Answers 200 with a valid-looking body of this many bytes.
    Oversized(usize),
    /// Answers 200 with a body that is not CBOR.
    NotCbor,
    /// Answers this status with no body at all.
    EmptyStatus(u16),
}

/// The access key id the loopback stand-ins give an account's credentials (20 characters,
/// like AWS's): the loopback CodeConnections reads the account back from it.
pub fn access_key_for(account: &str) -> String {
    format!("ASIA{account}LOOP")
}

/// The account an access key id of [`access_key_for`]'s form names.
pub fn account_of_access_key(key: &str) -> Option<&str> {
    let account = key.get(4..16)?;
    account
        .chars()
        .all(|c| c.is_ascii_digit())
        .then_some(account)
}

#[derive(Debug, Clone)]
pub struct LoopbackOptions {
    /// The real service's latency: every answer leaves this long after its request came,
    /// the stand-in's own work included.
    pub latency: Duration,
    /// Items per page of the list operations (small, so paging is exercised).
    pub page_size: usize,
    /// Move to the next tick by itself when a request comes after this long without any:
    /// each burst of calls (one Lambda invoke, one `check`) then sees the next tick.
    pub advance_after_idle: Option<Duration>,
    /// Stacks per repository link, so discovery walks several links and pages.
    pub stacks_per_link: usize,
    /// Stacks whose status calls misbehave, by name.
    pub faults: HashMap<String, Fault>,
    /// Operations every call of which misbehaves, by name (`GetSyncBlockerSummary`).
    pub operation_faults: HashMap<String, Fault>,
    /// Account/Region pairs (of a fleet) where every call is refused with
    /// `AccessDeniedException`, as a service control policy denying a Region would.
    pub denied_scopes: Vec<ScopeKey>,
    /// The CloudFormation stand-in's own options.
    pub cloudformation: CloudFormationOptions,
}

impl Default for LoopbackOptions {
    fn default() -> Self {
        LoopbackOptions {
            latency: Duration::ZERO,
            page_size: 2,
            advance_after_idle: None,
            stacks_per_link: 3,
            faults: HashMap::new(),
            operation_faults: HashMap::new(),
            denied_scopes: Vec::new(),
            cloudformation: CloudFormationOptions::default(),
        }
    }
}

struct Shared {
    scenario: Scenario,
    /// Per account and Region, when serving a fleet (then `scenario` is unused).
    fleet: HashMap<ScopeKey, Scenario>,
    /// What an account and Region outside the fleet has: no stacks.
    empty: Scenario,
    tick: AtomicUsize,
    options: LoopbackOptions,
    calls: Mutex<HashMap<String, usize>>,
    /// Calls per account, Region and operation.
    scope_calls: Mutex<HashMap<(String, String, String), usize>>,
    /// Per operation: requests being answered now, and the most at one moment.
    operation_in_flight: Mutex<HashMap<String, (usize, usize)>>,
    /// The client connections requests came over.
    peers: Mutex<std::collections::HashSet<super::Peer>>,
    /// When the last request came (for `advance_after_idle`).
    last_request: Mutex<Option<Instant>>,
    /// The session token (`X-Amz-Security-Token`) of each request, in arrival order.
    session_tokens: Mutex<Vec<String>>,
    cloudformation: CloudFormationStandIn,
}

pub struct LoopbackCodeConnections {
    endpoint: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for LoopbackCodeConnections {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LoopbackCodeConnections {
    pub async fn start(scenario: Scenario, options: LoopbackOptions) -> std::io::Result<Self> {
        Self::start_on(scenario, options, 0).await
    }

    /// Like [`start`](Self::start), on a chosen port (0: any free one).
    pub async fn start_on(
        scenario: Scenario,
        options: LoopbackOptions,
        port: u16,
    ) -> std::io::Result<Self> {
        Self::serve(scenario, HashMap::new(), options, port).await
    }

    /// Stands in for many accounts and Regions: each request is answered from the
    /// scenario of its account (from the access key id it is signed with, see
    /// [`access_key_for`]) and Region (its SigV4 credential scope). An account and Region
    /// not in `fleet` has no stacks. All scenarios move from tick to tick together.
    pub async fn start_fleet(
        fleet: HashMap<ScopeKey, Scenario>,
        options: LoopbackOptions,
    ) -> std::io::Result<Self> {
        Self::serve(empty_scenario(), fleet, options, 0).await
    }

    async fn serve(
        scenario: Scenario,
        fleet: HashMap<ScopeKey, Scenario>,
        options: LoopbackOptions,
        port: u16,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            cloudformation: CloudFormationStandIn::new(options.cloudformation.clone()),
            scenario,
            fleet,
            empty: empty_scenario(),
            tick: AtomicUsize::new(0),
            options,
            calls: Mutex::new(HashMap::new()),
            scope_calls: Mutex::new(HashMap::new()),
            operation_in_flight: Mutex::new(HashMap::new()),
            peers: Mutex::new(std::collections::HashSet::new()),
            last_request: Mutex::new(None),
            session_tokens: Mutex::new(Vec::new()),
        });
        let handler_state = shared.clone();
        let (address, task) =
            super::serve(port, move |request| handle(handler_state.clone(), request)).await?;
        Ok(LoopbackCodeConnections {
            endpoint: format!("http://{address}"),
            shared,
            task,
        })
    }

    /// The URL to give the SDK (`endpoint_url`, or `AWS_ENDPOINT_URL_CODECONNECTIONS`).
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint
    }

    /// The tick being served.
    pub fn tick(&self) -> usize {
        self.shared.tick.load(Ordering::SeqCst)
    }

    /// Serves tick `index` of the scenario from now on.
    pub fn set_tick(&self, index: usize) {
        self.shared.tick.store(index, Ordering::SeqCst);
    }

    pub fn tick_count(&self) -> usize {
        tick_count(&self.shared)
    }

    /// The clock of tick `index`: its `@now`, else the recording's own time (the latest
    /// its data shows, see [`Scenario::clock`]), across the fleet's scenarios; `None`
    /// when the scenario shows no time at all.
    pub fn now_of(&self, index: usize) -> Option<Timestamp> {
        std::iter::once(&self.shared.scenario)
            .chain(self.shared.fleet.values())
            .filter_map(|scenario| scenario.clock(index))
            .max()
    }

    /// The id of the repository link that syncs `name` (what a repository-level Git sync
    /// event names).
    pub fn link_of(&self, name: &ResourceName) -> Option<String> {
        link_in(&self.shared.scenario, &self.shared.options, name)
    }

    /// Like [`link_of`](Self::link_of), in one account and Region of a fleet.
    pub fn link_in(&self, account: &str, region: &str, name: &ResourceName) -> Option<String> {
        let scenario = self
            .shared
            .fleet
            .get(&(account.to_owned(), region.to_owned()))?;
        link_in(scenario, &self.shared.options, name)
    }

    /// How many times `operation` was called in an account and Region.
    pub fn calls_in(&self, account: &str, region: &str, operation: &str) -> usize {
        self.shared
            .scope_calls
            .lock()
            .map(|calls| {
                calls
                    .get(&(account.to_owned(), region.to_owned(), operation.to_owned()))
                    .copied()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// The most requests of one operation that were being answered at the same moment.
    pub fn max_in_flight_of(&self, operation: &str) -> usize {
        self.shared
            .operation_in_flight
            .lock()
            .map(|counts| counts.get(operation).map_or(0, |&(_, max)| max))
            .unwrap_or(0)
    }

    /// How many client connections requests came over (SDK clients that share an HTTP
    /// client share its connections).
    pub fn connections(&self) -> usize {
        self.shared
            .peers
            .lock()
            .map(|peers| peers.len())
            .unwrap_or(0)
    }

    /// The session token each request came with (temporary credentials'
    /// `X-Amz-Security-Token`), in arrival order; requests without one are left out.
    pub fn session_tokens(&self) -> Vec<String> {
        self.shared
            .session_tokens
            .lock()
            .map(|tokens| tokens.clone())
            .unwrap_or_default()
    }

    /// The CloudFormation stand-in on the same endpoint: its calls.
    pub fn cloudformation(&self) -> &CloudFormationStandIn {
        &self.shared.cloudformation
    }

    /// How many times `operation` was called.
    pub fn calls(&self, operation: &str) -> usize {
        self.count(operation)
    }

    /// How many times `operation` was called for one resource (`ResourceName`).
    pub fn calls_for(&self, operation: &str, resource: &str) -> usize {
        self.count(&format!("{operation} {resource}"))
    }

    fn count(&self, key: &str) -> usize {
        self.shared
            .calls
            .lock()
            .map(|calls| calls.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// An SDK client for a loopback endpoint: fixed region and dummy credentials (no AWS
/// account needed), quick retries so a throttled scenario replays fast, and the same
/// bounds as the real client (timeouts, the answer size).
pub fn loopback_client(endpoint: &str) -> aws_sdk_codeconnections::Client {
    use aws_sdk_codeconnections::config::{
        BehaviorVersion, Credentials, Region, retry::RetryConfig,
    };
    let config = aws_sdk_codeconnections::Config::builder()
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
    aws_sdk_codeconnections::Client::from_conf(config)
}

fn empty_scenario() -> Scenario {
    Scenario {
        ticks: vec![crate::scenario::ScenarioTick::default()],
    }
}

fn tick_count(shared: &Shared) -> usize {
    if shared.fleet.is_empty() {
        shared.scenario.ticks.len()
    } else {
        shared
            .fleet
            .values()
            .map(|scenario| scenario.ticks.len())
            .max()
            .unwrap_or(1)
    }
}

/// The account (from the access key id) and Region (from the credential scope) a SigV4
/// `Authorization` header was made for.
fn signed_scope(authorization: &str) -> ScopeKey {
    let credential = authorization
        .split([' ', ','])
        .find_map(|part| part.strip_prefix("Credential="))
        .unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, _, region, _, _] => (
            account_of_access_key(key).unwrap_or_default().to_owned(),
            (*region).to_owned(),
        ),
        _ => (String::new(), String::new()),
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    // A service's latency runs from the request's arrival, and its own work is part of it.
    let due = Instant::now() + shared.options.latency;
    if let (Some(peer), Ok(mut peers)) = (
        request.extensions().get::<super::Peer>(),
        shared.peers.lock(),
    ) {
        peers.insert(*peer);
    }
    if let (Some(token), Ok(mut tokens)) = (
        request
            .headers()
            .get("x-amz-security-token")
            .and_then(|value| value.to_str().ok()),
        shared.session_tokens.lock(),
    ) {
        tokens.push(token.to_owned());
    }
    let (account, region) = signed_scope(
        request
            .headers()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default(),
    );
    // CloudFormation: the same scenario and tick; its calls never move the tick on.
    if super::cloudformation::is_cloudformation(&request) {
        let scope = (account, region);
        let (scenario, tick) = scenario_at(&shared, &scope);
        let denied = shared.options.denied_scopes.contains(&scope);
        let stand_in = &shared.cloudformation;
        return super::cloudformation::handle(stand_in, scenario, tick, &scope, denied, request)
            .await;
    }
    let operation = request
        .uri()
        .path()
        .rsplit_once("/operation/")
        .map(|(_, operation)| operation.to_owned())
        .unwrap_or_default();
    if let Ok(mut calls) = shared.calls.lock() {
        *calls.entry(operation.clone()).or_default() += 1;
    }
    if let Ok(mut calls) = shared.scope_calls.lock() {
        *calls
            .entry((account.clone(), region.clone(), operation.clone()))
            .or_default() += 1;
    }
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                400,
                "InvalidInputException",
                "could not read the request body",
            );
        }
    };
    let input: Cbor = if body.is_empty() {
        Cbor::Map(Vec::new())
    } else {
        match ciborium::from_reader(body.as_ref()) {
            Ok(input) => input,
            Err(problem) => {
                return error(
                    400,
                    "InvalidInputException",
                    &format!("request is not CBOR: {problem}"),
                );
            }
        }
    };
    if let (Some(resource), Ok(mut calls)) =
        (text_member(&input, "ResourceName"), shared.calls.lock())
    {
        *calls.entry(format!("{operation} {resource}")).or_default() += 1;
    }
    if let Ok(mut counts) = shared.operation_in_flight.lock() {
        let (now, max) = counts.entry(operation.to_owned()).or_default();
        *now += 1;
        *max = (*max).max(*now);
    }
    if let Some(idle) = shared.options.advance_after_idle {
        advance_after_idle(&shared, idle);
    }
    // The answer is made first, then waits: answers due together are not made one after
    // another once due (the stand-in's own work would add to the latency it models).
    let reply = respond(&shared, (account, region), &operation, &input);
    wait_until(due).await;
    let response = match reply {
        Reply::Answer(answer) => answer,
        Reply::Misbehave(fault) => misbehave(fault).await,
    };
    if let Ok(mut counts) = shared.operation_in_flight.lock()
        && let Some((now, _)) = counts.get_mut(&operation)
    {
        *now -= 1;
    }
    response
}

enum Reply {
    Answer(Response<Body>),
    /// An answer that breaks what the SDK expects (see [`misbehave`]).
    Misbehave(Fault),
}

/// What to answer one call with.
fn respond(shared: &Shared, scope: ScopeKey, operation: &str, input: &Cbor) -> Reply {
    if shared.options.denied_scopes.contains(&scope) {
        return Reply::Answer(error(
            403,
            "AccessDeniedException",
            &format!(
                "User: arn:aws:sts::{}:assumed-role/SyncNotifierReadRole/sync-notifier is not authorized to perform: codeconnections:{operation} with an explicit deny in a service control policy",
                scope.0
            ),
        ));
    }
    let (scenario, tick) = scenario_at(shared, &scope);
    let fault = (operation == "GetResourceSyncStatus")
        .then(|| text_member(input, "ResourceName"))
        .flatten()
        .and_then(|name| shared.options.faults.get(&name).cloned())
        .or_else(|| shared.options.operation_faults.get(operation).cloned());
    if let Some(fault) = fault {
        return Reply::Misbehave(fault);
    }
    Reply::Answer(match operation {
        "GetResourceSyncStatus" => get_resource_sync_status(scenario, tick, input),
        "GetSyncBlockerSummary" => get_sync_blocker_summary(scenario, tick, input),
        "ListRepositoryLinks" => list_repository_links(scenario, &shared.options, input),
        "ListSyncConfigurations" => list_sync_configurations(scenario, &shared.options, input),
        other => error(
            400,
            "UnsupportedOperationException",
            &format!("the loopback endpoint does not serve {other:?}"),
        ),
    })
}

/// The scenario of an account and Region (the only one, unless serving a fleet), and the
/// tick it is at.
fn scenario_at<'a>(shared: &'a Shared, scope: &ScopeKey) -> (&'a Scenario, usize) {
    let scenario = if shared.fleet.is_empty() {
        &shared.scenario
    } else {
        shared.fleet.get(scope).unwrap_or(&shared.empty)
    };
    let tick = shared
        .tick
        .load(Ordering::SeqCst)
        .min(scenario.ticks.len().saturating_sub(1));
    (scenario, tick)
}

/// An answer that breaks what the SDK expects, one way or another.
async fn misbehave(fault: Fault) -> Response<Body> {
    let response = |status: u16, body: Body| {
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .header("content-type", "application/cbor")
            .header("smithy-protocol", "rpc-v2-cbor")
            .body(body)
            .unwrap_or_else(|_| Response::new(full(Vec::new())))
    };
    match fault {
        Fault::Hang => {
            std::future::pending::<()>().await;
            response(500, full(Vec::new()))
        }
        Fault::Trickle(gap) => {
            let chunks = futures_util::stream::unfold(0usize, move |sent| async move {
                (sent < 1000).then_some(())?;
                tokio::time::sleep(gap).await;
                let frame = hyper::body::Frame::data(Bytes::from_static(&[0xa0]));
                Some((Ok::<_, Infallible>(frame), sent + 1))
            });
            response(200, StreamBody::new(chunks).boxed_unsync())
        }
        Fault::Oversized(bytes) => {
            // A CBOR map whose one text value is `bytes` long: valid, and too big.
            let mut body = vec![0xa1, 0x61, b'x', 0x7a];
            body.extend_from_slice(&(bytes as u32).to_be_bytes());
            body.resize(body.len() + bytes, b'y');
            response(200, full(body))
        }
        Fault::NotCbor => response(200, full(&b"<html>not CBOR</html>"[..])),
        Fault::EmptyStatus(status) => response(status, full(Vec::new())),
    }
}

fn advance_after_idle(shared: &Shared, idle: Duration) {
    let Ok(mut last) = shared.last_request.lock() else {
        return;
    };
    let now = Instant::now();
    if last.is_some_and(|last| now.duration_since(last) >= idle) {
        let final_tick = tick_count(shared).saturating_sub(1);
        let next = (shared.tick.load(Ordering::SeqCst) + 1).min(final_tick);
        shared.tick.store(next, Ordering::SeqCst);
        tracing::warn!(
            "loopback CodeConnections: serving tick {} of {}",
            next + 1,
            final_tick + 1
        );
    }
    *last = Some(now);
}

fn answer(answer: &Answer, wrap: Option<&str>) -> Response<Body> {
    match answer {
        Answer::Output(output) => {
            let output = Json::Object(output.clone());
            let body = match wrap {
                Some(member) => serde_json::json!({ member: output }),
                None => output,
            };
            ok(json_to_cbor(&body, None))
        }
        Answer::Error { type_name, message } => error(status_of(type_name), type_name, message),
    }
}

fn not_found(name: &str) -> Response<Body> {
    error(
        404,
        "ResourceNotFoundException",
        &format!("No sync configuration found for resource {name}"),
    )
}

fn get_resource_sync_status(scenario: &Scenario, tick: usize, input: &Cbor) -> Response<Body> {
    let name = text_member(input, "ResourceName").unwrap_or_default();
    let stack = ResourceName::parse(&name)
        .ok()
        .and_then(|name| scenario.ticks[tick].stacks.get(&name));
    match stack {
        Some(stack) => answer(&stack.status, None),
        None => not_found(&name),
    }
}

/// A stack's blockers: what the scenario gives in its `SyncBlockerSummary`, else none.
fn get_sync_blocker_summary(scenario: &Scenario, tick: usize, input: &Cbor) -> Response<Body> {
    let name = text_member(input, "ResourceName").unwrap_or_default();
    let stack = ResourceName::parse(&name)
        .ok()
        .and_then(|name| scenario.ticks[tick].stacks.get(&name));
    match stack {
        Some(stack) => match &stack.blockers {
            Some(blockers) => answer(blockers, Some("SyncBlockerSummary")),
            None => ok(json_to_cbor(
                &serde_json::json!({"SyncBlockerSummary": {"ResourceName": name, "LatestBlockers": []}}),
                None,
            )),
        },
        None => not_found(&name),
    }
}

/// One repository link per `stacks_per_link` stacks, so discovery walks several links and
/// pages.
fn links(scenario: &Scenario, options: &LoopbackOptions) -> Vec<(String, Vec<ResourceName>)> {
    scenario
        .resources()
        .chunks(options.stacks_per_link.max(1))
        .enumerate()
        .map(|(index, names)| {
            (
                format!("00000000-0000-4000-8000-{index:012x}"),
                names.to_vec(),
            )
        })
        .collect()
}

fn page<T: Clone>(items: &[T], input: &Cbor, page_size: usize) -> (Vec<T>, Option<String>) {
    let start = text_member(input, "NextToken")
        .and_then(|token| token.parse().ok())
        .unwrap_or(0usize);
    let end = start.saturating_add(page_size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    (items.get(start..end).unwrap_or_default().to_vec(), next)
}

fn link_in(scenario: &Scenario, options: &LoopbackOptions, name: &ResourceName) -> Option<String> {
    links(scenario, options)
        .into_iter()
        .find(|(_, names)| names.contains(name))
        .map(|(id, _)| id)
}

fn list_repository_links(
    scenario: &Scenario,
    options: &LoopbackOptions,
    input: &Cbor,
) -> Response<Body> {
    let (page, next) = page(&links(scenario, options), input, options.page_size);
    let links = page
        .into_iter()
        .map(|(id, _)| {
            serde_json::json!({
                "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                "OwnerId": "acme",
                "ProviderType": "GitHub",
                "RepositoryLinkArn": format!("arn:aws:codeconnections:us-east-1:123456789012:repository-link/{id}"),
                "RepositoryLinkId": id,
                "RepositoryName": "infra",
            })
        })
        .collect();
    ok(json_to_cbor(
        &serde_json::json!({"RepositoryLinks": Json::Array(links)}),
        None,
    )
    .with_next(next))
}

fn list_sync_configurations(
    scenario: &Scenario,
    options: &LoopbackOptions,
    input: &Cbor,
) -> Response<Body> {
    let link_id = text_member(input, "RepositoryLinkId").unwrap_or_default();
    let Some((_, names)) = links(scenario, options)
        .into_iter()
        .find(|(id, _)| *id == link_id)
    else {
        return error(
            404,
            "ResourceNotFoundException",
            &format!("repository link {link_id} not found"),
        );
    };
    let (page, next) = page(&names, input, options.page_size);
    let configurations = page
        .into_iter()
        .map(|name| {
            serde_json::json!({
                "Branch": "main",
                "ConfigFile": format!("deployments/{name}.yaml"),
                "OwnerId": "acme",
                "ProviderType": "GitHub",
                "RepositoryLinkId": link_id,
                "RepositoryName": "infra",
                "ResourceName": name.as_str(),
                "RoleArn": "arn:aws:iam::123456789012:role/git-sync",
                "SyncType": "CFN_STACK_SYNC",
            })
        })
        .collect();
    ok(json_to_cbor(
        &serde_json::json!({"SyncConfigurations": Json::Array(configurations)}),
        None,
    )
    .with_next(next))
}

trait WithNext {
    fn with_next(self, next: Option<String>) -> Self;
}

impl WithNext for Cbor {
    fn with_next(mut self, next: Option<String>) -> Self {
        if let (Cbor::Map(entries), Some(next)) = (&mut self, next) {
            entries.push((Cbor::Text("NextToken".into()), Cbor::Text(next)));
        }
        self
    }
}

/// The model's HTTP status for each error.
fn status_of(type_name: &str) -> u16 {
    match type_name {
        "ThrottlingException" | "LimitExceededException" => 429,
        "AccessDeniedException" => 403,
        "ResourceNotFoundException" | "SyncBlockerDoesNotExistException" => 404,
        "InvalidInputException" | "UnsupportedOperationException" => 400,
        "InternalServerException" | "RetryLatestCommitFailedException" => 503,
        _ => 500,
    }
}

fn text_member(input: &Cbor, member: &str) -> Option<String> {
    let Cbor::Map(entries) = input else {
        return None;
    };
    entries.iter().find_map(|(key, value)| match (key, value) {
        (Cbor::Text(key), Cbor::Text(value)) if key == member => Some(value.clone()),
        _ => None,
    })
}

/// AWS JSON → CBOR: numbers under timestamp members become tag 1; nulls are dropped.
fn json_to_cbor(value: &Json, member: Option<&str>) -> Cbor {
    match value {
        Json::Null => Cbor::Null,
        Json::Bool(flag) => Cbor::Bool(*flag),
        Json::Number(number) => {
            let plain = match (number.as_i64(), number.as_f64()) {
                (Some(integer), _) => Cbor::Integer(integer.into()),
                (None, Some(float)) => Cbor::Float(float),
                _ => Cbor::Null,
            };
            if member.is_some_and(|member| TIMESTAMP_MEMBERS.contains(&member)) {
                Cbor::Tag(1, Box::new(plain))
            } else {
                plain
            }
        }
        Json::String(text) => Cbor::Text(text.clone()),
        Json::Array(items) => Cbor::Array(
            items
                .iter()
                .map(|item| json_to_cbor(item, member))
                .collect(),
        ),
        Json::Object(map) => Cbor::Map(
            map.iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (Cbor::Text(key.clone()), json_to_cbor(value, Some(key))))
                .collect(),
        ),
    }
}

fn cbor_response(status: u16, body: &Cbor) -> Response<Body> {
    let mut bytes = Vec::new();
    if ciborium::into_writer(body, &mut bytes).is_err() {
        bytes.clear();
    }
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/cbor")
        .header("smithy-protocol", "rpc-v2-cbor")
        .body(full(bytes))
        .unwrap_or_else(|_| Response::new(full(Vec::new())))
}

fn ok(body: Cbor) -> Response<Body> {
    cbor_response(200, &body)
}

fn error(status: u16, type_name: &str, message: &str) -> Response<Body> {
    let body = Cbor::Map(vec![
        (
            Cbor::Text("__type".into()),
            Cbor::Text(format!("{NAMESPACE}#{type_name}")),
        ),
        (Cbor::Text("Message".into()), Cbor::Text(message.to_owned())),
    ]);
    cbor_response(status, &body)
}
