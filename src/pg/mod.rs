//! malipo's private local PostgreSQL: found on this machine, created on first use, started on
//! demand; used by every subcommand that needs the database when `DATABASE_URL` is unset.

mod binaries;
mod cluster;
pub(crate) mod config;
mod control;
mod exec;
mod init;
mod layout;
mod os_user;
mod port;

pub use binaries::{NOT_FOUND as BINARIES_NOT_FOUND, PgBinaries};
pub use cluster::LocalCluster;
pub use config::Durability;
