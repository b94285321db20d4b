// `sqlx::migrate!` embeds the migration files at compile time, but stable Rust cannot tell
// cargo to watch a directory from inside a macro: without this, a new migration file would not
// be picked up until something else in the crate changed.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
