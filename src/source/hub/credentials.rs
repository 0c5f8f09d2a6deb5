//! One member account's credentials: one `AssumeRoleProvider` for its read role, behind
//! one cache of its own, shared by every Regional client of that account.
//!
//! Why a cache of our own rather than the SDK's identity cache: the SDK's shared lazy
//! cache keeps at most 64 providers and then evicts one at random (an organization has
//! more accounts than that, so it would assume roles again and again), and its cache can
//! only be consulted from inside an operation. The hub needs to ask "can this account be
//! read at all?" once per tick, before listing its Regions, so that an account whose role
//! cannot be assumed is one failure, not one per Region. So: the clients get no identity
//! cache (`IdentityCache::no_cache`), and every call of theirs asks this provider, which
//! answers from its cache until a minute before the session ends.
//!
//! Sessions last one hour (the member role's `MaxSessionDuration`), and the clients are
//! built once per process and kept across warm invocations: at most one `AssumeRole` per
//! account per session (every 59 minutes while the function stays warm). A refusal is not
//! cached: the next tick tries once again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;

use crate::source::{SourceError, SourceErrorKind};

/// How long an assumed session lasts: the most the member template's role allows.
pub const SESSION: Duration = Duration::from_secs(3600);
/// Credentials are renewed this long before they expire, so none expires during a call
/// (a call, its retries included, takes at most [`crate::aws::OPERATION_TIMEOUT`]).
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// The session name, as member accounts see it in CloudTrail.
pub const SESSION_NAME: &str = "sync-notifier";

/// The credentials of one member account (cheap to clone; clones share the cache).
#[derive(Clone)]
pub struct MemberCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    role_arn: String,
    provider: aws_config::sts::AssumeRoleProvider,
    /// The session in use. The lock is held while a new one is assumed, so the account's
    /// Regional clients, asking at once, cause one `AssumeRole`.
    session: tokio::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for MemberCredentials {
    // Never the credentials themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberCredentials")
            .field("role_arn", &self.inner.role_arn)
            .finish_non_exhaustive()
    }
}

impl MemberCredentials {
    /// Credentials for `role_arn`, assumed with the hub's own credentials, through STS in
    /// the hub's Region (both from `sdk_config`).
    pub async fn new(sdk_config: &aws_config::SdkConfig, role_arn: String) -> MemberCredentials {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
            .session_name(SESSION_NAME)
            .session_length(SESSION)
            .configure(sdk_config)
            .build()
            .await;
        MemberCredentials {
            inner: Arc::new(Inner {
                role_arn,
                provider,
                session: tokio::sync::Mutex::new(None),
            }),
        }
    }

    pub fn role_arn(&self) -> &str {
        &self.inner.role_arn
    }

    /// The session's credentials: the cached ones, or a new session.
    async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let mut session = self.inner.session.lock().await;
        if let Some(credentials) = session.as_ref().filter(|credentials| fresh(credentials)) {
            return Ok(credentials.clone());
        }
        let credentials = self.inner.provider.provide_credentials().await?;
        *session = Some(credentials.clone());
        Ok(credentials)
    }

    /// Whether the account can be read: its role could be assumed (or a session is still
    /// good). The error names the account's role and the fix.
    pub async fn check(&self) -> Result<(), SourceError> {
        self.credentials()
            .await
            .map(drop)
            .map_err(|error| refusal(&self.inner.role_arn, &error))
    }
}

impl ProvideCredentials for MemberCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// Whether credentials are good for at least [`RENEW_BEFORE`] more.
fn fresh(credentials: &Credentials) -> bool {
    credentials.expiry().is_none_or(|expiry| {
        expiry
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > RENEW_BEFORE)
    })
}

/// Says why a role could not be assumed, and what to do about it.
fn refusal(role_arn: &str, error: &CredentialsError) -> SourceError {
    let sts = sts_error(error);
    let code = sts.and_then(|error| match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    });
    let kind = match (sts, code) {
        (_, Some("AccessDenied" | "AccessDeniedException" | "RegionDisabledException")) => {
            SourceErrorKind::AccessDenied
        }
        (_, Some("Throttling" | "ThrottlingException")) => SourceErrorKind::Throttled,
        (Some(SdkError::TimeoutError(_)), _) => SourceErrorKind::TimedOut,
        (Some(SdkError::DispatchFailure(failure)), _) if failure.is_timeout() => {
            SourceErrorKind::TimedOut
        }
        (Some(SdkError::ResponseError(_)), _) => SourceErrorKind::Malformed,
        _ => SourceErrorKind::Unavailable,
    };
    let why = match sts {
        Some(error) => crate::aws::describe(error),
        None => crate::text::preview(&error.to_string(), 300),
    };
    let fix = match code {
        Some("RegionDisabledException") => {
            "activate STS in the hub's Region in that account's IAM account settings"
        }
        _ if kind == SourceErrorKind::AccessDenied => {
            "deploy templates/member-role.yaml in that account (or the member-role stack set) and check that its HubRoleArn is this function's role"
        }
        _ => "the next tick tries again",
    };
    SourceError::new(kind, format!("could not assume {role_arn} ({why}); {fix}"))
}

/// The STS error under a credentials error, if that is what it is.
fn sts_error(
    error: &CredentialsError,
) -> Option<&SdkError<AssumeRoleError, aws_sdk_sts::config::http::HttpResponse>> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = next {
        if let Some(sts) = cause.downcast_ref() {
            return Some(sts);
        }
        next = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_fresh_until_a_minute_before_they_expire() {
        let expiring = |seconds: u64| {
            Credentials::new(
                "AKID",
                "secret",
                Some("token".into()),
                Some(SystemTime::now() + Duration::from_secs(seconds)),
                "test",
            )
        };
        assert!(fresh(&expiring(3600)));
        assert!(fresh(&expiring(90)));
        assert!(!fresh(&expiring(30)));
        assert!(fresh(&Credentials::new(
            "AKID", "secret", None, None, "test"
        )));
    }

    #[test]
    fn a_refusal_without_sts_says_so_and_the_next_tick_tries_again() {
        let error = CredentialsError::provider_timed_out(Duration::from_secs(5));
        let refused = refusal(
            "arn:aws:iam::111122223333:role/SyncNotifierReadRole",
            &error,
        );
        assert_eq!(refused.kind, SourceErrorKind::Unavailable);
        assert!(
            refused.message.starts_with(
                "could not assume arn:aws:iam::111122223333:role/SyncNotifierReadRole ("
            ),
            "{refused}"
        );
        assert!(
            refused.message.ends_with("; the next tick tries again"),
            "{refused}"
        );
    }
}
