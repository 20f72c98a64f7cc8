//! `qsafe-rapp scan` as an operator runs it: `--help` teaches the classification rule, bad
//! input fails clearly, a real rustls server is scanned (table, JSON, CBOM), and two JSON
//! reports are diffed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use qsafe_scan::model::{Classification, ScanReport};
use qsafe_scan::testserver::{ServerProfile, spawn};

fn rapp() -> Command {
    let mut c = Command::cargo_bin("qsafe-rapp").expect("binary");
    c.env_remove("QSAFE_RAPP_SCAN_CONCURRENCY").env_remove("QSAFE_RAPP_SCAN_TIMEOUT");
    c
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Runs a blocking command while the test's servers keep serving on the runtime.
async fn run(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

#[test]
fn help_teaches() {
    let o = rapp().args(["scan", "--help"]).output().unwrap();
    assert!(o.status.success());
    let help = stdout(&o);
    for word in [
        "full-pqc",
        "hybrid-kex-only",
        "quantum-vulnerable",
        "ML-DSA",
        "HelloRetryRequest",
        "--targets-file",
        "--fail-on",
        "--format",
        "cbom",
        "scan diff",
        "Examples:",
        "QSAFE_RAPP_SCAN_TIMEOUT",
    ] {
        assert!(help.contains(word), "scan --help lacks {word}: {help}");
    }
    let o = rapp().args(["scan", "diff", "--help"]).output().unwrap();
    assert!(stdout(&o).contains("--exit-code"));
}

#[test]
fn bad_input_fails_clearly() {
    let cases: [(&[&str], &str); 6] = [
        (&["scan"], "no targets"),
        (&["scan", "just-a-host"], "missing port"),
        (&["scan", "h:99999"], "not a port"),
        (&["scan", "--targets-file", "/nonexistent/targets.txt"], "cannot read targets file"),
        (&["scan", "diff", "/nonexistent/a.json", "/nonexistent/b.json"], "cannot read"),
        (&["scan", "h:1", "--timeout", "0"], "timeout"),
    ];
    for (args, want) in cases {
        let o = rapp().args(args).output().unwrap();
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(want), "{args:?}: stderr lacks {want:?}: {}", stderr(&o));
    }
    // A targets file with a bad line names the line.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.txt");
    std::fs::write(&f, "# lab\nric:443\nbad host:\n").unwrap();
    let o = rapp().args(["scan", "--targets-file"]).arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
    // Not a report.
    let j = dir.path().join("x.json");
    std::fs::write(&j, "{\"hello\": 1}").unwrap();
    let o = rapp().args(["scan", "diff"]).arg(&j).arg(&j).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a qsafe scan report"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_a_rustls_server_and_diffs_reports() {
    let pqc = spawn(ServerProfile::FullPqc).await.unwrap();
    let classical = spawn(ServerProfile::Classical).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Table on stdout.
    let mut c = rapp();
    c.args(["scan", &pqc.target(), &classical.target(), "--timeout", "5", "-q"]);
    let o = run(c).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    let pqc_row = table.lines().find(|l| l.starts_with(&pqc.target())).unwrap();
    assert!(
        pqc_row.contains("full-pqc") && pqc_row.contains("X25519MLKEM768") && pqc_row.contains("mldsa65"),
        "{table}"
    );
    let cl_row = table.lines().find(|l| l.starts_with(&classical.target())).unwrap();
    assert!(cl_row.contains("quantum-vulnerable"), "{table}");
    assert!(table.contains("2 endpoints: 1 full-pqc, 0 hybrid-kex-only, 1 quantum-vulnerable"), "{table}");

    // JSON via the global --json, to a file; targets from stdin.
    let old = dir.path().join("old.json");
    let mut c = rapp();
    c.args(["--json", "scan", "--targets-file", "-", "--no-legacy", "-o"]).arg(&old);
    c.write_stdin(format!("# two\n{}\n", pqc.target()));
    let o = run(c).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report: ScanReport = serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    assert_eq!(report.tool.name, "qsafe-rapp");
    assert_eq!(report.endpoints.len(), 1);
    assert_eq!(report.endpoints[0].classification, Classification::FullPqc);

    // CBOM.
    let mut c = rapp();
    c.args(["scan", &pqc.target(), "--format", "cbom", "-q"]);
    let o = run(c).await;
    let cbom: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(cbom["bomFormat"], "CycloneDX");
    assert_eq!(cbom["specVersion"], "1.6");

    // --fail-on: the classical endpoint trips it (exit 3), the full-PQC one does not.
    let mut c = rapp();
    c.args(["scan", &classical.target(), "--fail-on", "quantum-vulnerable", "-q", "--format", "json"]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains(&classical.target()));
    let mut c = rapp();
    c.args(["scan", &pqc.target(), "--fail-on", "hybrid-kex-only", "-q"]);
    assert_eq!(run(c).await.status.code(), Some(0));

    // Diff: the same endpoint now classical (a "regression"), plus an added endpoint.
    let new = dir.path().join("new.json");
    let mut changed = report.clone();
    changed.endpoints[0].classification = Classification::QuantumVulnerable;
    std::fs::write(&new, serde_json::to_string(&changed).unwrap()).unwrap();
    let o = rapp().args(["scan", "diff"]).arg(&old).arg(&new).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("1 regressed"), "{}", stdout(&o));
    let o = rapp().args(["scan", "diff", "--exit-code", "--format", "json"]).arg(&old).arg(&new).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(d["summary"]["regressed"], 1);
    let o = rapp().args(["scan", "diff", "--exit-code"]).arg(&old).arg(&old).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}
