//! Signature Version 4 of one request of the AWS JSON protocol: `POST /` with a JSON body and the headers
//! below, nothing else. Narrow on purpose: the general signer (`aws-sigv4`) canonicalises any request, and
//! that generality (header maps sorted, lowercased and copied; every part formatted apart) was a tenth of the
//! daemon's CPU per finding in `perf`. The tests hold this one to the general signer's output.

use hmac::{KeyInit, Mac};
use sha2_11::{Digest, Sha256};

use crate::domain::evidence::lower_hex;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The protocol's content type (DynamoDB and SQS speak its version 1.0).
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// What a signature covers besides the body.
#[derive(Debug)]
pub struct Request<'a> {
    /// The `Host` header: the endpoint's host, with its port when not the scheme's default.
    pub host: &'a str,
    /// `X-Amz-Target`: `<service prefix>.<operation>`.
    pub target: &'a str,
    /// The region signed for.
    pub region: &'a str,
    /// The service's signing name (`dynamodb`, `sqs`).
    pub service: &'a str,
    /// The time of signing, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
}

/// The secret part of the credentials that sign.
pub struct Secret<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials.
    pub session_token: Option<&'a str>,
}

/// The `Authorization` header of `request` with `body`.
pub fn authorization(request: &Request<'_>, body: &[u8], secret: &Secret<'_>) -> String {
    let signed_headers = if secret.session_token.is_some() {
        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
    } else {
        "content-type;host;x-amz-date;x-amz-target"
    };
    let mut canonical = String::with_capacity(512);
    canonical.push_str("POST\n/\n\ncontent-type:");
    canonical.push_str(CONTENT_TYPE);
    canonical.push_str("\nhost:");
    canonical.push_str(request.host);
    canonical.push_str("\nx-amz-date:");
    canonical.push_str(request.amz_date);
    if let Some(token) = secret.session_token {
        canonical.push_str("\nx-amz-security-token:");
        canonical.push_str(token.trim());
    }
    canonical.push_str("\nx-amz-target:");
    canonical.push_str(request.target);
    canonical.push_str("\n\n");
    canonical.push_str(signed_headers);
    canonical.push('\n');
    canonical.push_str(&lower_hex(&Sha256::digest(body)));

    let date = request.amz_date.get(..8).unwrap_or(request.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        request.amz_date,
        lower_hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", secret.secret_access_key).as_bytes(), date.as_bytes());
    for part in [request.region, request.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = lower_hex(&hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        secret.access_key_id
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    use super::*;

    /// The general signer's `Authorization` for the same request.
    fn reference(request: &Request<'_>, body: &[u8], secret: &Secret<'_>, at_secs: u64) -> String {
        let credentials = Credentials::new(
            secret.access_key_id,
            secret.secret_access_key,
            secret.session_token.map(str::to_owned),
            None,
            "test",
        );
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(request.region)
            .name(request.service)
            .time(UNIX_EPOCH + Duration::from_secs(at_secs))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("host", request.host),
            ("x-amz-date", request.amz_date),
            ("x-amz-target", request.target),
        ];
        let url = format!("https://{}/", request.host);
        let signable = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (headers, _) = instructions.into_parts();
        headers.iter().find(|h| h.name() == "authorization").unwrap().value().to_owned()
    }

    #[test]
    fn signatures_are_the_general_signers() {
        // 2026-12-01T23:50:07Z
        let (at, amz_date) = (1_796_169_007, "20261201T235007Z");
        let body = br#"{"TableName":"incidents","Item":{"pk":{"S":"INC#1"}}}"#;
        for (host, region, service, target, token) in [
            ("dynamodb.eu-west-1.amazonaws.com", "eu-west-1", "dynamodb", "DynamoDB_20120810.PutItem", None),
            ("127.0.0.1:4566", "us-east-1", "sqs", "AmazonSQS.ReceiveMessage", Some("FwoGZXIvYXdzE//token==")),
        ] {
            let request = Request { host, target, region, service, amz_date };
            let secret = Secret {
                access_key_id: "AKIDEXAMPLE",
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                session_token: token,
            };
            assert_eq!(authorization(&request, body, &secret), reference(&request, body, &secret, at), "{target}");
            assert_eq!(authorization(&request, b"", &secret), reference(&request, b"", &secret, at), "{target}");
        }
    }
}
