//! The pure core: what a finding says, what an incident becomes, who is owed a page. No tokio, no AWS SDK.

pub mod evidence;
pub mod finding;
pub mod incident;
pub mod lifecycle;
pub mod page_text;
pub mod policy;
pub mod postmortem;
pub mod routing;
pub mod severity;
pub mod timestamp;
