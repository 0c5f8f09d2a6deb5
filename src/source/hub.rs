//! The hub's status source (org-wide mode, ARCHITECTURE §12): every target account ×
//! every target Region, each read by its own [`CodeConnectionsSource`].
//!
//! - Accounts: `TARGET_ACCOUNTS`, or with `*` the organization's `ACTIVE` accounts
//!   ([`organization`]), listed again every [`ACCOUNTS_TTL`] so that accounts joining or
//!   leaving are followed without a cold start.
//! - Credentials: the hub's own account is read with the function's own credentials (its
//!   role has the four CodeConnections read actions, so that account needs no member
//!   role). Every other account is read through its member role: one provider and cache
//!   per account ([`credentials`]), shared by that account's Regional clients (a
//!   CodeConnections and a CloudFormation client per Region, on the one HTTP client).
//!   Accounts and their clients are built on first use and kept for the life of the
//!   process.
//! - Isolation: before its Regions are listed, each account's role is assumed (or its
//!   session found still good). An account whose role cannot be assumed is one
//!   [`Discovered::Failure`] naming the account, the role and the fix, and its Regions are
//!   not tried; a Region that cannot be listed is one failure of its own. Every other
//!   account and Region goes on.
//! - Bounded: at most [`ACCOUNTS_IN_FLIGHT`] accounts are being opened and
//!   [`SCOPES_IN_FLIGHT`] account/Region pairs listed at once, and discovery yields page by
//!   page, so the tick's pipeline starts checking stacks as soon as the first page is in
//!   and holds back discovery while its own batches are full.

mod credentials;
mod organization;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

pub use credentials::{MemberCredentials, RENEW_BEFORE, SESSION, SESSION_NAME};
pub use organization::{MemberAccount, Organization};

use super::{
    CloudFormationReader, CodeConnectionsSource, Discovered, SourceError, SourceErrorKind,
    StackTags, StatusSource,
};
use crate::config::{Hub, RoleName, TargetAccounts};
use crate::domain::{
    AccountId, Blocker, Location, Region, ResourceStatus, StackHistory, StackRef, Timestamp,
};

/// Accounts whose role is being assumed at once, ahead of their Regions being listed.
pub const ACCOUNTS_IN_FLIGHT: usize = 4;
/// Account/Region pairs whose stacks are being listed at once.
pub const SCOPES_IN_FLIGHT: usize = 8;
/// How long the organization's account list is used before it is listed again.
pub const ACCOUNTS_TTL: Duration = Duration::from_secs(10 * 60);

/// Why a hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("org-wide mode needs the function's Region: {0}")]
    Region(String),
    #[error(
        "org-wide mode could not tell which account this function runs in (sts:GetCallerIdentity: {0}); check the function's credentials and that STS is reachable"
    )]
    Identity(String),
    #[error("the AWS SDK configuration has no time source, which assumed-role credentials need")]
    NoTimeSource,
}

/// One account: its credentials, and a source per target Region.
struct Member {
    /// `None`: the hub's own account, read with the function's own credentials.
    credentials: Option<MemberCredentials>,
    scopes: Vec<(Region, CodeConnectionsSource)>,
}

impl Member {
    /// Whether the account can be read now (its role assumed, or its session still good).
    async fn ready(&self) -> Result<(), SourceError> {
        match &self.credentials {
            Some(credentials) => credentials.check().await,
            None => Ok(()),
        }
    }

    fn scope(&self, region: &Region) -> Option<&CodeConnectionsSource> {
        self.scopes
            .iter()
            .find(|(scope, _)| scope == region)
            .map(|(_, source)| source)
    }
}

/// The organization's accounts as last listed.
#[derive(Default)]
struct Known {
    accounts: Vec<AccountId>,
    listed_at: Option<Instant>,
}

/// Reads Git sync status across the hub's target accounts and Regions.
pub struct HubSource {
    sdk_config: aws_config::SdkConfig,
    own_account: AccountId,
    regions: Vec<Region>,
    role_name: RoleName,
    /// `arn:<partition>:iam::` of the hub's Region.
    partition: &'static str,
    targets: Targets,
    members: Mutex<HashMap<AccountId, Arc<Member>>>,
    /// Account names from `ListAccounts`, for `data.accountName`.
    names: RwLock<HashMap<AccountId, String>>,
}

enum Targets {
    List(Vec<AccountId>),
    Organization {
        organization: Organization,
        /// Held while listing, so two lookups at once list once.
        known: tokio::sync::Mutex<Known>,
    },
}

impl std::fmt::Debug for HubSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSource")
            .field("own_account", &self.own_account)
            .field("regions", &self.regions)
            .field("role_name", &self.role_name)
            .finish_non_exhaustive()
    }
}

impl HubSource {
    /// A hub reading `hub`'s targets with the function's SDK configuration (its Region,
    /// credentials, timeouts and endpoints). Asks STS once which account the function
    /// runs in.
    pub async fn connect(sdk_config: &aws_config::SdkConfig, hub: &Hub) -> Result<Self, HubError> {
        if let Some(problem) = crate::aws::missing_region(sdk_config) {
            return Err(HubError::Region(problem));
        }
        let own_region = sdk_config
            .region()
            .map(|region| region.as_ref().to_owned())
            .unwrap_or_default();
        let own_region =
            Region::parse(&own_region).map_err(|error| HubError::Region(error.to_string()))?;
        if sdk_config.time_source().is_none() {
            return Err(HubError::NoTimeSource);
        }
        // Hundreds of clients below: they must share one HTTP client (see
        // `shared_http_client`), whoever built the configuration.
        let sdk_config = &match sdk_config.http_client() {
            Some(_) => sdk_config.clone(),
            None => sdk_config
                .to_builder()
                .http_client(crate::aws::shared_http_client())
                .build(),
        };
        let identity = aws_sdk_sts::Client::new(sdk_config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| HubError::Identity(crate::aws::describe(&error)))?;
        let own_account = AccountId::parse(identity.account().unwrap_or_default())
            .map_err(|error| HubError::Identity(error.to_string()))?;
        let targets = match &hub.accounts {
            TargetAccounts::List(accounts) => Targets::List(accounts.clone()),
            TargetAccounts::Organization => {
                let client = aws_sdk_organizations::Client::from_conf(
                    aws_sdk_organizations::config::Builder::from(sdk_config)
                        .interceptor(crate::aws::AnswerLimit)
                        .build(),
                );
                Targets::Organization {
                    organization: Organization::new(client),
                    known: tokio::sync::Mutex::new(Known::default()),
                }
            }
        };
        let source = HubSource {
            sdk_config: sdk_config.clone(),
            partition: own_region.partition(),
            regions: hub.regions.clone().unwrap_or_else(|| vec![own_region]),
            own_account,
            role_name: hub.role_name.clone(),
            targets,
            members: Mutex::new(HashMap::new()),
            names: RwLock::new(HashMap::new()),
        };
        tracing::info!(hub = ?source, "org-wide mode");
        Ok(source)
    }

    /// The account the function runs in (read with its own credentials).
    pub fn own_account(&self) -> &AccountId {
        &self.own_account
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The member role of `account`.
    pub fn role_arn(&self, account: &AccountId) -> String {
        format!(
            "arn:{}:iam::{account}:role/{}",
            self.partition, self.role_name
        )
    }

    /// The target accounts now, and why the organization's list is not fresh if it is
    /// not. With `*`, the list is read again once it is [`ACCOUNTS_TTL`] old; if that
    /// fails, the accounts listed before are used.
    async fn accounts(&self) -> (Vec<AccountId>, Option<SourceError>) {
        let (organization, known) = match &self.targets {
            Targets::List(accounts) => return (accounts.clone(), None),
            Targets::Organization {
                organization,
                known,
            } => (organization, known),
        };
        let mut known = known.lock().await;
        if known
            .listed_at
            .is_some_and(|listed| listed.elapsed() < ACCOUNTS_TTL)
        {
            return (known.accounts.clone(), None);
        }
        match organization.active_accounts().await {
            Ok(accounts) => {
                known.accounts = accounts.iter().map(|account| account.id.clone()).collect();
                known.listed_at = Some(Instant::now());
                let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
                names.clear();
                names.extend(accounts.into_iter().filter_map(|account| {
                    let name = account.name?;
                    Some((account.id, name))
                }));
                tracing::info!(
                    accounts = known.accounts.len(),
                    "listed the organization's active accounts"
                );
                (known.accounts.clone(), None)
            }
            Err(error) => (known.accounts.clone(), Some(error)),
        }
    }

    /// The account's member, built on first use and kept.
    async fn member(&self, account: &AccountId) -> Arc<Member> {
        if let Some(member) = lock(&self.members).get(account) {
            return member.clone();
        }
        let credentials = if *account == self.own_account {
            None
        } else {
            Some(MemberCredentials::new(&self.sdk_config, self.role_arn(account)).await)
        };
        let scopes = self
            .regions
            .iter()
            .map(|region| {
                let mut config = aws_sdk_codeconnections::config::Builder::from(&self.sdk_config)
                    .region(aws_sdk_codeconnections::config::Region::new(
                        region.as_str().to_owned(),
                    ))
                    .interceptor(crate::aws::AnswerLimit);
                let mut cloudformation =
                    aws_sdk_cloudformation::config::Builder::from(&self.sdk_config)
                        .region(aws_sdk_cloudformation::config::Region::new(
                            region.as_str().to_owned(),
                        ))
                        .interceptor(crate::aws::AnswerLimit);
                if let Some(credentials) = &credentials {
                    // One provider per account, its own cache; no other cache in front.
                    config = config
                        .credentials_provider(credentials.clone())
                        .identity_cache(aws_config::identity::IdentityCache::no_cache());
                    cloudformation = cloudformation
                        .credentials_provider(credentials.clone())
                        .identity_cache(aws_config::identity::IdentityCache::no_cache());
                }
                let client = aws_sdk_codeconnections::Client::from_conf(config.build());
                let reader = CloudFormationReader::new(aws_sdk_cloudformation::Client::from_conf(
                    cloudformation.build(),
                ));
                let location = Location {
                    account: account.clone(),
                    region: region.clone(),
                };
                let source =
                    CodeConnectionsSource::at(client, location).with_cloudformation(reader);
                (region.clone(), source)
            })
            .collect();
        let member = Arc::new(Member {
            credentials,
            scopes,
        });
        // Two callers may have built it at once: the first one kept wins.
        lock(&self.members)
            .entry(account.clone())
            .or_insert(member)
            .clone()
    }

    /// The source of a stack's account and Region, once the account can be read.
    async fn scope_of(&self, stack: &StackRef) -> Result<CodeConnectionsSource, SourceError> {
        let location = stack.location.as_ref().ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::NotFound,
                "a hub checks stacks by ACCOUNT/REGION/STACK; this one names no account and Region",
            )
        })?;
        self.scope_at(location).await
    }

    /// The source of an account and Region, once the account can be read.
    async fn scope_at(&self, location: &Location) -> Result<CodeConnectionsSource, SourceError> {
        let member = self.member(&location.account).await;
        let source = member.scope(&location.region).cloned().ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::NotFound,
                format!(
                    "{} is not one of the hub's Regions (TARGET_REGIONS)",
                    location.region
                ),
            )
        })?;
        member.ready().await?;
        Ok(source)
    }

    /// One account's discovery: its Regions' streams, or its one failure.
    async fn open(&self, account: AccountId) -> Vec<BoxStream<'static, Discovered>> {
        let member = self.member(&account).await;
        match member.ready().await {
            Ok(()) => member
                .scopes
                .iter()
                .map(|(region, source)| {
                    let reader = match &member.credentials {
                        Some(credentials) => {
                            format!("{} (templates/member-role.yaml)", credentials.role_arn())
                        }
                        None => "the function's own role (template.yaml)".to_owned(),
                    };
                    let region = region.clone();
                    source
                        .clone()
                        .walk()
                        .map(move |found| match found {
                            Discovered::Failure { scope, error } => Discovered::Failure {
                                scope,
                                error: with_scope_fix(error, &reader, &region),
                            },
                            stack => stack,
                        })
                        .boxed()
                })
                .collect(),
            Err(error) => {
                let failure = Discovered::Failure {
                    scope: format!("account {account}"),
                    error,
                };
                vec![futures_util::stream::iter([failure]).boxed()]
            }
        }
    }
}

/// An account and Region that could not be listed although the account could be read:
/// what to look at. `reader` is what reads there and the template that grants it (the
/// member role, or the function's own role for the hub's own account).
fn with_scope_fix(mut error: SourceError, reader: &str, region: &Region) -> SourceError {
    let fix = match error.kind {
        SourceErrorKind::AccessDenied => format!(
            "check that {reader} allows codeconnections:ListRepositoryLinks, ListSyncConfigurations, GetResourceSyncStatus and GetSyncBlockerSummary and that no service control policy denies them in {region}"
        ),
        // A Region not enabled in the account refuses the session's token as invalid.
        SourceErrorKind::Unavailable => format!(
            "the next tick tries again; if {region} is an opt-in Region, it must be enabled in that account"
        ),
        _ => "the next tick tries again".to_owned(),
    };
    error.message = format!("{}; {fix}", error.message);
    error
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere: the map is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl StatusSource for HubSource {
    async fn fetch(&self, stack: &StackRef) -> Result<ResourceStatus, SourceError> {
        self.scope_of(stack).await?.fetch(stack).await
    }

    async fn blockers(&self, stack: &StackRef) -> Result<Vec<Blocker>, SourceError> {
        self.scope_of(stack).await?.blockers(stack).await
    }

    async fn stack_history(
        &self,
        stack: &StackRef,
        since: Timestamp,
    ) -> Result<StackHistory, SourceError> {
        self.scope_of(stack)
            .await?
            .stack_history(stack, since)
            .await
    }

    async fn stack_tags(&self, location: Option<&Location>) -> Result<StackTags, SourceError> {
        let location = location.ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::NotFound,
                "a hub reads stack tags in an account and Region; none was given",
            )
        })?;
        self.scope_at(location)
            .await?
            .stack_tags(Some(location))
            .await
    }

    fn discover(&self) -> BoxStream<'_, Discovered> {
        let start = async move {
            let (accounts, problem) = self.accounts().await;
            let listing = problem.map(|error| Discovered::Failure {
                scope: "organization".to_owned(),
                error,
            });
            let scopes = futures_util::stream::iter(accounts)
                .map(move |account| self.open(account))
                .buffered(ACCOUNTS_IN_FLIGHT)
                .flat_map(futures_util::stream::iter)
                .flatten_unordered(SCOPES_IN_FLIGHT);
            futures_util::stream::iter(listing).chain(scopes)
        };
        futures_util::stream::once(start).flatten().boxed()
    }

    async fn stacks_of_link(
        &self,
        location: Option<&Location>,
        link: &str,
    ) -> Result<Vec<StackRef>, SourceError> {
        let location = location.ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::NotFound,
                "a hub lists a repository link's stacks in an account and Region; none was given",
            )
        })?;
        self.scope_at(location)
            .await?
            .stacks_of_link(Some(location), link)
            .await
    }

    fn account_name(&self, stack: &StackRef) -> Option<String> {
        let location = stack.location.as_ref()?;
        self.names
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&location.account)
            .cloned()
    }

    fn is_hub(&self) -> bool {
        true
    }

    async fn is_target(&self, location: &Location) -> bool {
        self.regions.contains(&location.region)
            && self.accounts().await.0.contains(&location.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_that_cannot_be_listed_says_what_to_look_at_by_what_failed() {
        let region = Region::parse("ap-east-1").unwrap();
        let denied = with_scope_fix(
            SourceError::new(SourceErrorKind::AccessDenied, "AccessDeniedException: no"),
            "the function's own role (template.yaml)",
            &region,
        );
        assert_eq!(
            denied.message,
            "AccessDeniedException: no; check that the function's own role (template.yaml) allows codeconnections:ListRepositoryLinks, ListSyncConfigurations, GetResourceSyncStatus and GetSyncBlockerSummary and that no service control policy denies them in ap-east-1"
        );
        let refused = with_scope_fix(
            SourceError::new(
                SourceErrorKind::Unavailable,
                "UnrecognizedClientException: The security token included in the request is invalid.",
            ),
            "a role",
            &region,
        );
        assert!(
            refused.message.ends_with(
                "; the next tick tries again; if ap-east-1 is an opt-in Region, it must be enabled in that account"
            ),
            "{}",
            refused.message
        );
        let throttled = with_scope_fix(
            SourceError::new(SourceErrorKind::Throttled, "ThrottlingException: slow down"),
            "a role",
            &region,
        );
        assert_eq!(
            throttled.message,
            "ThrottlingException: slow down; the next tick tries again"
        );
        assert_eq!(throttled.kind, SourceErrorKind::Throttled);
    }
}
