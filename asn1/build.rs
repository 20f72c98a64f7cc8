//! Generates the E2AP v03.01 and E2SM-KPM v03.00 codecs from the ASN.1 text in
//! `modules/` with rasn-compiler, then applies two documented, asserted
//! workarounds for rasn limitations (see `asn1/README.md` and
//! `docs/rasn-bugs.md`). The generated code lives in OUT_DIR and is never
//! committed.

use std::{env, fs, path::PathBuf};

use rasn_compiler::prelude::*;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let modules = manifest.join("modules");
    println!("cargo:rerun-if-changed=modules");
    println!("cargo:rerun-if-changed=build.rs");

    let e2ap_files = [
        "e2ap-v03.01/e2ap-common-v03.01.asn",
        "e2ap-v03.01/e2ap-constant-v03.01.asn",
        "e2ap-v03.01/e2ap-container-v03.01.asn",
        "e2ap-v03.01/e2ap-ied-v03.01.asn",
        "e2ap-v03.01/e2ap-pdu-v03.01.asn",
        "e2ap-v03.01/e2ap-epd-v03.01.asn",
    ];
    let e2ap = compile(e2ap_files.iter().map(|f| read(&modules.join(f))).collect());
    let e2ap = copy_newtype_constraints_to_extension_fields(e2ap, &["ricActionExecutionOrder"]);
    fs::write(out.join("e2ap_generated.rs"), e2ap).expect("write e2ap_generated.rs");

    let common = read(&modules.join("e2sm-kpm-v03.00/e2sm-v03.01.asn"));
    let kpm = real_as_octet_string(read(&modules.join("e2sm-kpm-v03.00/e2sm-kpm-v03.00.asn")));
    let kpm = compile(vec![common, kpm]);
    let kpm = copy_newtype_constraints_to_extension_fields(kpm, &["distMeasBinRangeInfo", "matchingUEidPerGP"]);
    fs::write(out.join("kpm_generated.rs"), kpm).expect("write kpm_generated.rs");

    let qkd = compile(vec![read(&modules.join("e2sm-qkd-v01.00/e2sm-qkd-v01.00.asn"))]);
    let qkd = copy_newtype_constraints_to_extension_fields(qkd, &[]);
    fs::write(out.join("e2sm_qkd_generated.rs"), qkd).expect("write e2sm_qkd_generated.rs");
}

fn read(path: &PathBuf) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn compile(sources: Vec<String>) -> String {
    let config = RasnConfig { opaque_open_types: true, default_wildcard_imports: true, ..RasnConfig::default() };
    let mut compiler = Compiler::<RasnBackend, _>::new_with_config(config).add_asn_literal(sources[0].clone());
    for s in &sources[1..] {
        compiler = compiler.add_asn_literal(s.clone());
    }
    let result = compiler.compile_to_string().unwrap_or_else(|e| panic!("rasn-compiler failed: {e}"));
    for w in &result.warnings {
        println!("cargo:warning=rasn-compiler: {w}");
    }
    result.generated
}

/// Workaround for rasn limitation 2 (no APER REAL). An APER REAL is a length
/// determinant followed by X.690 REAL contents octets: the same bits as an
/// unconstrained OCTET STRING. The three REAL alternatives of E2SM-KPM v03.00
/// are compiled as OCTET STRING; `kpm::Real` encodes/decodes the contents.
fn real_as_octet_string(text: String) -> String {
    let n = text.matches("REAL").count();
    assert_eq!(n, 3, "E2SM-KPM v03.00 has exactly three REAL alternatives; found {n}: update build.rs");
    text.replace("REAL", "OCTET STRING -- qsafe-ran: APER REAL as its X.690 contents --")
}

/// Workaround for rasn bug 1: a SEQUENCE extension addition whose type is a
/// constrained newtype (`#[rasn(delegate, value(..))]` / `size(..)`) is
/// encoded without the newtype's constraint. Copying the constraint onto the
/// field attribute encodes correctly (wire-identical with pycrate). The fix is
/// generic, but the set of patched fields is asserted so that a new
/// occurrence — or a fixed upstream — is noticed at build time.
fn copy_newtype_constraints_to_extension_fields(code: String, expected: &[&str]) -> String {
    let lines: Vec<&str> = code.lines().collect();
    // Newtype name -> its constraint attributes.
    let mut constraints = std::collections::HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if let Some(attr) = t.strip_prefix("#[rasn(delegate").and_then(|a| a.strip_suffix(")]")) {
            let parts = constraint_parts(attr);
            if parts.is_empty() {
                continue;
            }
            if let Some(name) = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.starts_with("#["))
                .and_then(|l| l.strip_prefix("pub struct "))
                .and_then(|l| l.split('(').next())
            {
                constraints.insert(name.to_string(), parts.join(", "));
            }
        }
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut patched = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("#[rasn(extension_addition, identifier = ") {
            let field_ty = lines
                .get(i + 1)
                .and_then(|l| l.trim().split_once(": Option<"))
                .and_then(|(_, ty)| ty.strip_suffix(">,"));
            if let Some(c) = field_ty.and_then(|ty| constraints.get(ty)) {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push(format!("{indent}#[rasn(extension_addition, {c}, identifier = {rest}"));
                patched.push(rest.trim_end_matches(")]").trim_matches('"').to_string());
                continue;
            }
        }
        out.push(line.to_string());
    }
    patched.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(patched, want, "rasn bug-1 workaround patched an unexpected set of extension additions");
    out.join("\n")
}

/// The `value(..)` / `size(..)` parts of a rasn attribute's contents.
fn constraint_parts(attr: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for key in ["value(", "size("] {
        if let Some(start) = attr.find(key) {
            let mut depth = 0;
            for (j, ch) in attr[start..].char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            parts.push(attr[start..=start + j].to_string());
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    parts
}
