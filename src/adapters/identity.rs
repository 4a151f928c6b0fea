//! Who the caller is, as AWS sees it: STS `GetCallerIdentity`, which needs no permission and cannot be
//! refused, so the command line records a verified identity with every change instead of a typed name.

use crate::adapters::clients::AwsError;

/// The identity of the credentials in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Its ARN: `arn:aws:sts::<account>:assumed-role/<role>/<session>` or `arn:aws:iam::<account>:user/<name>`.
    pub arn: String,
}

impl Caller {
    /// The person's name as the ARN gives it: the role session name (IAM Identity Center puts the user
    /// name there) or the IAM user name; else the whole ARN.
    pub fn name(&self) -> &str {
        let resource = self.arn.splitn(6, ':').nth(5).unwrap_or_default();
        let mut parts = resource.split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("assumed-role"), Some(_role), Some(session)) if !session.is_empty() => session,
            (Some("user"), Some(name), None) if !name.is_empty() => name,
            _ => resource.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&self.arn),
        }
    }
}

/// Asks STS who the caller is.
pub async fn caller(sts: &aws_sdk_sts::Client) -> Result<Caller, AwsError> {
    let out = sts.get_caller_identity().send().await.map_err(|e| Box::new(e) as AwsError)?;
    let arn = out.arn.filter(|a| !a.is_empty()).ok_or_else(|| AwsError::from("STS returned no ARN"))?;
    Ok(Caller { arn })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_session_or_the_user() {
        let table = [
            (
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Responder_0a1b/alice@example.com",
                "alice@example.com",
            ),
            ("arn:aws:sts::123456789012:assumed-role/gd-responder/olga", "olga"),
            ("arn:aws:iam::123456789012:user/bob", "bob"),
            ("arn:aws:iam::123456789012:user/team/carol", "carol"),
            ("arn:aws:iam::000000000000:root", "root"),
        ];
        for (arn, name) in table {
            assert_eq!(Caller { arn: arn.into() }.name(), name, "{arn}");
        }
    }
}
