//! The binary's user interface: --help teaches, bad input fails clearly, and
//! without kernel SCTP it says so in one line.

use assert_cmd::Command;

fn xapp() -> Command {
    let mut cmd = Command::cargo_bin("qsafe-xapp").expect("binary");
    // Keep the caller's environment from leaking settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("QSAFE_XAPP_") {
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
    let out = xapp().arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--e2-listen",
        "--accept-oid",
        "--kpm-period-ms",
        "--config",
        "QSAFE_XAPP_E2_LISTEN",
        "Examples:",
        "Config file (TOML",
        "[e2]",
        "36421",
        "qsafe-e2node --ric",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_setting() {
    for (args, needle) in [
        (&["--plmn", "001"][..], "invalid --plmn"),
        (&["--ric-id", "9999999"][..], "invalid --ric-id"),
        (&["--config", "/nonexistent/xapp.toml"][..], "cannot read config file"),
    ] {
        let out = xapp().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

/// On a kernel without SCTP (like CI's host; the UML tier has it) the xApp
/// fails at once with the transport's one-line explanation; with SCTP it
/// serves, stops after --duration and prints its JSON summary.
#[test]
fn serves_or_explains_missing_sctp() {
    let out = xapp().args(["--e2-listen", "127.0.0.1:0", "--duration", "0.5"]).output().expect("run");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if stderr.contains("kernel SCTP not available") {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("load the sctp module"), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    } else {
        assert!(out.status.success(), "{stderr}");
        let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON summary");
        assert_eq!(summary["links"], serde_json::json!([]));
        assert_eq!(summary["indications"], 0);
    }
}
