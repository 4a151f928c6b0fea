//! Adding the addresses `block-ip` blocks to AWS WAF IP sets, and taking out exactly those it added. WAF
//! guards each change with a lock token: a change that lost the race (`WAFOptimisticLockException`) is a
//! transient failure, retried by the schedule with a fresh token.

use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::error::ProvideErrorMetadata;
use aws_sdk_wafv2::operation::RequestId;
use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use serde_json::{Value, json};

use super::ContainError;
use crate::domain::containment::ip_set::{IpSet, cidr};

const GONE: [&str; 1] = ["WAFNonexistentItemException"];

/// An IP set's addresses now, with the token a change needs.
struct Current {
    version: IpAddressVersion,
    addresses: Vec<String>,
    lock_token: String,
}

async fn current(waf: &Client, set: &IpSet) -> Result<Current, ContainError> {
    let request = waf.get_ip_set().name(&set.name).id(&set.id).scope(Scope::from(set.scope));
    let out = call!(request, format!("GetIPSet {}", set.arn), GONE)?;
    let ip_set = out.ip_set().ok_or_else(|| ContainError::Gone(format!("IP set {} does not exist", set.arn)))?;
    Ok(Current {
        version: ip_set.ip_address_version().clone(),
        addresses: ip_set.addresses().to_vec(),
        lock_token: out.lock_token().unwrap_or_default().to_owned(),
    })
}

/// The set's addresses: `{"arn", "name", "addresses": [...]}`.
pub(super) async fn addresses(waf: &Client, set: &IpSet) -> Result<Value, ContainError> {
    let now = current(waf, set).await?;
    Ok(json!({ "arn": set.arn, "name": set.name, "addresses": now.addresses }))
}

/// Adds those of `ips` of the set's address family it lacks; the addresses added are those it has now and
/// `had` (what it held before the action) did not: `({"arn", "name", "added": [...]}, request id)`.
pub(super) async fn add(
    waf: &Client,
    set: &IpSet,
    ips: &[&str],
    had: &[String],
) -> Result<(Value, Option<String>), ContainError> {
    let now = current(waf, set).await?;
    let v6 = now.version == IpAddressVersion::Ipv6;
    let wanted: Vec<String> = ips.iter().filter(|ip| ip.contains(':') == v6).map(|ip| cidr(ip)).collect();
    let mut addresses = now.addresses.clone();
    addresses.extend(wanted.iter().filter(|c| !now.addresses.contains(c)).cloned());
    let request_id = if addresses.len() == now.addresses.len() {
        None
    } else {
        update(waf, set, addresses, &now.lock_token).await?
    };
    let added: Vec<&String> = wanted.iter().filter(|c| !had.contains(c)).collect();
    Ok((json!({ "arn": set.arn, "name": set.name, "added": added }), request_id))
}

/// Takes `added` out of the set, leaving every other address.
pub(super) async fn remove(waf: &Client, set: &IpSet, added: &[String]) -> Result<Option<String>, ContainError> {
    let now = current(waf, set).await?;
    let kept: Vec<String> = now.addresses.iter().filter(|a| !added.contains(a)).cloned().collect();
    if kept.len() == now.addresses.len() {
        return Ok(None);
    }
    update(waf, set, kept, &now.lock_token).await
}

async fn update(
    waf: &Client,
    set: &IpSet,
    addresses: Vec<String>,
    lock_token: &str,
) -> Result<Option<String>, ContainError> {
    let request = waf
        .update_ip_set()
        .name(&set.name)
        .id(&set.id)
        .scope(Scope::from(set.scope))
        .set_addresses(Some(addresses))
        .lock_token(lock_token);
    let out = call!(request, format!("UpdateIPSet {}", set.arn), GONE)?;
    Ok(out.request_id().map(str::to_owned))
}
