//! The local PostgreSQL cluster and per-test databases, against real PostgreSQL binaries.

mod cluster;
mod test_database;
