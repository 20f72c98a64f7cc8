//! `qsafe-e2ap` — inspect, convert and build E2AP v03.01 / E2SM-KPM v03.00 PDUs.
//!
//! A thin front end over `qsafe-asn1`: APER in, X.697 JER out (and back), so
//! a captured E2 PDU can be read, edited as JSON and re-encoded.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qsafe_asn1::e2ap::E2apPdu;
use qsafe_asn1::kpm::KpmPayloadKind;

#[derive(Parser)]
#[command(
    name = "qsafe-e2ap",
    version,
    about = "Inspect, convert and build O-RAN E2AP v03.01 / E2SM-KPM v03.00 PDUs (APER <-> JSON)",
    long_about = "Inspect, convert and build O-RAN E2AP v03.01 and E2SM-KPM v03.00 PDUs.\n\n\
        PDUs are read as APER, either raw binary or hex text (whitespace ignored; detected\n\
        automatically), and shown as X.697 JSON encoding rules (JER) with every IE value\n\
        decoded. `encode` takes that JSON back to APER, so a capture can be edited and replayed.",
    after_help = "Examples:\n  \
        qsafe-e2ap decode capture.hex              # E2AP-PDU -> JSON\n  \
        qsafe-e2ap decode --kpm IndicationMessage msg.bin\n  \
        qsafe-e2ap decode pdu.hex | qsafe-e2ap encode -   # round trip, prints hex\n  \
        qsafe-e2ap demo                             # walk through an E2 session's PDUs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an APER PDU (hex or binary) and print its JSON (JER) view.
    Decode {
        /// Input file; `-` or nothing reads standard input.
        input: Option<PathBuf>,
        /// Decode an E2SM-KPM payload instead of an E2AP-PDU: RANfunction-Description,
        /// EventTriggerDefinition, ActionDefinition, IndicationHeader or IndicationMessage.
        #[arg(long, value_name = "TYPE")]
        kpm: Option<String>,
        /// One line of JSON instead of pretty-printed.
        #[arg(long)]
        compact: bool,
    },
    /// Encode a JSON (JER) view back to APER; prints hex unless --binary.
    Encode {
        /// Input file with the JSON; `-` or nothing reads standard input.
        input: Option<PathBuf>,
        /// Encode an E2SM-KPM payload of this type (see `decode --kpm`).
        #[arg(long, value_name = "TYPE")]
        kpm: Option<String>,
        /// Write raw APER bytes to standard output instead of hex.
        #[arg(long)]
        binary: bool,
    },
    /// Build the PDUs of a typical E2 session (setup, KPM subscription,
    /// indications with REAL values, control, errors) and show each one.
    Demo,
}

fn read_input(input: &Option<PathBuf>) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    match input.as_deref() {
        None => std::io::stdin().read_to_end(&mut buf).map(|_| ()),
        Some(p) if p.as_os_str() == "-" => std::io::stdin().read_to_end(&mut buf).map(|_| ()),
        Some(p) => std::fs::read(p).map(|b| buf = b),
    }
    .map_err(|e| {
        format!("reading {}: {e}", input.as_ref().map_or("standard input".into(), |p| p.display().to_string()))
    })?;
    Ok(buf)
}

/// Hex text if every byte is a hex digit or whitespace (and there is at least one digit).
fn pdu_bytes(raw: Vec<u8>) -> Result<Vec<u8>, String> {
    let is_hex =
        raw.iter().any(u8::is_ascii_hexdigit) && raw.iter().all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace());
    if !is_hex {
        return Ok(raw);
    }
    let digits: Vec<u8> = raw.into_iter().filter(u8::is_ascii_hexdigit).collect();
    hex::decode(&digits).map_err(|e| format!("input looks like hex but is not: {e}"))
}

fn kpm_kind(name: &str) -> Result<KpmPayloadKind, String> {
    KpmPayloadKind::from_name(name).ok_or_else(|| {
        let names: Vec<_> = KpmPayloadKind::ALL.iter().map(|k| k.asn1_name()).collect();
        format!("unknown KPM payload type {name:?}; one of: {}", names.join(", "))
    })
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Decode { input, kpm, compact } => {
            let bytes = pdu_bytes(read_input(&input)?)?;
            let jer = match kpm {
                Some(t) => kpm_kind(&t)?.decode_to_jer(&bytes).map_err(|e| e.to_string())?,
                None => {
                    let (pdu, report) = E2apPdu::decode_with_report(&bytes).map_err(|e| e.to_string())?;
                    for s in &report.skipped {
                        eprintln!(
                            "note: {}: skipped unknown IE id {} (criticality {:?}, {} bytes)",
                            s.message, s.id, s.criticality, s.len
                        );
                    }
                    pdu.to_jer().map_err(|e| e.to_string())?
                }
            };
            let text = if compact {
                jer.to_string()
            } else {
                serde_json::to_string_pretty(&jer).map_err(|e| e.to_string())?
            };
            println!("{text}");
        }
        Command::Encode { input, kpm, binary } => {
            let raw = read_input(&input)?;
            let jer: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| format!("input is not JSON: {e}"))?;
            let bytes = match kpm {
                Some(t) => kpm_kind(&t)?.encode_from_jer(&jer).map_err(|e| e.to_string())?,
                None => E2apPdu::from_jer(&jer).and_then(|p| p.encode()).map_err(|e| e.to_string())?,
            };
            let mut out = std::io::stdout().lock();
            if binary {
                out.write_all(&bytes).map_err(|e| e.to_string())?;
            } else {
                writeln!(out, "{}", hex::encode(bytes)).map_err(|e| e.to_string())?;
            }
        }
        Command::Demo => qsafe_tools::e2ap_demo::run()?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qsafe-e2ap: {e}");
            ExitCode::FAILURE
        }
    }
}
