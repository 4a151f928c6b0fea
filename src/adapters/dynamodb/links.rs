//! Links between an attack sequence's incident and the incidents of the findings it was built from: a small
//! record in the partition of each signal's incident (`LINK#<sequence incident id>`), written when the
//! sequence arrives, whether or not that incident exists yet. Either incident finds the other by key, so
//! the link holds both ways whichever arrives first, with no index and no change to the other item.

use serde::{Deserialize, Serialize};

use super::{IncidentKey, Store, StoreError};
use crate::domain::incident::Incident;

/// The `record_type` of links.
const RECORD_LINK: &str = "link";
/// The sort key prefix of links.
const SK_LINK: &str = "LINK#";

/// An attack sequence a finding's incident is part of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceLink {
    /// The attack sequence's incident.
    pub sequence_incident_id: String,
    /// Its finding type, e.g. `AttackSequence:S3/CompromisedData`.
    pub sequence_type: String,
}

impl Store {
    /// Records that the finding of `signal` (an incident now or later) is part of `sequence`.
    pub async fn put_link(&self, signal: &IncidentKey, sequence: &Incident) -> Result<(), StoreError> {
        let link = SequenceLink {
            sequence_incident_id: sequence.incident_id.clone(),
            sequence_type: sequence.finding_type.clone(),
        };
        let sk = format!("{SK_LINK}{}", sequence.incident_id);
        let item = self.encode(&link, &signal.pk(), &sk, RECORD_LINK)?;
        self.put(item).await
    }

    /// The attack sequences `incident`'s finding is part of.
    pub async fn links(&self, incident: &Incident) -> Result<Vec<SequenceLink>, StoreError> {
        let items = self.query_prefix(&IncidentKey::of(incident).pk(), SK_LINK).await?;
        items.into_iter().map(|i| self.decode(i)).collect()
    }

    /// The incident of each `FINDING` signal of `sequence` that exists yet, by signal uid.
    pub async fn signal_incidents(&self, sequence: &Incident) -> Result<Vec<(String, Incident)>, StoreError> {
        let mut found = Vec::new();
        for signal in sequence.signals.iter().filter(|s| s.is_finding()) {
            if let Some(incident) = self.load(&signal_key(sequence, &signal.uid)).await? {
                found.push((signal.uid.clone(), incident));
            }
        }
        Ok(found)
    }
}

/// The key of the incident of a signal of `sequence`: a finding of the same account and region.
pub fn signal_key(sequence: &Incident, uid: &str) -> IncidentKey {
    IncidentKey { account_id: sequence.account_id.clone(), region: sequence.region.clone(), finding_id: uid.to_owned() }
}
