//! `TARGET_ACCOUNTS=*`: the organization's active accounts, from
//! `organizations:ListAccounts` (every page), with their names for `data.accountName`.
//!
//! Only `ACTIVE` accounts are watched. The answer carries an account's `State` (and, until
//! AWS retires it, the older `Status`): an account whose `State` or `Status` says anything
//! else — suspended, closing, not yet activated — is skipped, since its role cannot be
//! used and AWS would only refuse.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};

use crate::domain::AccountId;
use crate::source::{SourceError, SourceErrorKind};

/// `ListAccounts` answers at most 20 accounts a page.
const PAGE_SIZE: i32 = 20;
/// Pages read at most (20,000 accounts, twice the default quota of an organization): an
/// endpoint that keeps answering with a next page cannot hold a run forever.
const MAX_PAGES: usize = 1000;

/// One account of the organization, as far as the hub needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccount {
    pub id: AccountId,
    pub name: Option<String>,
}

/// The organization's account list, through `aws-sdk-organizations`.
#[derive(Debug, Clone)]
pub struct Organization {
    client: Client,
}

impl Organization {
    pub fn new(client: Client) -> Organization {
        Organization { client }
    }

    /// Every `ACTIVE` account, in the order AWS lists them.
    pub async fn active_accounts(&self) -> Result<Vec<MemberAccount>, SourceError> {
        let mut accounts = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .list_accounts()
                .max_results(PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(classify)?;
            for account in page.accounts() {
                let state = account.state().map(|state| state.as_str());
                let status = account.status().map(|status| status.as_str());
                if [state, status]
                    .into_iter()
                    .flatten()
                    .any(|value| value != "ACTIVE")
                {
                    tracing::debug!(account = ?account.id(), ?state, ?status, "account is not active; skipped");
                    continue;
                }
                match account.id().map(AccountId::parse) {
                    Some(Ok(id)) => accounts.push(MemberAccount {
                        id,
                        name: account
                            .name()
                            .filter(|name| !name.trim().is_empty())
                            .map(|name| crate::text::truncate_chars(name, 50)),
                    }),
                    _ => tracing::warn!(
                        id = ?account.id().map(|id| crate::text::preview(id, 40)),
                        "ListAccounts returned an account without a valid id; skipped"
                    ),
                }
            }
            match page.next_token().filter(|token| !token.is_empty()) {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(accounts),
            }
        }
        Err(SourceError::new(
            SourceErrorKind::Malformed,
            format!("ListAccounts kept answering with a next page after {MAX_PAGES} pages"),
        ))
    }
}

/// What failed, and what to do about it.
fn classify<E>(error: SdkError<E, aws_sdk_organizations::config::http::HttpResponse>) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = match &error {
        SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
        _ => None,
    };
    let (kind, fix) = match code.as_deref() {
        Some("AccessDeniedException") => (
            SourceErrorKind::AccessDenied,
            "TARGET_ACCOUNTS=* works only in the organization's management account or a delegated administrator, with organizations:ListAccounts on the function's role; deploy the hub there, or list the account ids in TARGET_ACCOUNTS",
        ),
        Some("AWSOrganizationsNotInUseException") => (
            SourceErrorKind::AccessDenied,
            "this account is not in an organization; list the account ids in TARGET_ACCOUNTS instead of *",
        ),
        Some("TooManyRequestsException") => (
            SourceErrorKind::Throttled,
            "the hub keeps the accounts it knew and lists them again next tick",
        ),
        _ => match &error {
            SdkError::TimeoutError(_) => (
                SourceErrorKind::TimedOut,
                "the hub keeps the accounts it knew and lists them again next tick",
            ),
            SdkError::ResponseError(_) => (
                SourceErrorKind::Malformed,
                "the hub keeps the accounts it knew and lists them again next tick",
            ),
            _ => (
                SourceErrorKind::Unavailable,
                "the hub keeps the accounts it knew and lists them again next tick",
            ),
        },
    };
    SourceError::new(
        kind,
        format!(
            "could not list the organization's accounts ({}); {fix}",
            crate::aws::describe(&error)
        ),
    )
}
