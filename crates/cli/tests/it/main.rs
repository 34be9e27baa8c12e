//! grantflow's end-to-end tests: the real binary against the in-process
//! sandbox, in temporary folders. One test binary for all of them, so the
//! crate graph links once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

mod testkit;

mod accounts;
mod apply_crash;
mod audit_checkpoints;
mod check;
mod commands;
mod cross_system;
mod demo;
mod drift;
mod faults;
mod faults_all;
mod flow_accounts;
mod flow_crash;
mod flow_templates;
mod flow_templates_seed004;
mod hardening;
mod hris;
mod leavers;
mod okta_full;
mod reach;
mod remote;
mod scenario_declared_lifecycle;
mod scenario_group_push;
mod scenario_sales_engineer;
mod scenario_senior_engineer;
mod tokens;
mod trust;
mod workers;
