//! One short, safe description of an AWS SDK failure, for summaries, logs and errors.
//!
//! The SDK's own `DisplayErrorContext` includes the raw HTTP response for some failures:
//! the whole body of a `GetSecretValue` answer (the secret) or of a 16 MB `BatchGetItem`.
//! This says what failed in a line, and never carries a response body.

use aws_sdk_codeconnections::error::{ProvideErrorMetadata, SdkError};

pub fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("service error"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => "the request timed out".to_owned(),
        SdkError::DispatchFailure(failure) => match failure.as_connector_error() {
            Some(connector) => format!("the request could not be sent: {connector}"),
            None => "the request could not be sent".to_owned(),
        },
        SdkError::ResponseError(_) => {
            "the answer could not be read (a malformed response)".to_owned()
        }
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "the AWS SDK failed".to_owned(),
    }
}
