//! Quarantining an S3 object: its tags recorded, the incident's tag added (a bucket policy denying reads
//! of tagged objects then keeps everyone out), a copy into the quarantine bucket kept as evidence; undo
//! puts the tags back and leaves the copy.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::types::{MetadataDirective, Tag, Tagging, TaggingDirective};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::{ContainError, classify};
use crate::domain::containment::record::Outcome;
use crate::domain::containment::{INCIDENT_TAG, quarantine_key};
use crate::domain::finding::targets::S3Object;

const GONE: [&str; 4] = ["NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound"];
/// The most tags S3 keeps on one object.
const MAX_TAGS: usize = 10;
/// What stays as it is in a copy source's key and in a tag set: RFC 3986's unreserved characters and `/`.
const KEY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// The object and its tags now: `{"bucket", "key", "version_id", "tags": [{"key", "value"}]}`.
pub(super) async fn tags(s3: &Client, object: &S3Object) -> Result<Value, ContainError> {
    let out = call!(
        s3.get_object_tagging().bucket(&object.bucket).key(&object.key).set_version_id(object.version_id.clone()),
        format!("GetObjectTagging {}", object.location()),
        GONE
    )?;
    let tags: Vec<Value> = out.tag_set().iter().map(|t| json!({ "key": t.key(), "value": t.value() })).collect();
    Ok(json!({ "bucket": object.bucket, "key": object.key, "version_id": object.version_id, "tags": tags }))
}

/// Adds the incident's tag to the object's (recorded in `before`) and, with a quarantine bucket, copies
/// the object there: once, a retry finds the copy made.
pub(super) async fn quarantine(
    s3: &Client,
    object: &S3Object,
    incident_id: &str,
    before: &Value,
    quarantine_bucket: &str,
) -> Result<Outcome, ContainError> {
    let mut tags: Vec<(String, String)> = recorded(before).into_iter().filter(|(k, _)| k != INCIDENT_TAG).collect();
    tags.push((INCIDENT_TAG.to_owned(), incident_id.to_owned()));
    if tags.len() > MAX_TAGS {
        return Err(ContainError::Refused(format!(
            "{} has {MAX_TAGS} tags already, the most S3 keeps: remove one, then ask again",
            object.location()
        )));
    }
    let mut request_ids = vec![put_tags(s3, object, &tags).await?];
    let copy = if quarantine_bucket.is_empty() {
        Value::Null
    } else {
        let (copy, id) = copy_to(s3, object, incident_id, quarantine_bucket).await?;
        request_ids.push(id);
        copy
    };
    let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
    let after = json!({ "bucket": object.bucket, "key": object.key, "version_id": object.version_id, "tags": tags, "copy": copy });
    Ok(Outcome { after, request_ids: request_ids.into_iter().flatten().collect() })
}

/// Puts back the tags `before` recorded; the quarantine copy stays (evidence).
pub(super) async fn restore(s3: &Client, object: &S3Object, before: &Value) -> Result<Outcome, ContainError> {
    let request_ids = put_tags(s3, object, &recorded(before)).await?.into_iter().collect();
    Ok(Outcome { after: tags(s3, object).await?, request_ids })
}

/// The tags `before` recorded, as `(key, value)`.
fn recorded(before: &Value) -> Vec<(String, String)> {
    before["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["key"].as_str()?.to_owned(), t["value"].as_str()?.to_owned())))
        .collect()
}

async fn put_tags(s3: &Client, object: &S3Object, tags: &[(String, String)]) -> Result<Option<String>, ContainError> {
    let set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<Tag>, _>>()
        .map_err(|e| ContainError::Refused(format!("tags of {}: {e}", object.location())))?;
    // An empty set is a valid request: it clears the tags (what undo of an untagged object wants).
    let tagging =
        Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| ContainError::Refused(e.to_string()))?;
    let out = call!(
        s3.put_object_tagging()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .tagging(tagging),
        format!("PutObjectTagging {}", object.location()),
        GONE
    )?;
    Ok(out.request_id().map(str::to_owned))
}

/// Copies the object (that version) into the quarantine bucket, unless a copy is there already:
/// `({"bucket", "key", "version_id", "etag"}, request id)`.
async fn copy_to(
    s3: &Client,
    object: &S3Object,
    incident_id: &str,
    bucket: &str,
) -> Result<(Value, Option<String>), ContainError> {
    let key = quarantine_key(incident_id, object);
    let made = |version: Option<&str>, etag: Option<&str>| json!({ "bucket": bucket, "key": key, "version_id": version, "etag": etag.map(|e| e.trim_matches('"')) });
    match s3.head_object().bucket(bucket).key(&key).send().await {
        Ok(head) => return Ok((made(head.version_id(), head.e_tag()), head.request_id().map(str::to_owned))),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
        Err(e) => {
            let code = e.code().map(str::to_owned);
            return Err(classify(format!("HeadObject s3://{bucket}/{key}"), code.as_deref(), &["NoSuchBucket"], e));
        }
    }
    let mut source = format!("{}/{}", object.bucket, utf8_percent_encode(&object.key, KEY));
    if let Some(version) = &object.version_id {
        source.push_str(&format!("?versionId={}", utf8_percent_encode(version, KEY)));
    }
    let tagging = format!("{}={}", utf8_percent_encode(INCIDENT_TAG, KEY), utf8_percent_encode(incident_id, KEY));
    let out = call!(
        s3.copy_object()
            .copy_source(source)
            .bucket(bucket)
            .key(&key)
            .metadata_directive(MetadataDirective::Copy)
            .tagging_directive(TaggingDirective::Replace)
            .tagging(tagging),
        format!("CopyObject {} to s3://{bucket}/{key}", object.location()),
        GONE
    )?;
    let etag = out.copy_object_result().and_then(|r| r.e_tag());
    Ok((made(out.version_id(), etag), out.request_id().map(str::to_owned)))
}
