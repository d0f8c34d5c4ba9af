//! The static release binaries (Linux, musl) are linked without unwind tables: they are built
//! with `panic = "abort"`, so nothing ever unwinds, and the tables were 0.8 MB of a 6 MB binary
//! (they stay in rustc's output even with `-C force-unwind-tables=no`: code that must abort when
//! a panic reaches it carries a landing pad, and with it a table). What is lost: a panic's
//! backtrace, already addresses only in a stripped binary. The C runtime's start files keep
//! theirs, as they refer to them.

fn main() {
    let linux_musl = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl");
    let script = "scripts/discard-unwind-tables.ld";
    println!("cargo:rerun-if-changed={script}");
    if linux_musl && std::env::var("PROFILE").as_deref() == Ok("release") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-Wl,--script={dir}/{script}");
    }
}
