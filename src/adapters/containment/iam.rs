//! Deactivating an IAM user's access key, and reactivating it.

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::operation::RequestId;
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};

use super::{ContainError, classify};
use crate::domain::containment::record::Outcome;

const GONE: [&str; 1] = ["NoSuchEntity"];

/// The key's status: `{"user", "access_key_id", "status"}`.
pub(super) async fn key_status(iam: &Client, user: &str, key: &str) -> Result<Value, ContainError> {
    let out = iam.list_access_keys().user_name(user).send().await.map_err(|e| {
        let code = e.code().map(str::to_owned);
        classify(format!("ListAccessKeys of {user}"), code.as_deref(), &GONE, e)
    })?;
    let status = out
        .access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(key))
        .ok_or_else(|| ContainError::Gone(format!("access key {key} of IAM user {user} does not exist (any more)")))?
        .status()
        .map(|s| s.as_str().to_owned());
    Ok(json!({ "user": user, "access_key_id": key, "status": status }))
}

/// Sets the key `Active` or `Inactive`.
pub(super) async fn set_status(iam: &Client, user: &str, key: &str, active: bool) -> Result<Outcome, ContainError> {
    let status = if active { StatusType::Active } else { StatusType::Inactive };
    let out = iam.update_access_key().user_name(user).access_key_id(key).status(status).send().await.map_err(|e| {
        let code = e.code().map(str::to_owned);
        classify(format!("UpdateAccessKey {key}"), code.as_deref(), &GONE, e)
    })?;
    let request_ids = out.request_id().map(str::to_owned).into_iter().collect();
    Ok(Outcome { after: key_status(iam, user, key).await?, request_ids })
}
