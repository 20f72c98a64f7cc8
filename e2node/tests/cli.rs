//! The binary's user interface: --help teaches, bad input fails clearly.

use assert_cmd::Command;

fn e2node() -> Command {
    let mut cmd = Command::cargo_bin("qsafe-e2node").expect("binary");
    // Keep the caller's environment from leaking settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("QSAFE_E2NODE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_teaches() {
    let out = e2node().arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--ric",
        "--nodes",
        "--measurements",
        "--rate",
        "--count",
        "--indication-size",
        "--config",
        "QSAFE_E2NODE_RIC",
        "Examples:",
        "--nodes 100",
        "Config file (TOML",
        "QSAFE.IndicationSeq.Hi",
        "36421",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn bad_config_file_is_reported_with_its_line() {
    let dir = std::env::temp_dir().join(format!("qsafe-e2node-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "ric = \"127.0.0.1\"\nnodes = \"many\"\n").expect("write");
    let out = e2node().arg("--config").arg(&path).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("config file") && err.contains("bad.toml") && err.contains("line 2"), "{err}");

    std::fs::write(&path, "ric = \"127.0.0.1\"\nnodez = 3\n").expect("write");
    let out = e2node().arg("--config").arg(&path).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unknown field") && err.contains("nodez"), "{err}");

    let out = e2node().arg("--config").arg(dir.join("missing.toml")).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read config file"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_are_explained() {
    let out = e2node().output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the RIC address is required"));

    let out = e2node().args(["--ric", "not an address"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid --ric"), "{}", text(&out.stderr));

    let out = e2node().args(["--ric", "10.0.0.1", "--rate", "fast"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"max\""), "{}", text(&out.stderr));

    let out = e2node().args(["--ric", "10.0.0.1", "--nodes", "0"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid --nodes"));

    let out = e2node().args(["--ric", "10.0.0.1", "--measurements", ""]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn flags_override_the_config_file() {
    use clap::Parser;
    use qsafe_e2node::config::{Cli, Settings};
    let dir = std::env::temp_dir().join(format!("qsafe-e2node-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("ok.toml");
    std::fs::write(&path, "ric = \"[fd00::2]\"\nnodes = 7\nrate = \"max\"\ncount = 5\ngnb-id = \"0x200\"\n")
        .expect("write");
    let cli =
        Cli::try_parse_from(["qsafe-e2node", "--config", path.to_str().expect("utf8"), "--count", "9"]).expect("cli");
    let s = Settings::resolve(cli).expect("settings");
    assert_eq!(s.ric, "[fd00::2]:36421".parse().expect("addr"));
    assert_eq!(s.nodes, 7);
    assert_eq!(s.count, Some(9));
    assert_eq!(s.gnb_id, 0x200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keyed_help_and_bad_pki_dir() {
    let out = e2node().arg("--help").output().expect("run");
    let help = text(&out.stdout);
    for needle in ["--keyed", "--pki-dir", "--kme", "--xfrm-broker", "qsafe-kme demo-pki", "E2SM-QKD"] {
        assert!(help.contains(needle), "--help lacks {needle:?}");
    }
    let out =
        e2node().args(["--ric", "127.0.0.1", "--keyed", "--pki-dir", "/nonexistent-qsafe-pki"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent-qsafe-pki/ca.pem"), "{}", text(&out.stderr));
    let out = e2node().args(["--ric", "127.0.0.1", "--keyed"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--pki-dir"), "{}", text(&out.stderr));
}
