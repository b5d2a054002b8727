//! Records the compiler version for the machine metadata written with every result, and links
//! the system OpenBLAS when the `openblas` feature asks for it.
fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=VANISHING_RUSTC_VERSION={version}");
    // The compiler flags this build was made with (cargo's unit-separated form), so that the
    // perf gate can build its base revision with the very same flags: two builds that differ
    // in function alignment or target features would differ in more than their sources.
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    println!("cargo:rustc-env=VANISHING_ENCODED_RUSTFLAGS={rustflags}");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    // `--features openblas`: link the system OpenBLAS for the side-by-side GEMM bench (the
    // bindings come from cblas-sys, which links nothing itself). openblas-src's `system` mode
    // would do the same but builds a downloader (ureq, rustls) even then.
    if std::env::var_os("CARGO_FEATURE_OPENBLAS").is_some() {
        println!("cargo:rustc-link-lib=dylib=openblas");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
