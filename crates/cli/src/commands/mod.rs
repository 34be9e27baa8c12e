//! One module per subcommand.

pub mod action;
pub mod apply;
pub mod audit;
pub mod check;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod drift;
pub mod flow;
pub mod init;
pub mod people;
pub mod plan;
pub mod policy;
pub mod reach;
pub mod remote;
pub mod request;
pub mod requests;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod serve;
pub mod sync;
pub mod token;
pub mod worker;
