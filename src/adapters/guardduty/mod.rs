//! The GuardDuty API: listing and reading findings for reconciliation, archiving findings of closed
//! incidents; and turning API findings back into EventBridge events (`event`).

mod event;

use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::types::{Condition, FindingCriteria, SortCriteria};
pub use event::{to_body, to_event};

use crate::adapters::clients::{AwsError, describe};

/// GetFindings takes at most this many ids.
pub const GET_BATCH: usize = 50;

/// Why a GuardDuty call failed.
#[derive(Debug, thiserror::Error)]
pub enum GuardDutyError {
    /// The region is not one this program was configured for.
    #[error("GuardDuty in {region}: no client for this region: add it to [guardduty] regions")]
    NoClient {
        /// The region.
        region: String,
    },
    /// The call failed.
    #[error("GuardDuty {op} in {region} failed: {}", describe(.source.as_ref()))]
    Call {
        /// The operation.
        op: &'static str,
        /// The region.
        region: String,
        /// The SDK error.
        source: AwsError,
    },
}

/// A detector in a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Detector {
    /// Its region.
    pub region: String,
    /// Its id.
    pub id: String,
}

/// GuardDuty clients, one per region (detectors and findings are regional).
#[derive(Debug, Clone)]
pub struct GuardDuty {
    clients: std::collections::HashMap<String, Client>,
}

impl GuardDuty {
    /// Clients for `regions`, made by `clients` like every other client.
    pub fn new(clients: &crate::adapters::clients::Clients, regions: &[String]) -> GuardDuty {
        let clients = regions.iter().map(|r| (r.clone(), clients.guardduty_client(r))).collect();
        GuardDuty { clients }
    }

    fn client(&self, region: &str) -> Result<&Client, GuardDutyError> {
        self.clients.get(region).ok_or_else(|| GuardDutyError::NoClient { region: region.to_owned() })
    }

    /// The detectors of `region`.
    pub async fn detectors(&self, region: &str) -> Result<Vec<Detector>, GuardDutyError> {
        let client = self.client(region)?;
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let out = client.list_detectors().set_next_token(token).send().await.map_err(|e| GuardDutyError::Call {
                op: "ListDetectors",
                region: region.into(),
                source: e.into(),
            })?;
            ids.extend(
                out.detector_ids.unwrap_or_default().into_iter().map(|id| Detector { region: region.to_owned(), id }),
            );
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(ids);
            }
        }
    }

    /// Ids of the unarchived findings of `detector` updated at or after `since_ms` (epoch milliseconds),
    /// oldest first, across every page.
    pub async fn finding_ids_since(&self, detector: &Detector, since_ms: i64) -> Result<Vec<String>, GuardDutyError> {
        let client = self.client(&detector.region)?;
        let criteria = FindingCriteria::builder()
            .criterion("updatedAt", Condition::builder().greater_than_or_equal(since_ms).build())
            .criterion("service.archived", Condition::builder().equals("false").build())
            .build();
        let sort = SortCriteria::builder()
            .attribute_name("updatedAt")
            .order_by(aws_sdk_guardduty::types::OrderBy::Asc)
            .build();
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let out = client
                .list_findings()
                .detector_id(&detector.id)
                .finding_criteria(criteria.clone())
                .sort_criteria(sort.clone())
                .max_results(50)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| GuardDutyError::Call {
                    op: "ListFindings",
                    region: detector.region.clone(),
                    source: e.into(),
                })?;
            ids.extend(out.finding_ids.unwrap_or_default());
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(ids);
            }
        }
    }

    /// Whether `detector` has any finding updated at or after `since_ms` (epoch milliseconds), archived or
    /// not: one call.
    pub async fn any_finding_since(&self, detector: &Detector, since_ms: i64) -> Result<bool, GuardDutyError> {
        let client = self.client(&detector.region)?;
        let criteria = FindingCriteria::builder()
            .criterion("updatedAt", Condition::builder().greater_than_or_equal(since_ms).build())
            .build();
        let out = client
            .list_findings()
            .detector_id(&detector.id)
            .finding_criteria(criteria)
            .max_results(1)
            .send()
            .await
            .map_err(|e| GuardDutyError::Call {
                op: "ListFindings",
                region: detector.region.clone(),
                source: e.into(),
            })?;
        Ok(!out.finding_ids.unwrap_or_default().is_empty())
    }

    /// The findings with `ids` (at most [`GET_BATCH`]).
    pub async fn findings(
        &self,
        detector: &Detector,
        ids: &[String],
    ) -> Result<Vec<aws_sdk_guardduty::types::Finding>, GuardDutyError> {
        let client = self.client(&detector.region)?;
        let out =
            client.get_findings().detector_id(&detector.id).set_finding_ids(Some(ids.to_vec())).send().await.map_err(
                |e| GuardDutyError::Call { op: "GetFindings", region: detector.region.clone(), source: e.into() },
            )?;
        Ok(out.findings.unwrap_or_default())
    }

    /// Archives one finding.
    pub async fn archive(&self, detector: &Detector, finding_id: &str) -> Result<(), GuardDutyError> {
        let client = self.client(&detector.region)?;
        client.archive_findings().detector_id(&detector.id).finding_ids(finding_id).send().await.map(drop).map_err(
            |e| GuardDutyError::Call { op: "ArchiveFindings", region: detector.region.clone(), source: e.into() },
        )
    }

    /// Asks GuardDuty to make sample findings of `types` on `detector`.
    pub async fn create_sample_findings(&self, detector: &Detector, types: &[String]) -> Result<(), GuardDutyError> {
        let client = self.client(&detector.region)?;
        client
            .create_sample_findings()
            .detector_id(&detector.id)
            .set_finding_types(Some(types.to_vec()))
            .send()
            .await
            .map(drop)
            .map_err(|e| GuardDutyError::Call {
                op: "CreateSampleFindings",
                region: detector.region.clone(),
                source: e.into(),
            })
    }
}
