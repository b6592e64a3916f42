//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds
//! `migrations/` at compile time, and cargo reruns a proc macro only when a
//! file it already knows changes, so a new migration file would otherwise be
//! left out of the binary and the tests (the build script sqlx recommends).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
