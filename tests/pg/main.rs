//! The local PostgreSQL cluster and per-test databases, against real PostgreSQL binaries.

mod cluster;
mod shared_parents;
mod test_database;
