//! The finding's `service` member: action, evidence, detection (attack sequences) and the rest.

use aws_sdk_guardduty::types::{
    Action, Actor, Detection, Evidence, LocalIpDetails, LocalPortDetails, RemoteIpDetails, RemotePortDetails,
    ResourceV2, Sequence, Service, Signal,
};
use serde_json::{Map, Value};

use super::json::Obj;

pub(super) fn service(s: &Service) -> Value {
    let mut additional_info = None;
    if let Some(info) = s.additional_info() {
        // EventBridge spreads the members of the JSON-encoded `value` beside `value` and `type`.
        let mut spread = match info.value().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(members))) => members,
            _ => Map::new(),
        };
        if let Some(v) = info.value() {
            spread.insert("value".into(), Value::String(v.to_owned()));
        }
        if let Some(t) = info.r#type() {
            spread.insert("type".into(), Value::String(t.to_owned()));
        }
        additional_info = Some(Value::Object(spread));
    }
    Obj::new()
        .str("serviceName", s.service_name())
        .str("detectorId", s.detector_id())
        .value("action", s.action().map(action))
        .str("resourceRole", s.resource_role())
        .value("additionalInfo", additional_info)
        .value("evidence", s.evidence().map(evidence))
        .str("featureName", s.feature_name())
        .value("detection", s.detection().map(detection))
        .str("eventFirstSeen", s.event_first_seen())
        .str("eventLastSeen", s.event_last_seen())
        .bool("archived", s.archived())
        .int("count", s.count())
        .str("userFeedback", s.user_feedback())
        .build()
}

pub(super) fn evidence(e: &Evidence) -> Value {
    Obj::new()
        .list("threatIntelligenceDetails", e.threat_intelligence_details.as_deref(), |t| {
            Obj::new()
                .str("threatListName", t.threat_list_name())
                .strs("threatNames", t.threat_names.as_deref())
                .str("threatFileSha256", t.threat_file_sha256())
                .build()
        })
        .build()
}

pub(super) fn action(a: &Action) -> Value {
    Obj::new()
        .str("actionType", a.action_type())
        .value(
            "dnsRequestAction",
            a.dns_request_action().map(|d| {
                Obj::new()
                    .str("domain", d.domain())
                    .str("protocol", d.protocol())
                    .bool("blocked", d.blocked())
                    .str("domainWithSuffix", d.domain_with_suffix())
                    .str("vpcOwnerAccountId", d.vpc_owner_account_id())
                    .build()
            }),
        )
        .value(
            "awsApiCallAction",
            a.aws_api_call_action().map(|c| {
                Obj::new()
                    .str("api", c.api())
                    .str("serviceName", c.service_name())
                    .str("callerType", c.caller_type())
                    .str("errorCode", c.error_code())
                    .str("userAgent", c.user_agent())
                    .value("remoteIpDetails", c.remote_ip_details().map(remote_ip))
                    .value("domainDetails", c.domain_details().map(|d| Obj::new().str("domain", d.domain()).build()))
                    .value(
                        "remoteAccountDetails",
                        c.remote_account_details().map(|r| {
                            Obj::new()
                                .str("accountId", r.account_id())
                                .bool("affiliated", r.affiliated())
                                .str("awsServiceName", r.aws_service_name())
                                .build()
                        }),
                    )
                    .value(
                        "affectedResources",
                        c.affected_resources().map(|m| {
                            let mut sorted: Vec<_> = m.iter().collect();
                            sorted.sort();
                            Value::Object(
                                sorted.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect(),
                            )
                        }),
                    )
                    .build()
            }),
        )
        .value(
            "networkConnectionAction",
            a.network_connection_action().map(|n| {
                Obj::new()
                    .bool("blocked", n.blocked())
                    .str("connectionDirection", n.connection_direction())
                    .str("protocol", n.protocol())
                    .value("localPortDetails", n.local_port_details().map(local_port))
                    .value("localIpDetails", n.local_ip_details().map(local_ip))
                    .str("localNetworkInterface", n.local_network_interface())
                    .value("remoteIpDetails", n.remote_ip_details().map(remote_ip))
                    .value("remotePortDetails", n.remote_port_details().map(remote_port))
                    .build()
            }),
        )
        .value(
            "portProbeAction",
            a.port_probe_action().map(|p| {
                Obj::new()
                    .bool("blocked", p.blocked())
                    .list("portProbeDetails", p.port_probe_details.as_deref(), |d| {
                        Obj::new()
                            .value("localPortDetails", d.local_port_details().map(local_port))
                            .value("localIpDetails", d.local_ip_details().map(local_ip))
                            .value("remoteIpDetails", d.remote_ip_details().map(remote_ip))
                            .build()
                    })
                    .build()
            }),
        )
        .value(
            "kubernetesApiCallAction",
            a.kubernetes_api_call_action().map(|k| {
                Obj::new()
                    .str("requestUri", k.request_uri())
                    .str("verb", k.verb())
                    .str("resource", k.resource())
                    .str("subresource", k.subresource())
                    .str("namespace", k.namespace())
                    .str("resourceName", k.resource_name())
                    .strs("sourceIps", k.source_ips.as_deref())
                    .str("userAgent", k.user_agent())
                    .value("remoteIpDetails", k.remote_ip_details().map(remote_ip))
                    .int("statusCode", k.status_code())
                    .str("parameters", k.parameters())
                    .build()
            }),
        )
        .value(
            "kubernetesPermissionCheckedDetails",
            a.kubernetes_permission_checked_details().map(|k| {
                Obj::new()
                    .str("verb", k.verb())
                    .str("resource", k.resource())
                    .str("namespace", k.namespace())
                    .bool("allowed", k.allowed())
                    .build()
            }),
        )
        .value(
            "kubernetesRoleBindingDetails",
            a.kubernetes_role_binding_details().map(|k| {
                Obj::new()
                    .str("kind", k.kind())
                    .str("name", k.name())
                    .str("uid", k.uid())
                    .str("roleRefName", k.role_ref_name())
                    .str("roleRefKind", k.role_ref_kind())
                    .build()
            }),
        )
        .value(
            "kubernetesRoleDetails",
            a.kubernetes_role_details()
                .map(|k| Obj::new().str("kind", k.kind()).str("name", k.name()).str("uid", k.uid()).build()),
        )
        .value(
            "rdsLoginAttemptAction",
            a.rds_login_attempt_action().map(|r| {
                Obj::new()
                    .value("remoteIpDetails", r.remote_ip_details().map(remote_ip))
                    // PascalCase in the API and in EventBridge alike.
                    .list("LoginAttributes", r.login_attributes.as_deref(), |l| {
                        Obj::new()
                            .str("user", l.user())
                            .str("application", l.application())
                            .int("failedLoginAttempts", l.failed_login_attempts())
                            .int("successfulLoginAttempts", l.successful_login_attempts())
                            .build()
                    })
                    .build()
            }),
        )
        .build()
}

pub(super) fn remote_ip(r: &RemoteIpDetails) -> Value {
    Obj::new()
        .str("ipAddressV4", r.ip_address_v4())
        .str("ipAddressV6", r.ip_address_v6())
        .value(
            "organization",
            r.organization().map(|o| {
                Obj::new()
                    .str("asn", o.asn())
                    .str("asnOrg", o.asn_org())
                    .str("isp", o.isp())
                    .str("org", o.org())
                    .build()
            }),
        )
        .value(
            "country",
            r.country()
                .map(|c| Obj::new().str("countryCode", c.country_code()).str("countryName", c.country_name()).build()),
        )
        .value("city", r.city().map(|c| Obj::new().str("cityName", c.city_name()).build()))
        .value("geoLocation", r.geo_location().map(|g| Obj::new().float("lat", g.lat()).float("lon", g.lon()).build()))
        .build()
}

pub(super) fn local_ip(l: &LocalIpDetails) -> Value {
    Obj::new().str("ipAddressV4", l.ip_address_v4()).str("ipAddressV6", l.ip_address_v6()).build()
}

pub(super) fn local_port(p: &LocalPortDetails) -> Value {
    Obj::new().int("port", p.port()).str("portName", p.port_name()).build()
}

pub(super) fn remote_port(p: &RemotePortDetails) -> Value {
    Obj::new().int("port", p.port()).str("portName", p.port_name()).build()
}

/// Extended Threat Detection's attack sequence: what the parser lists (`sequence.resources[]`) and its context.
pub(super) fn detection(d: &Detection) -> Value {
    Obj::new().value("sequence", d.sequence().map(sequence)).build()
}

pub(super) fn sequence(s: &Sequence) -> Value {
    Obj::new()
        .str("uid", s.uid())
        .str("description", s.description())
        .list("actors", s.actors.as_deref(), actor)
        .list("resources", s.resources.as_deref(), resource_v2)
        .list("signals", s.signals.as_deref(), signal)
        .strs("additionalSequenceTypes", s.additional_sequence_types.as_deref())
        .build()
}

pub(super) fn actor(a: &Actor) -> Value {
    Obj::new()
        .str("id", a.id())
        .value(
            "user",
            a.user().map(|u| {
                Obj::new()
                    .str("name", u.name())
                    .str("uid", u.uid())
                    .str("type", u.r#type())
                    .str("credentialUid", u.credential_uid())
                    // The API names the account's name `account`.
                    .value(
                        "account",
                        u.account().map(|a| Obj::new().str("uid", a.uid()).str("account", a.name()).build()),
                    )
                    .build()
            }),
        )
        .build()
}

pub(super) fn resource_v2(r: &ResourceV2) -> Value {
    Obj::new()
        .str("uid", r.uid())
        .str("name", r.name())
        .str("accountId", r.account_id())
        .str("resourceType", r.resource_type().map(|t| t.as_str()))
        .str("region", r.region())
        .str("service", r.service())
        .str("cloudPartition", r.cloud_partition())
        .tags("tags", r.tags.as_deref())
        .build()
}

pub(super) fn signal(s: &Signal) -> Value {
    Obj::new()
        .str("uid", s.uid())
        .str("type", s.r#type().map(|t| t.as_str()))
        .str("description", s.description())
        .str("name", s.name())
        .time("createdAt", s.created_at())
        .time("updatedAt", s.updated_at())
        .time("firstSeenAt", s.first_seen_at())
        .time("lastSeenAt", s.last_seen_at())
        .float("severity", s.severity())
        .int("count", s.count())
        .strs("resourceUids", s.resource_uids.as_deref())
        .strs("actorIds", s.actor_ids.as_deref())
        .strs("endpointIds", s.endpoint_ids.as_deref())
        .build()
}
