//! gd-incidents: turns AWS GuardDuty findings into tracked security incidents and pages the right people.
#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod interfaces;
pub mod services;
pub mod telemetry;
