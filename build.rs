//! Links the `gd-incidents` binary with packed relative relocations (`-z pack-relative-relocs`, DT_RELR)
//! where the C library it is built against reads them.
//!
//! Why: a position-independent binary of this size carries about 75,000 relative relocations, 1.8 MB of
//! `.rela.dyn` that the loader reads at every start and that then stays resident; packed, they take 25 KB.
//! Measured with `cargo bench --bench throughput -- --soak 3000`: peak RSS 24.5 MB instead of 27 MB. The
//! binary stays position-independent (ASLR is kept).
//!
//! Only for a native Linux glibc build on glibc 2.36 or later: the linker then makes the binary require
//! `GLIBC_ABI_DT_RELR`, which older glibc lacks, so a binary built on an older system (Ubuntu 22.04 has 2.35)
//! would not start there. The Docker image builds on Debian 12 and runs on distroless Debian 12 (2.36).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native_gnu =
        var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" && var("TARGET") == var("HOST");
    if native_gnu && glibc_version().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc version, as `getconf GNU_LIBC_VERSION` says it ("glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf").arg("GNU_LIBC_VERSION").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}
