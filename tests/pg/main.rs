//! The local PostgreSQL cluster and per-test databases, against real PostgreSQL binaries.

mod checks_as_array_constants;
mod cluster;
mod finish_in_place;
mod jobs_by_kind;
mod plans_at_any_size;
mod postings_check_their_entries;
mod shared_parents;
mod table_activity;
mod test_database;
