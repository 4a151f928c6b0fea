//! Why a call of the consumer to SQS failed, with the client's error kept as the source.

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::operation::send_message::SendMessageError;

use crate::adapters::aws_json::CallError;

/// A failed SQS call; log it with [`crate::adapters::clients::describe`] for the whole chain of causes.
#[derive(Debug, thiserror::Error)]
pub(super) enum SqsError {
    /// A receive.
    #[error("could not receive messages")]
    Receive(#[source] Box<CallError>),
    /// A change of a message's visibility timeout.
    #[error("could not change the visibility of a message")]
    Visibility(#[source] Box<SdkError<ChangeMessageVisibilityError>>),
    /// A delete of one message.
    #[error("could not delete a message")]
    Delete(#[source] Box<SdkError<DeleteMessageError>>),
    /// The copy to the dead-letter queue.
    #[error("could not send the message to the dead-letter queue")]
    DeadLetter(#[source] Box<SdkError<SendMessageError>>),
    /// The fresh copy of a message sent again.
    #[error("could not send the message again")]
    Requeue(#[source] Box<SdkError<SendMessageError>>),
}
