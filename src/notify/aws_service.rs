//! What the destinations that are AWS services (Amazon Q Developer in chat applications
//! through an SNS topic, an EventBridge event bus) share:
//!
//! - [`Arn`]: a resource's ARN, read and checked when the configuration is read, so a
//!   wrong service, partition, Region or account is a start-up problem with its fix;
//! - [`Client`]: the SDK configuration of the process, in the Region the resource lives
//!   in, with no retries of its own (the run's [`Gate`](super::Gate) retries, within its
//!   budget) and answers read up to [`crate::aws::ANSWER_LIMIT`];
//! - [`call`]: one call cut to the gate's timeout, its failure sorted into a retry
//!   (throttling, 5xx, timeouts, the network, an answer that cannot be read) or a refusal
//!   (access denied, not found, an invalid request), said with the fix.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};

use super::Attempt;
use super::secret::quote;
use crate::domain::{AccountId, Region};

/// An ARN of one service, checked: `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub text: String,
    pub region: Region,
    pub account: AccountId,
    /// What follows the account: a topic's name, `event-bus/NAME`.
    pub resource: String,
}

const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Why a value is not an ARN of the resource wanted: what is wrong, and the fix (give the
/// ARN of `what`, like `example`). Parts of the value are held only [`quote`]d: it may be
/// a secret pasted into the wrong field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; give the ARN of {what}, like {example}")]
pub struct InvalidArn {
    pub problem: ArnProblem,
    /// The resource wanted: "an SNS topic".
    pub what: &'static str,
    /// A good ARN of it.
    pub example: &'static str,
}

/// What is wrong with an ARN ([`InvalidArn`] adds the fix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnProblem {
    #[error("{quoted} is not an ARN")]
    NotAnArn { quoted: String },
    #[error("{quoted} has fewer than the six parts of an ARN")]
    Parts { quoted: String },
    #[error("the partition {quoted} is not aws, aws-cn or aws-us-gov")]
    Partition { quoted: String },
    #[error("is the ARN of a {quoted} resource, not of {what}")]
    Service { quoted: String, what: &'static str },
    #[error("{quoted} is not a Region code")]
    Region { quoted: String },
    #[error("the Region {region} is in the {} partition, not in {partition}", .region.partition())]
    RegionPartition { region: Region, partition: String },
    #[error("{quoted} is not an account id (12 digits)")]
    Account { quoted: String },
}

impl Arn {
    /// Reads `value` as an ARN of `service` (`sns`, `events`); `what` names the resource
    /// ("an SNS topic") and `example` shows a good ARN, for the messages. Messages never
    /// repeat a value that may be a secret (a URL pasted into the wrong field).
    pub fn parse(
        value: &str,
        service: &str,
        what: &'static str,
        example: &'static str,
    ) -> Result<Arn, InvalidArn> {
        let invalid = |problem| InvalidArn {
            problem,
            what,
            example,
        };
        let value = value.trim();
        if !value.starts_with("arn:") {
            return Err(invalid(ArnProblem::NotAnArn {
                quoted: quote(value),
            }));
        }
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let [_, partition, arn_service, region, account, resource] = parts.as_slice() else {
            return Err(invalid(ArnProblem::Parts {
                quoted: quote(value),
            }));
        };
        if !PARTITIONS.contains(partition) {
            return Err(invalid(ArnProblem::Partition {
                quoted: quote(partition),
            }));
        }
        if *arn_service != service {
            return Err(invalid(ArnProblem::Service {
                quoted: quote(arn_service),
                what,
            }));
        }
        let region = Region::parse(region).map_err(|_| {
            invalid(ArnProblem::Region {
                quoted: quote(region),
            })
        })?;
        if region.partition() != *partition {
            return Err(invalid(ArnProblem::RegionPartition {
                region,
                partition: (*partition).to_owned(),
            }));
        }
        let account = AccountId::parse(account).map_err(|_| {
            invalid(ArnProblem::Account {
                quoted: quote(account),
            })
        })?;
        Ok(Arn {
            text: value.to_owned(),
            region,
            account,
            resource: (*resource).to_owned(),
        })
    }
}

/// A client of the SDK crate `$sdk` from the process's configuration, in `$region`, without
/// retries of its own (the gate retries) and with bounded answers.
macro_rules! sdk_client {
    ($sdk:ident, $aws:expr, $region:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($aws)
                .region($region)
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .interceptor(crate::aws::AnswerLimit)
                .build(),
        )
    };
}
pub(crate) use sdk_client;

/// The client of one destination, or why there is none.
#[derive(Debug, Clone)]
pub enum Client<C> {
    Ready(C),
    /// Why this process cannot call the service (said on every send).
    Missing(String),
}

impl<C> Client<C> {
    /// The client, or the refusal that says why this process has none.
    pub fn ready(&self, key: &str) -> Result<&C, super::DeliveryError> {
        match self {
            Client::Ready(client) => Ok(client),
            Client::Missing(reason) => Err(super::DeliveryError::Permanent(format!(
                "{key}: not sent; {reason}"
            ))),
        }
    }
}

/// The process's SDK configuration, for a client in `region` (or the configuration's own
/// Region), without retries of its own and with bounded answers. `build` makes the
/// service's client from that configuration.
pub fn client<C>(
    aws: Option<&aws_config::SdkConfig>,
    region: Option<&Region>,
    build: impl FnOnce(&aws_config::SdkConfig, aws_config::Region) -> C,
) -> Client<C> {
    let Some(aws) = aws else {
        return Client::Missing(
            "this process has no AWS configuration, so it cannot call AWS; run it where AWS credentials and a Region are set (the Lambda function, or `check` with AWS_REGION and credentials)".to_owned(),
        );
    };
    let region = match (region, aws.region()) {
        (Some(region), _) => aws_config::Region::new(region.as_str().to_owned()),
        (None, Some(region)) => region.clone(),
        (None, None) => {
            return Client::Missing(
                "no AWS Region is set; set AWS_REGION, or give the resource's ARN (its Region is then used)".to_owned(),
            );
        }
    };
    Client::Ready(build(aws, region))
}

/// How a destination explains a refusal: the fix for an error code, if it knows one.
pub type Fixes = fn(&str) -> Option<&'static str>;

/// Codes that say "try again later", whatever the service.
const TRANSIENT: [&str; 19] = [
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "KMSThrottling",
    "KMSThrottlingException",
    "InternalError",
    "InternalFailure",
    "InternalException",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Whether an error code says "try again later".
pub fn is_transient(code: &str) -> bool {
    TRANSIENT.contains(&code)
}

/// Runs one SDK call within `timeout`; `done` reads its answer. A failure becomes
/// [`Attempt::Failed`] or [`Attempt::Refused`] (see the module's rules), its reason
/// starting with the destination's `key`; a refusal says the fix `fixes` gives for its
/// code.
///
/// A 2xx answer the SDK could not read is a delivery, with a warning: the service took the
/// message (retrying it would publish it again), only its answer is unreadable.
pub async fn call<O, E, T>(
    key: &str,
    timeout: Duration,
    request: impl Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    fixes: Fixes,
    done: impl FnOnce(O) -> Attempt<T>,
) -> Attempt<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    T: Default,
{
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Attempt::Failed {
            reason: format!(
                "{key}: timed out after {}s without an answer",
                timeout.as_secs_f64()
            ),
            retry_after: None,
            timed_out: true,
        },
        Ok(Ok(output)) => done(output),
        Ok(Err(error)) if taken_but_unread(&error) => {
            tracing::warn!(destination = %key, error = %crate::aws::describe(&error), "the service answered 2xx, so it took the message, but its answer could not be read; counted as delivered");
            Attempt::Done(T::default())
        }
        Ok(Err(error)) => classify(key, &error, fixes),
    }
}

/// A 2xx answer without an error in it that the SDK could not read.
fn taken_but_unread<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    let ok = |status: u16| (200..300).contains(&status);
    match error {
        SdkError::ServiceError(service) => {
            ok(service.raw().status().as_u16()) && service.err().code().is_none()
        }
        SdkError::ResponseError(response) => ok(response.raw().status().as_u16()),
        _ => false,
    }
}

/// What an SDK failure means for the message.
pub fn classify<E, T>(key: &str, error: &SdkError<E, HttpResponse>, fixes: Fixes) -> Attempt<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let described = crate::aws::describe(error);
    let failed = |timed_out: bool| Attempt::Failed {
        reason: format!("{key}: {described}"),
        retry_after: None,
        timed_out,
    };
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let passing = matches!(status, 200..=299 | 408 | 429 | 500..=599);
            match service.err().code() {
                Some(code) if is_transient(code) => failed(false),
                Some(code) => match fixes(code) {
                    Some(fix) => Attempt::Refused(format!("{key}: {described}; {fix}")),
                    None if passing => failed(false),
                    None => Attempt::Refused(format!("{key}: {described}")),
                },
                // An answer without an error the SDK could read: a 2xx it could not
                // decode, or a 5xx, may pass; another 4xx or a redirect will not.
                None if passing => failed(false),
                None => Attempt::Refused(format!("{key}: {described}")),
            }
        }
        SdkError::TimeoutError(_) => failed(true),
        SdkError::DispatchFailure(failure) => failed(failure.is_timeout()),
        SdkError::ConstructionFailure(_) => Attempt::Refused(format!(
            "{key}: {described}; check the function's AWS configuration (its Region and credentials)"
        )),
        _ => failed(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "arn:aws:sns:us-east-1:123456789012:sync-notifier";

    fn parse(value: &str) -> Result<Arn, InvalidArn> {
        Arn::parse(value, "sns", "an SNS topic", EXAMPLE)
    }

    #[test]
    fn reads_the_parts_of_an_arn() {
        let arn = parse("arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts").unwrap();
        assert_eq!(arn.region.as_str(), "us-gov-west-1");
        assert_eq!(arn.account.as_str(), "123456789012");
        assert_eq!(arn.resource, "alerts");
        let arn = parse(" arn:aws-cn:sns:cn-north-1:123456789012:a:b ").unwrap();
        assert_eq!(arn.resource, "a:b");
        assert_eq!(arn.text, "arn:aws-cn:sns:cn-north-1:123456789012:a:b");
    }

    #[test]
    fn says_what_is_wrong_and_how_to_fix_it() {
        let cases = [
            ("sync-alerts", "is not an ARN"),
            ("arn:aws:sns:us-east-1", "fewer than the six parts"),
            (
                "arn:aws-eu:sns:us-east-1:123456789012:t",
                "partition \"aws-eu\"",
            ),
            ("arn:aws:sqs:us-east-1:123456789012:t", "a \"sqs\" resource"),
            (
                "arn:aws:sns:useast1:123456789012:t",
                "\"useast1\" is not a Region",
            ),
            (
                "arn:aws:sns:cn-north-1:123456789012:t",
                "in the aws-cn partition",
            ),
            (
                "arn:aws:sns:us-east-1:1234:t",
                "\"1234\" is not an account id",
            ),
        ];
        for (value, expected) in cases {
            let message = parse(value).unwrap_err().to_string();
            assert!(message.contains(expected), "{value}: {message}");
            assert!(message.contains(EXAMPLE), "{value}: {message}");
        }
    }

    #[test]
    fn never_repeats_what_may_be_a_secret() {
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXXXXXSECRET";
        let message = parse(secret).unwrap_err().to_string();
        assert!(!message.contains("SECRET"), "{message}");
        let message = parse(&format!("arn:aws:sns:us-east-1:{secret}"))
            .unwrap_err()
            .to_string();
        assert!(!message.contains("SECRET"), "{message}");
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert!(is_transient("Throttled"));
        assert!(is_transient("ThrottlingException"));
        assert!(is_transient("InternalError"));
        assert!(!is_transient("AuthorizationError"));
        assert!(!is_transient("AccessDeniedException"));
    }
}
