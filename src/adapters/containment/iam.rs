//! Deactivating an IAM user's access key, and reactivating it.

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::operation::RequestId;
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};

use super::{ContainError, classify};
use crate::domain::containment::REVOKE_POLICY;
use crate::domain::containment::record::Outcome;

const GONE: [&str; 1] = ["NoSuchEntity"];

/// The key's status: `{"user", "access_key_id", "status"}`.
pub(super) async fn key_status(iam: &Client, user: &str, key: &str) -> Result<Value, ContainError> {
    let out = call!(iam.list_access_keys().user_name(user), format!("ListAccessKeys of {user}"), GONE)?;
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
    let request = iam.update_access_key().user_name(user).access_key_id(key).status(status);
    let out = call!(request, format!("UpdateAccessKey {key}"), GONE)?;
    let request_ids = out.request_id().map(str::to_owned).into_iter().collect();
    Ok(Outcome { after: key_status(iam, user, key).await?, request_ids })
}

/// The deny of `revoke-sessions`: every action, for sessions issued before `before` (RFC 3339).
fn revoke_document(before: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "RevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": before } }
        }]
    })
    .to_string()
}

/// The role and the revoke policy it has now, if any: `{"role", "policy_before"}`.
pub(super) async fn role_policy(iam: &Client, role: &str) -> Result<Value, ContainError> {
    call!(iam.get_role().role_name(role), format!("GetRole {role}"), GONE)?;
    // IAM returns policy documents URL-encoded.
    let existing = match iam.get_role_policy().role_name(role).policy_name(REVOKE_POLICY).send().await {
        Ok(out) => Some(percent_encoding::percent_decode_str(out.policy_document()).decode_utf8_lossy().into_owned()),
        Err(e) if e.code() == Some("NoSuchEntity") => None,
        Err(e) => {
            let code = e.code().map(str::to_owned);
            return Err(classify(format!("GetRolePolicy {role}"), code.as_deref(), &[], e));
        }
    };
    Ok(json!({ "role": role, "policy_before": existing }))
}

/// Puts the revoke policy on `role`, denying sessions issued before `before`.
pub(super) async fn revoke(iam: &Client, role: &str, before: &str) -> Result<Outcome, ContainError> {
    let request_ids = put_policy(iam, role, &revoke_document(before)).await?.into_iter().collect();
    Ok(Outcome { after: json!({ "role": role, "policy": REVOKE_POLICY, "revoked_before": before }), request_ids })
}

/// Puts back the policy `before` recorded, or one that denies nothing (the record stays on the role).
pub(super) async fn restore(iam: &Client, role: &str, before: &Value) -> Result<Outcome, ContainError> {
    let document = match before["policy_before"].as_str() {
        Some(earlier) => earlier.to_owned(),
        None => revoke_document("1970-01-01T00:00:00Z"),
    };
    let request_id = put_policy(iam, role, &document).await?;
    let after = json!({ "role": role, "policy": REVOKE_POLICY, "revoked_before": Value::Null });
    Ok(Outcome { after, request_ids: request_id.into_iter().collect() })
}

async fn put_policy(iam: &Client, role: &str, document: &str) -> Result<Option<String>, ContainError> {
    let request = iam.put_role_policy().role_name(role).policy_name(REVOKE_POLICY).policy_document(document);
    let out = call!(request, format!("PutRolePolicy {role}"), GONE)?;
    Ok(out.request_id().map(str::to_owned))
}
