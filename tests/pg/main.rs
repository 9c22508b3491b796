//! The local PostgreSQL cluster and per-test databases, against real PostgreSQL binaries.

mod cluster;
mod plans_at_any_size;
mod shared_parents;
mod test_database;
