//! Marks the server tests ignored, with the reason, when their server is not
//! configured: `cargo test` then counts them as ignored in the summary a
//! reader sees, instead of passing tests that ran nothing. Under `CI=true`
//! they are never ignored: they run, and fail without their server.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    for (var, cfg) in [
        ("CRCM_TEST_POSTGRES_URL", "crcm_skip_postgres"),
        ("CRCM_TEST_MYSQL_URL", "crcm_skip_mysql"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let set = std::env::var(var).is_ok_and(|v| !v.is_empty());
        if !set && !ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
