//! The `qsafe-e2ap` binary as a user runs it.

use assert_cmd::Command;
use qsafe_asn1::e2ap::E2apPdu;

fn bin() -> Command {
    Command::cargo_bin("qsafe-e2ap").expect("binary built")
}

fn setup_hex() -> String {
    let step = qsafe_tools::e2ap_demo::session().expect("session").remove(0);
    hex::encode(step.pdu.encode().expect("encode"))
}

#[test]
fn decode_then_encode_round_trips_through_json() {
    let hex_in = setup_hex();
    let out = bin().arg("decode").write_stdin(hex_in.clone()).assert().success().get_output().stdout.clone();
    let jer: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(jer["initiatingMessage"]["procedureCode"], 1);
    let back = bin().arg("encode").write_stdin(out).assert().success().get_output().stdout.clone();
    assert_eq!(String::from_utf8(back).expect("utf8").trim(), hex_in);
}

#[test]
fn binary_input_is_accepted() {
    let bytes = hex::decode(setup_hex()).expect("hex");
    bin().args(["decode", "--compact"]).write_stdin(bytes).assert().success();
}

#[test]
fn garbage_is_a_clear_error_with_exit_code_1() {
    let out = bin().arg("decode").write_stdin("ff00ff").assert().code(1).get_output().stderr.clone();
    let msg = String::from_utf8(out).expect("utf8");
    assert!(msg.starts_with("qsafe-e2ap: E2AP-PDU:"), "{msg}");
    bin().arg("decode").write_stdin("abc").assert().code(1); // odd number of hex digits
    bin().arg("encode").write_stdin("{not json").assert().code(1);
    bin().args(["decode", "--kpm", "NoSuchType"]).write_stdin("00").assert().code(1);
}

#[test]
fn kpm_payloads_decode_by_type_name() {
    use qsafe_asn1::kpm::{self, KpmPayload};
    let trigger = hex::encode(kpm::periodic_trigger(500).encode_aper().expect("encode"));
    let out = bin()
        .args(["decode", "--compact", "--kpm", "EventTriggerDefinition"])
        .write_stdin(trigger.clone())
        .assert()
        .success();
    let jer: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(jer["eventDefinition-formats"]["eventDefinition-Format1"]["reportingPeriod"], 500);
    let back = bin()
        .args(["encode", "--kpm", "E2SM-KPM-EventTriggerDefinition"])
        .write_stdin(out.get_output().stdout.clone())
        .assert()
        .success();
    assert_eq!(String::from_utf8_lossy(&back.get_output().stdout).trim(), trigger);
}

#[test]
fn help_teaches() {
    let out = bin().arg("--help").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).expect("utf8");
    for needle in ["decode", "encode", "demo", "Examples:"] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn demo_runs() {
    let out = bin().arg("demo").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains("RICindication") && text.contains("87.25"));
    assert!(E2apPdu::decode(&hex::decode(setup_hex()).expect("hex")).is_ok());
}
