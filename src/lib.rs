//! gd-incidents: turns AWS GuardDuty findings into tracked security incidents and pages the right people.
//!
//! GuardDuty findings reach an SQS queue through an EventBridge rule. The daemon (`gd-incidents run`,
//! [`app::daemon::run`]) keeps one incident per finding in a DynamoDB table, classifies it `LOW`, `MEDIUM`,
//! `HIGH` or `CRITICAL` from GuardDuty's severity ([`domain::severity`]), and pages the on-call engineer
//! (OCE) and the information security officer (ISO) on SNS when it reaches `HIGH` or `CRITICAL`. The same
//! binary carries the responders' command line ([`interfaces::cli`]) and the incident portal
//! ([`interfaces::portal`], `gd-incidents portal`). SQS delivers at least once and several daemons may share
//! one queue and one table, so every step is idempotent and every write conditional.
//!
//! # Layers
//!
//! `src/` is laid out in layers, lowest first. A module may use its own layer and those below it, never one
//! above; no two modules import each other round a circle; and the domain names neither tokio, the AWS SDK
//! nor axum. `tests/architecture.rs` reads the source and fails on any `crate::` path that breaks these
//! rules.
//!
//! | layer | what it holds |
//! |---|---|
//! | [`domain`] | pure decisions: findings, incidents, lifecycle, policy, routing, post-mortems |
//! | [`config`] | the TOML configuration, its defaults, checks and environment overrides |
//! | [`telemetry`] | logs and metrics, set up once per process |
//! | [`adapters`] | AWS: one module per service, typed calls, no decisions |
//! | [`services`] | the domain's decisions carried out through the adapters: ingest, dispatch, reconcile... |
//! | [`interfaces`] | what faces queues and people: the SQS consumer, the command line, the portal, `/healthz` |
//! | [`app`] | the composition roots: wiring from a [`config::Config`], the daemon, the portal, signals |
//!
//! `main.rs` (the binary) parses the arguments, loads the configuration, sets up telemetry, and calls
//! [`app`] or a command of [`interfaces::cli`].
//!
//! # One message, from receive to delete
//!
//! 1. [`interfaces::consumer::Consumer`] long-polls the work queue (and the urgent queue, when
//!    configured), up to 10 messages per receive, with a bound on messages in flight. While a message is
//!    worked on, its visibility timeout is extended every half period.
//! 2. [`services::ingest::Ingest::handle`] parses the body with [`domain::finding::parse`]: a
//!    [`domain::finding::Reject`] (not JSON, not a GuardDuty finding, a field missing, a severity not in
//!    [0, 10]) goes to the dead-letter queue with `reject_reason` and `reject_detail`, and is deleted.
//! 3. The finding becomes an incident: [`domain::incident::Incident::create`] for a new one, written with
//!    [`adapters::dynamodb::Store::commit`] on the condition that it does not exist yet, together with its
//!    log entry and the message as [`domain::evidence::Evidence`]. If it exists,
//!    [`domain::incident::apply`] says what this version changes (a higher level, newer details, or
//!    nothing; versions are ordered by `updatedAt`, then `service.count`, and an older one that arrives
//!    late may raise the level but never overwrites newer details), and the write is conditional on the
//!    stored `version`; a lost race re-reads and re-applies. A level reached that pages makes its pages
//!    *owed* in that same write, in the incident's `pages` map, keyed `<LEVEL>:<target>` (`HIGH:oce`,
//!    `HIGH:route:infra-ops`, `HIGH:client:acme`), with `:esc<n>` for re-pages and `:<status>` for client
//!    updates.
//! 4. [`services::dispatch::Dispatcher::send_pages`] sends what is owed:
//!    [`domain::incident::page_plan`], then [`domain::incident::claim`] (a conditional write, so one worker
//!    publishes each page), [`adapters::sns::Pager::publish`], and [`domain::incident::mark_sent`] with the
//!    SNS message id.
//! 5. The consumer deletes the message, in batches of up to ten. A passing failure (throttling, an outage,
//!    a page another worker holds) leaves it on the queue with a doubling backoff, and after
//!    `requeue_after_receives` receives re-sends it fresh, so the redrive policy never dead-letters a good
//!    finding.
//!
//! A person's change (command line or portal) takes a shorter path: [`domain::lifecycle::act`] decides,
//! [`services::dispatch::Dispatcher::apply`] writes it conditionally and sends what it owes; what it cannot
//! send stays owed and due on the incident, and the daemon's [`services::schedule`] round sends it. [`services::reconcile`] feeds findings read from the
//! GuardDuty API through step 3 onwards, so a finding seen both ways is one incident.
//!
//! # The records of the table
//!
//! One table holds everything; every item has `pk`, `sk` and `record_type`. Nothing deletes an item (the
//! daemon's role cannot); settled bookkeeping records expire by TTL (`expires_at`). A new incident's first
//! log entry and evidence are kept inline on its item (`inline_event`, `inline_evidence`), so creating it is
//! one conditional `PutItem`; a later change carries its log entry as `pending_event` and puts it as an item
//! of its own right after, so no write needs a transaction. Log entries are append-only, evidence is never
//! overwritten (its body kept deflated when that is smaller).
//!
//! | `record_type` | `pk` | `sk` | what |
//! |---|---|---|---|
//! | `incident` | `INC#<account>#<region>#<finding id>` | `INCIDENT` | the incident, with its pages and `version` |
//! | `event` | same as its incident | `EVENT#<rfc3339>#<random>` | one log entry: who, when, what, before, after |
//! | `evidence` | same as its incident | `EVIDENCE#<updatedAt>#<sha256>` | one version of the finding, as received |
//! | `lease` | `LEASE#<name>` | `-` | who sweeps GuardDuty this interval |
//! | `watermark` | `WATERMARK#<name>` | `-` | up to when the sweeps have recorded every finding |
//! | `archive` | `ARCHIVE#pending` | `<incident id>` | an archive in GuardDuty still to retry |
//!
//! Indexes: `by-incident-id` (incident_id, sk) finds an incident by its id; `by-listing` (list_shard,
//! created_at) lists incidents newest first over 8 shards, projecting only what a list filters and searches
//! on; `by-escalation` (escalation_due, escalate_at) is sparse and sharded the same way, and holds only the
//! incidents the daemon must look at: a re-page scheduled or a page still owed, by when; `by-resource`
//! (open_resource, created_at) is sparse too: the open incidents by what they are about. No index has one
//! partition key value for every incident. An incident item's attributes are the serialized fields of
//! [`domain::incident::Incident`] (timestamps RFC 3339 UTC with milliseconds, so they sort as text); how
//! they are written is in [`adapters::dynamodb`].

#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod interfaces;
pub mod services;
pub mod telemetry;
