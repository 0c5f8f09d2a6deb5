//! A loopback AWS STS and AWS Organizations, speaking the wire protocols the real SDK
//! clients speak, so a hub's `AssumeRoleProvider`, its `GetCallerIdentity` and its
//! `ListAccounts` go over TCP to something that behaves like an organization:
//!
//! - STS is awsQuery: `POST /` with a form body (`Action=AssumeRole&Version=2011-06-15&
//!   RoleArn=…&RoleSessionName=…&DurationSeconds=…`), answered with an
//!   `AssumeRoleResponse` XML document, or an `ErrorResponse`
//!   (`<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>…</Message>`).
//!   Credentials handed out for an account carry an access key id that names it
//!   ([`access_key_for`]), which is how the loopback CodeConnections tells accounts apart.
//!   `GetCallerIdentity` answers with the account the caller's key names.
//! - Organizations is awsJson1.1: `POST /` with
//!   `X-Amz-Target: AWSOrganizationsV20161128.ListAccounts`, answered 20 accounts a page
//!   (or `MaxResults`) with a `NextToken`, each account with `State` and `Status`.
//!
//! A member account "has" the read role unless it is [`deny`](StsOrganizations::deny)ed
//! (its role missing, or its trust naming someone else); only the role name given at the
//! start exists anywhere. Every call is recorded.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use sync_notifier::loopback::{access_key_for, account_of_access_key};
use tokio::task::JoinHandle;

/// One account of the organization.
#[derive(Debug, Clone)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// `State` (`ACTIVE`, `SUSPENDED`, …); `None`: not in the answer.
    pub state: Option<String>,
    /// The older `Status`; `None`: not in the answer (as after AWS retires it).
    pub status: Option<String>,
}

impl OrgAccount {
    pub fn active(id: &str, name: &str) -> OrgAccount {
        OrgAccount {
            id: id.to_owned(),
            name: name.to_owned(),
            state: Some("ACTIVE".into()),
            status: Some("ACTIVE".into()),
        }
    }

    pub fn suspended(id: &str, name: &str) -> OrgAccount {
        OrgAccount {
            state: Some("SUSPENDED".into()),
            status: Some("SUSPENDED".into()),
            ..OrgAccount::active(id, name)
        }
    }
}

/// One `AssumeRole` as received.
#[derive(Debug, Clone)]
pub struct AssumeRoleCall {
    pub role_arn: String,
    /// The account of the role.
    pub account: String,
    pub session_name: String,
    pub duration_seconds: Option<u64>,
    /// The account whose credentials signed it, and the Region they were signed for.
    pub caller: String,
    pub signed_region: String,
    pub granted: bool,
    /// The session token it handed out (each session has its own), if granted.
    pub session_token: Option<String>,
}

#[derive(Default)]
struct State {
    accounts: Vec<OrgAccount>,
    denied: HashSet<String>,
    organizations_denied: bool,
    /// The next sessions last at most this long, whatever is asked: (cap, how many).
    session_cap: Option<(Duration, usize)>,
    assume_role: Vec<AssumeRoleCall>,
    list_accounts: usize,
    caller_identity: usize,
}

pub struct StsOrganizations {
    endpoint: String,
    role_name: String,
    latency: Duration,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for StsOrganizations {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("x-amzn-requestid", "c6104cbe-af31-11e0-8154-cbc7ccf896c7")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn sts_error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>",
            xml_escape(message)
        ),
    )
}

/// The account whose credentials signed a request, and the Region of the signature.
fn signer(authorization: &str) -> (String, String) {
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

impl StsOrganizations {
    /// An organization of `accounts` whose member accounts all hold the read role
    /// `role_name`, answering every call after `latency`.
    pub async fn start(
        accounts: Vec<OrgAccount>,
        role_name: &str,
        latency: Duration,
    ) -> std::io::Result<StsOrganizations> {
        let state = Arc::new(Mutex::new(State {
            accounts,
            ..State::default()
        }));
        let shared = state.clone();
        let role = role_name.to_owned();
        let (address, task) = sync_notifier::loopback::serve(0, move |request| {
            let state = shared.clone();
            let role = role.clone();
            async move {
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let target = header("x-amz-target");
                let (caller, signed_region) = signer(&header("authorization"));
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|body| body.to_bytes())
                    .unwrap_or_default();
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                if !target.is_empty() {
                    let (status, text) = organizations(&state, &target, &body);
                    return answer(status, "application/x-amz-json-1.1", text);
                }
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
                    .map(|(key, value)| (key.into_owned(), value.into_owned()))
                    .collect();
                let field = |name: &str| {
                    form.iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.clone())
                };
                let (status, text) = match field("Action").as_deref() {
                    Some("AssumeRole") => assume_role(&state, &role, &field, caller, signed_region),
                    Some("GetCallerIdentity") => caller_identity(&state, &caller),
                    _ => sts_error(400, "InvalidAction", "Could not find operation"),
                };
                answer(status, "text/xml", text)
            }
        })
        .await?;
        Ok(StsOrganizations {
            endpoint: format!("http://{address}"),
            role_name: role_name.to_owned(),
            latency,
            state,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_STS` and
    /// `AWS_ENDPOINT_URL_ORGANIZATIONS`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The account's read role cannot be assumed from now on.
    pub fn deny(&self, account: &str) {
        self.state.lock().unwrap().denied.insert(account.to_owned());
    }

    /// The account's read role can be assumed again.
    pub fn allow(&self, account: &str) {
        self.state.lock().unwrap().denied.remove(account);
    }

    /// `ListAccounts` is refused (the hub is neither the management account nor a
    /// delegated administrator).
    pub fn deny_list_accounts(&self, denied: bool) {
        self.state.lock().unwrap().organizations_denied = denied;
    }

    /// The next `count` sessions end after at most `cap` (to see them renewed); later
    /// ones last as long as asked.
    pub fn cap_next_sessions(&self, count: usize, cap: Duration) {
        self.state.lock().unwrap().session_cap = Some((cap, count));
    }

    pub fn assume_role_calls(&self) -> Vec<AssumeRoleCall> {
        self.state.lock().unwrap().assume_role.clone()
    }

    /// `AssumeRole` calls for roles of `account`.
    pub fn assumed(&self, account: &str) -> usize {
        self.assume_role_calls()
            .iter()
            .filter(|call| call.account == account)
            .count()
    }

    pub fn list_accounts_calls(&self) -> usize {
        self.state.lock().unwrap().list_accounts
    }

    pub fn caller_identity_calls(&self) -> usize {
        self.state.lock().unwrap().caller_identity
    }

    pub fn role_name(&self) -> &str {
        &self.role_name
    }

    pub fn latency(&self) -> Duration {
        self.latency
    }
}

fn assume_role(
    state: &Mutex<State>,
    role_name: &str,
    field: &dyn Fn(&str) -> Option<String>,
    caller: String,
    signed_region: String,
) -> (u16, String) {
    let role_arn = field("RoleArn").unwrap_or_default();
    let session_name = field("RoleSessionName").unwrap_or_default();
    let duration_seconds = field("DurationSeconds").and_then(|value| value.parse().ok());
    // arn:aws:iam::ACCOUNT:role/NAME
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let (account, name) = match parts.as_slice() {
        ["arn", _, "iam", "", account, resource] => (
            (*account).to_owned(),
            resource
                .strip_prefix("role/")
                .unwrap_or_default()
                .to_owned(),
        ),
        _ => {
            return sts_error(
                400,
                "ValidationError",
                &format!("{role_arn} is not a valid role ARN"),
            );
        }
    };
    let mut state = state.lock().unwrap();
    let granted = name == role_name && !state.denied.contains(&account);
    let token = format!("loopback-session-{account}-{}", state.assume_role.len() + 1);
    state.assume_role.push(AssumeRoleCall {
        role_arn: role_arn.clone(),
        account: account.clone(),
        session_name: session_name.clone(),
        duration_seconds,
        caller: caller.clone(),
        signed_region,
        granted,
        session_token: granted.then(|| token.clone()),
    });
    if !granted {
        return sts_error(
            403,
            "AccessDenied",
            &format!(
                "User: arn:aws:sts::{caller}:assumed-role/sync-notifier-SyncNotifierFunctionRole-AbCdEf123456/sync-notifier is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            ),
        );
    }
    let mut lasts = Duration::from_secs(duration_seconds.unwrap_or(3600));
    if let Some((cap, count)) = state.session_cap.take() {
        lasts = lasts.min(cap);
        state.session_cap = (count > 1).then_some((cap, count - 1));
    }
    let expiration = chrono::Utc::now() + chrono::Duration::from_std(lasts).unwrap_or_default();
    let key = access_key_for(&account);
    (
        200,
        format!(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>loopback-secret-{account}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROALOOPBACK{account}:{session_name}</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{name}/{session_name}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></AssumeRoleResponse>",
            expiration.format("%Y-%m-%dT%H:%M:%SZ")
        ),
    )
}

fn caller_identity(state: &Mutex<State>, caller: &str) -> (u16, String) {
    state.lock().unwrap().caller_identity += 1;
    if caller.is_empty() {
        return sts_error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    }
    (
        200,
        format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:sts::{caller}:assumed-role/sync-notifier-SyncNotifierFunctionRole-AbCdEf123456/sync-notifier</Arn><UserId>AROALOOPBACK:sync-notifier</UserId><Account>{caller}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        ),
    )
}

fn organizations_error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        json!({"__type": code, "Message": message}).to_string(),
    )
}

fn organizations(state: &Mutex<State>, target: &str, body: &[u8]) -> (u16, String) {
    if target != "AWSOrganizationsV20161128.ListAccounts" {
        return organizations_error(400, "UnknownOperationException", "Unknown operation");
    }
    let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    state.list_accounts += 1;
    if state.organizations_denied {
        return organizations_error(
            400,
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        );
    }
    let size = input["MaxResults"].as_u64().unwrap_or(20) as usize;
    if !(1..=20).contains(&size) {
        return organizations_error(
            400,
            "InvalidInputException",
            "MaxResults must be between 1 and 20",
        );
    }
    let start: usize = input["NextToken"]
        .as_str()
        .and_then(|token| token.strip_prefix("page-"))
        .and_then(|index| index.parse().ok())
        .unwrap_or(0);
    let end = (start + size).min(state.accounts.len());
    let accounts: Vec<Value> = state.accounts[start.min(end)..end]
        .iter()
        .map(|account| {
            let mut item = json!({
                "Id": account.id,
                "Arn": format!("arn:aws:organizations::111111111111:account/o-a1b2c3d4e5/{}", account.id),
                "Email": format!("{}@example.com", account.id),
                "Name": account.name,
                "JoinedMethod": "CREATED",
                "JoinedTimestamp": 1_700_000_000.5,
            });
            if let Some(state) = &account.state {
                item["State"] = state.clone().into();
            }
            if let Some(status) = &account.status {
                item["Status"] = status.clone().into();
            }
            item
        })
        .collect();
    let mut page = json!({"Accounts": accounts});
    if end < state.accounts.len() {
        page["NextToken"] = format!("page-{end}").into();
    }
    (200, page.to_string())
}

/// An SDK configuration like the function's (Region us-east-1, the function's timeouts)
/// signed as `account` (an access key id that names it), with STS and Organizations at
/// `sts_organizations` and CodeConnections at `codeconnections`, as the
/// `AWS_ENDPOINT_URL_*` variables would give the binary.
pub async fn hub_sdk_config(
    account: &str,
    sts_organizations: &str,
    codeconnections: &str,
) -> aws_config::SdkConfig {
    use aws_sdk_sts::config::{Credentials, Region};
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key_for(account),
            "hub-secret-never-shown",
            None,
            None,
            "tests",
        ))
        .timeout_config(sync_notifier::aws::timeouts())
        .load()
        .await;
    let endpoints = Endpoints(vec![
        ("STS".into(), sts_organizations.into()),
        ("Organizations".into(), sts_organizations.into()),
        ("CodeConnections".into(), codeconnections.into()),
        // The loopback CodeConnections answers CloudFormation on the same port.
        ("CloudFormation".into(), codeconnections.into()),
    ]);
    config.into_builder().service_config(endpoints).build()
}

/// Endpoints by service, as `AWS_ENDPOINT_URL_<SERVICE>` gives them.
#[derive(Debug)]
struct Endpoints(Vec<(String, String)>);

impl aws_types::service_config::LoadServiceConfig for Endpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != "AWS_ENDPOINT_URL" {
            return None;
        }
        self.0
            .iter()
            .find(|(service, _)| service == key.service_id())
            .map(|(_, url)| url.clone())
    }
}
