//! Why a call of the lean client failed, and which failures are worth another attempt.

use std::time::Duration;

use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;

/// Why a call failed, after its retries.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error.
    #[error("{}: {} (HTTP {status})", .meta.code().unwrap_or("unknown error"), .meta.message().unwrap_or(""))]
    Service {
        /// The HTTP status.
        status: u16,
        /// The error's code and message.
        meta: ErrorMetadata,
        /// The whole answer (DynamoDB's `ConditionalCheckFailedException` carries the item there).
        body: Bytes,
    },
    /// The request could not be sent, or its answer not read.
    #[error("the request could not be sent or its answer read")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request cannot be written as JSON.
    #[error("the request cannot be written as JSON")]
    Request(#[source] serde_json::Error),
    /// The answer is not what the operation's API defines.
    #[error("the answer does not read as the API defines it")]
    Answer(#[source] serde_json::Error),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// No credentials to sign with.
    #[error("no credentials to sign the request with")]
    Credentials(#[source] aws_credential_types::provider::error::CredentialsError),
    /// The endpoint cannot be reached this way (no TLS roots for an `https` endpoint).
    #[error("{0}")]
    Unreachable(String),
}

impl ProvideErrorMetadata for CallError {
    fn meta(&self) -> &ErrorMetadata {
        static EMPTY: std::sync::OnceLock<ErrorMetadata> = std::sync::OnceLock::new();
        match self {
            CallError::Service { meta, .. } => meta,
            _ => EMPTY.get_or_init(|| ErrorMetadata::builder().build()),
        }
    }
}

impl CallError {
    /// Whether another attempt may succeed: throttling, a fault of the service, the network, a timeout.
    pub(super) fn is_transient(&self) -> bool {
        match self {
            CallError::Service { status, meta, .. } => {
                *status >= 500 || meta.code().is_some_and(|c| TRANSIENT_CODES.contains(&c) || expired(c))
            }
            CallError::Transport(_) | CallError::Timeout(_) => true,
            CallError::Request(_) | CallError::Answer(_) | CallError::Credentials(_) | CallError::Unreachable(_) => {
                false
            }
        }
    }
}

/// Error codes worth another attempt (the SDK's throttling and transient codes).
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Whether `code` says the credentials signed with have expired (fetched anew, then retried).
pub(super) fn expired(code: &str) -> bool {
    matches!(code, "ExpiredToken" | "ExpiredTokenException" | "RequestExpired")
}

/// The code and message of an error answer: the code from the header when there is one (SQS's
/// `x-amzn-query-error` is `<code>;<fault>`), else the body's `__type` (`<namespace>#<code>`).
pub(super) fn error_metadata(header: Option<&str>, body: &[u8]) -> ErrorMetadata {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(rename = "__type", default, borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(alias = "Message", default, borrow)]
        message: Option<std::borrow::Cow<'a, str>>,
    }
    let answer: Answer<'_> = serde_json::from_slice(body).unwrap_or(Answer { kind: None, message: None });
    let code = header.map(str::to_owned).or(answer.kind.map(|k| k.into_owned())).map(|c| {
        let c = c.split(';').next().unwrap_or_default();
        let c = c.rsplit('#').next().unwrap_or_default();
        c.split(':').next().unwrap_or_default().to_owned()
    });
    let mut meta = ErrorMetadata::builder();
    if let Some(code) = code {
        meta = meta.code(code);
    }
    if let Some(message) = answer.message {
        meta = meta.message(message);
    }
    meta.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_the_header_or_the_body() {
        let dynamo = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{}}"#;
        let meta = error_metadata(None, dynamo);
        assert_eq!(meta.code(), Some("ConditionalCheckFailedException"));
        assert_eq!(meta.message(), Some("The conditional request failed"));
        let sqs =
            br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#;
        let meta = error_metadata(Some("AWS.SimpleQueueService.NonExistentQueue;Sender"), sqs);
        assert_eq!(meta.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));
        let meta = error_metadata(Some("ThrottlingException:http://internal.amazon.com/"), b"not json");
        assert_eq!((meta.code(), meta.message()), (Some("ThrottlingException"), None));
        assert_eq!(error_metadata(None, b"").code(), None);
    }

    #[test]
    fn throttling_faults_and_the_network_are_retried_refusals_are_not() {
        let service = |status, code: &str| CallError::Service {
            status,
            meta: ErrorMetadata::builder().code(code).build(),
            body: Bytes::new(),
        };
        assert!(service(400, "ProvisionedThroughputExceededException").is_transient());
        assert!(service(400, "ThrottlingException").is_transient());
        assert!(service(400, "ExpiredTokenException").is_transient(), "after new credentials");
        assert!(service(503, "anything").is_transient());
        assert!(CallError::Timeout(Duration::from_secs(1)).is_transient());
        assert!(!service(400, "ConditionalCheckFailedException").is_transient());
        assert!(!service(400, "AccessDeniedException").is_transient());
        assert!(!service(400, "ValidationException").is_transient());
        assert!(!CallError::Unreachable("no roots".into()).is_transient());
    }
}
