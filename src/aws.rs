//! What every AWS SDK client here shares: bounded calls, a bounded answer size, and one
//! short, safe description of a failure.
//!
//! - [`timeouts`]: every call has a connect, read, attempt and operation timeout (the
//!   operation, retries included, at most 10 s), so a CodeConnections or DynamoDB
//!   endpoint that accepts a connection and never answers cannot hold a run.
//! - [`AnswerLimit`]: an interceptor that reads no more than [`ANSWER_LIMIT`] of an answer.
//! - [`describe`]: says what failed in a line — the service's error, an HTTP status
//!   without a body, an answer that could not be read, a timeout, "cannot connect" — and
//!   never carries a response body (which for `GetSecretValue` is the secret).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_codeconnections::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_codeconnections::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_codeconnections::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_smithy_types::body::SdkBody;

/// The largest answer read from CodeConnections (a real one is a few kilobytes).
pub const ANSWER_LIMIT: usize = 1024 * 1024;

/// The longest one AWS call may take, its retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The timeouts of every AWS client: 3 s to connect, 5 s for an attempt (and for the
/// first byte of its answer), 10 s for the whole call with the SDK's retries.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// One HTTPS client for every SDK client built from a configuration that carries it: the
/// SDK's own default (hyper 1, rustls with aws-lc, the proxy from the environment), built
/// once. Without it each SDK client builds its own, with its own connection pool and its
/// own copy of the system's trusted certificates: harmless for a handful of clients, but
/// an org-wide hub has one per account and Region and one STS client per account (400 for
/// 100 accounts in 3 Regions), which cost it 130 MiB and most of its CPU, and a TLS
/// handshake per client where one connection per endpoint would do.
pub fn shared_http_client() -> aws_sdk_codeconnections::config::SharedHttpClient {
    use aws_smithy_http_client::{ConnectorBuilder, proxy::ProxyConfig, tls};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The SDK configuration from the usual places (environment, profile, the Lambda role),
/// with [`timeouts`] and one [`shared_http_client`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared_http_client())
        .timeout_config(timeouts())
        // The read and attempt timeouts above already bound a stalled answer; the SDK's
        // throughput monitor on every request and answer body costs CPU for nothing.
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
        )
        .load()
        .await
}

/// Why no AWS Region is set, with the fix; `None` when one is.
pub fn missing_region(config: &aws_config::SdkConfig) -> Option<String> {
    if config
        .region()
        .is_some_and(|region| !region.as_ref().trim().is_empty())
    {
        return None;
    }
    Some(match std::env::var("AWS_REGION") {
        Ok(value) if value.trim().is_empty() => {
            "AWS_REGION is empty; set it to the Region of your synced stacks, e.g. AWS_REGION=us-east-1".to_owned()
        }
        _ => "no AWS Region is set; set AWS_REGION to the Region of your synced stacks (e.g. AWS_REGION=us-east-1), or a region in your AWS profile (aws configure)".to_owned(),
    })
}

/// How to provide credentials, said with every [`NoCredentials`].
const CREDENTIALS_FIX: &str = "configure them with `aws configure` or `aws sso login`, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// Why there are no AWS credentials to use, with how to provide them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoCredentials {
    /// The SDK configuration has no credentials provider at all.
    #[error("no AWS credentials are configured; {CREDENTIALS_FIX}")]
    NotConfigured,
    /// Every provider of the chain had none.
    #[error(
        "no AWS credentials were found; {CREDENTIALS_FIX} (RUST_LOG=aws_config=debug shows where the SDK looked)"
    )]
    NotFound,
    /// A provider that has something failed (an expired SSO session, a bad profile);
    /// `reason` is its own words.
    #[error("no AWS credentials could be loaded: {reason}; {CREDENTIALS_FIX}")]
    Unloadable { reason: String },
}

/// Checks that credentials can be found, or says how to provide them.
pub async fn check_credentials(config: &aws_config::SdkConfig) -> Result<(), NoCredentials> {
    use aws_sdk_codeconnections::config::ProvideCredentials;
    let Some(provider) = config.credentials_provider() else {
        return Err(NoCredentials::NotConfigured);
    };
    let Err(error) = provider.provide_credentials().await else {
        return Ok(());
    };
    let reason = causes(&error);
    // Every provider of the chain said it had none (the SDK's `CredentialsNotLoaded`; its
    // crate is not a dependency, so it is told by its name), or the chain's last stop, the
    // EC2 instance metadata service, failed as it does off EC2: nothing was found, and the
    // metadata service's own words would only mislead. Where the SDK looked is in its debug
    // log.
    if format!("{error:?}").starts_with("CredentialsNotLoaded") || reason.contains("IMDS") {
        return Err(NoCredentials::NotFound);
    }
    // A provider that has something and failed (an expired SSO session, a bad profile):
    // its own words say what to fix.
    Err(NoCredentials::Unloadable { reason })
}

/// One line that says what happened to an AWS call: the service's error code and
/// message; or the HTTP status of an answer without an error in it; an answer that could
/// not be read (and why); a timeout; or that the endpoint could not be reached. It never
/// carries a response body.
pub fn describe<E>(
    error: &SdkError<E, aws_sdk_codeconnections::config::http::HttpResponse>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status = service.raw().status().as_u16();
            match err.code() {
                Some(code) => format!("{code}: {}", err.message().unwrap_or("no message")),
                None if (200..300).contains(&status) => format!(
                    "the answer (HTTP {status}) could not be decoded: {}",
                    causes(err)
                ),
                None => match service.raw().body().bytes() {
                    Some([]) | None => format!("HTTP {status} with no body"),
                    Some(_) => format!("HTTP {status} without an error the SDK could read"),
                },
            }
        }
        SdkError::TimeoutError(_) => "timed out: no answer within the call's time limit".to_owned(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            "timed out waiting for the endpoint to answer".to_owned()
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            format!("cannot connect to the endpoint ({})", causes(error))
        }
        SdkError::DispatchFailure(_) => format!("the request could not be sent: {}", causes(error)),
        SdkError::ResponseError(response) => format!(
            "the answer (HTTP {}) could not be read: {}",
            response.raw().status().as_u16(),
            causes(error)
        ),
        SdkError::ConstructionFailure(_) => {
            format!("the request could not be built: {}", causes(error))
        }
        _ => "the AWS SDK failed".to_owned(),
    }
}

/// The messages of an error's causes, joined, without repeats, kept short.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        if !message.is_empty() && !messages.iter().any(|seen| seen.contains(&message)) {
            messages.push(message);
        }
        next = cause.source();
    }
    if messages.is_empty() {
        messages.push(error.to_string());
    }
    crate::text::preview(&messages.join(": "), 300)
}

/// Reads no more than [`ANSWER_LIMIT`] of any answer: a larger one fails its call as an
/// answer that could not be read, naming the limit, instead of filling the memory of a
/// 128 MB function.
#[derive(Debug)]
pub struct AnswerLimit;

pub fn answer_limit_interceptor() -> AnswerLimit {
    AnswerLimit
}

#[derive(Debug)]
struct TooLarge(u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the answer is {} bytes, over the {} MB sync-notifier reads",
            self.0,
            ANSWER_LIMIT / (1024 * 1024)
        )
    }
}

impl std::error::Error for TooLarge {}

impl Intercept for AnswerLimit {
    fn name(&self) -> &'static str {
        "AnswerLimit"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.response_mut().body_mut();
        if let Some(length) = body.content_length()
            && length > ANSWER_LIMIT as u64
        {
            return Err(Box::new(TooLarge(length)));
        }
        let taken = std::mem::replace(body, SdkBody::taken());
        *body = SdkBody::from_body_1_x(http_body_util::Limited::new(taken, ANSWER_LIMIT));
        Ok(())
    }
}
