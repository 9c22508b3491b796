//! Rebuilds when a migration is added: `sqlx::migrate!` embeds the files it saw at compile time
//! and only notices edits to those, not new ones.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
