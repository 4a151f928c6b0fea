//! Recording of AWS calls for the permission test: with `[aws] call_log_file` set (tests only, never in
//! production), every request this process sends to AWS is appended to that file as one JSON line, so that
//! a test can evaluate each call against the IAM policy of the role the process runs under (LocalStack does
//! not enforce IAM). A line holds what decides the IAM action and resource of the call:
//!
//! ```text
//! {"service":"DynamoDB","operation":"UpdateItem","uri":"http://127.0.0.1:4566/","body":"{\"TableName\":...}"}
//! ```
//!
//! The body is kept only when it is text (JSON or a form) and at most [`BODY_MAX`] bytes.

use std::io::Write;
use std::path::PathBuf;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Largest request body recorded, in bytes: enough for every request that names a resource.
pub const BODY_MAX: usize = 256 * 1024;

/// The interceptor that appends every request to the call log.
#[derive(Debug, Clone)]
pub struct CallLog {
    file: PathBuf,
}

impl CallLog {
    /// Records into `file` (appended to, created if missing).
    pub fn new(file: PathBuf) -> CallLog {
        CallLog { file }
    }
}

/// One line of the call log; `copy_source` is S3's `x-amz-copy-source` (what a copy reads).
pub fn line(service: &str, operation: &str, uri: &str, body: Option<&[u8]>, copy_source: Option<&str>) -> String {
    let body = body.filter(|b| b.len() <= BODY_MAX).and_then(|b| std::str::from_utf8(b).ok());
    let mut line = serde_json::json!({ "service": service, "operation": operation, "uri": uri, "body": body });
    if let Some(source) = copy_source {
        line["copy_source"] = source.into();
    }
    let mut line = line.to_string();
    line.push('\n');
    line
}

/// Appends `line` to the call log `file` (created if missing).
pub fn append(file: &std::path::Path, line: &str) -> std::io::Result<()> {
    // One write per line with O_APPEND: lines of concurrent calls and processes never interleave.
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    file.write_all(line.as_bytes())
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) =
            cfg.load::<Metadata>().map(|m| (m.service().to_owned(), m.name().to_owned())).unwrap_or_default();
        let request = context.request();
        let copy_source = request.headers().get("x-amz-copy-source");
        let text = line(&service, &operation, request.uri(), request.body().bytes(), copy_source);
        Ok(append(&self.file, &text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_a_text_body_only() {
        let l = line("DynamoDB", "PutItem", "http://h/", Some(br#"{"TableName":"t"}"#), None);
        assert!(l.ends_with('\n') && l.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!((v["service"].as_str(), v["operation"].as_str()), (Some("DynamoDB"), Some("PutItem")));
        assert_eq!(v["body"], r#"{"TableName":"t"}"#);
        let binary: serde_json::Value = serde_json::from_str(&line("S", "O", "u", Some(&[0xff, 0xfe]), None)).unwrap();
        assert!(binary["body"].is_null());
        let huge = vec![b'x'; BODY_MAX + 1];
        let big: serde_json::Value = serde_json::from_str(&line("S", "O", "u", Some(&huge), None)).unwrap();
        assert!(big["body"].is_null());
    }
}
