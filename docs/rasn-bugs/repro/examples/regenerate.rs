//! Shows the compiler side of bug 1: compiles `bug1.asn` with rasn-compiler
//! 0.16 (default `RasnConfig`) and checks that `src/generated.rs` is exactly
//! its output. `cargo run --example regenerate` (add `-- --print` to print it).

use rasn_compiler::prelude::*;

fn main() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let asn = std::fs::read_to_string(format!("{dir}/bug1.asn")).expect("read bug1.asn");
    let out = Compiler::<RasnBackend, _>::new()
        .add_asn_literal(asn)
        .compile_to_string()
        .expect("rasn-compiler");
    for w in &out.warnings {
        eprintln!("rasn-compiler warning: {w}");
    }
    if std::env::args().any(|a| a == "--print") {
        println!("{}", out.generated);
    }
    let checked_in = std::fs::read_to_string(format!("{dir}/src/generated.rs")).expect("read src/generated.rs");
    let body: String = checked_in.lines().skip_while(|l| l.starts_with("//")).collect::<Vec<_>>().join("\n");
    // rasn-compiler formats its output with rustfmt if available, and rustfmt
    // picks up any rustfmt.toml above the working directory: compare tokens,
    // not layout.
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    if squash(&body) == squash(&out.generated) {
        println!("src/generated.rs is identical (up to whitespace) to the rasn-compiler 0.16 output for bug1.asn");
    } else {
        eprintln!("src/generated.rs differs from the rasn-compiler output (run with --print)");
        std::process::exit(1);
    }
}
