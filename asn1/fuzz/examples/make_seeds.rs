//! Writes the seed corpus of the fuzz targets to `asn1/fuzz/seeds/<target>/`.
//!
//! ```text
//! cargo run --manifest-path asn1/fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! Every seed is built with the typed layer (`qsafe_asn1::e2ap::build`, the
//! KPM helpers and the generated KPM types), encoded, and checked to decode
//! back to the same value before it is written, so the corpus starts from
//! valid, varied messages. The output is deterministic: re-running the
//! generator reproduces the committed files byte for byte.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use qsafe_asn1::e2ap::{self, E2apPdu, SubscriptionDetails, build};
use qsafe_asn1::e2ap_asn as e2;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_asn1::kpm_asn as k;
use qsafe_asn1::real;
use rasn::types::{BitString, FixedBitString, FixedOctetString, Integer, PrintableString};

type Res<T> = Result<T, Box<dyn Error>>;

fn ps(s: &str) -> Res<PrintableString> {
    Ok(PrintableString::try_from(s.to_string())?)
}

fn bits(value: u64, len: usize) -> BitString {
    (0..len).rev().map(|i| (value >> i) & 1 == 1).collect()
}

// ------------------------------------------------------------------ KPM

fn kpm_plmn() -> k::PLMNIdentity {
    k::PLMNIdentity(FixedOctetString::new([0x00, 0xF1, 0x10]))
}

fn nr_cgi() -> k::CGI {
    let mut cell = FixedBitString::<36>::ZERO;
    for i in [3, 7, 20, 35] {
        cell.set(i, true);
    }
    k::CGI::nR_CGI(k::NRCGI::new(kpm_plmn(), k::NRCellIdentity(cell)))
}

fn gnb_du_ueid() -> k::UEID {
    k::UEID::gNB_DU_UEID(k::UEIDGNBDU::new(k::GNBCUUEF1APID(4711), Some(k::RANUEID(FixedOctetString::new(*b"ue-00042")))))
}

fn gnb_ueid() -> k::UEID {
    let guami = k::GUAMI::new(
        kpm_plmn(),
        k::AMFRegionID(FixedBitString::<8>::new([0x80, 0, 0, 0, 0, 0, 0, 0])),
        k::AMFSetID(FixedBitString::<10>::new([0x01, 0x40, 0, 0, 0, 0, 0, 0, 0, 0])),
        k::AMFPointer(FixedBitString::<6>::new([0x04, 0, 0, 0, 0, 0])),
    );
    k::UEID::gNB_UEID(k::UEIDGNB::new(k::AMFUENGAPID(1_099_511_627_775), guami, None, None, None, None, None, None))
}

#[allow(clippy::too_many_arguments)]
fn label(slice: bool, five_qi: Option<i64>, avg: bool) -> k::MeasurementLabel {
    k::MeasurementLabel::new(
        (!slice && five_qi.is_none() && !avg).then_some(k::MeasurementLabelNoLabel::R_true),
        slice.then(kpm_plmn),
        slice.then(|| k::SNSSAI::new(k::SST(FixedOctetString::new([1])), Some(k::SD(FixedOctetString::new([0, 0, 1]))))),
        five_qi.map(|q| k::FiveQI(Integer::from(q))),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        avg.then_some(k::MeasurementLabelAvg::R_true),
        None,
        None,
        None,
    )
}

fn meas_info(names: &[&str]) -> Res<k::MeasurementInfoList> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let labels = vec![k::LabelInfoItem::new(label(i % 2 == 1, (i == 2).then_some(9), i == 0))];
            Ok(k::MeasurementInfoItem::new(
                k::MeasurementType::measName(k::MeasurementTypeName(ps(n)?)),
                k::LabelInfoList(labels),
            ))
        })
        .collect::<Res<Vec<_>>>()
        .map(k::MeasurementInfoList)
}

fn meas_data() -> k::MeasurementData {
    k::MeasurementData(vec![
        k::MeasurementDataItem::new(
            k::MeasurementRecord(vec![
                k::MeasurementRecordItem::integer(123_456),
                kpm::record_real(1.5),
                k::MeasurementRecordItem::noValue(()),
            ]),
            None,
        ),
        k::MeasurementDataItem::new(
            k::MeasurementRecord(vec![kpm::record_real(-0.1), k::MeasurementRecordItem::integer(0)]),
            Some(k::MeasurementDataItemIncompleteFlag::R_true),
        ),
    ])
}

fn ran_function_description() -> Res<k::E2SMKPMRANfunctionDescription> {
    let actions = vec![
        k::MeasurementInfoActionItem::new(k::MeasurementTypeName(ps("DRB.UEThpDl")?), Some(k::MeasurementTypeID(Integer::from(1))), None),
        k::MeasurementInfoActionItem::new(k::MeasurementTypeName(ps("RRU.PrbUsedDl")?), None, None),
    ];
    Ok(k::E2SMKPMRANfunctionDescription::new(
        k::RANfunctionName::new(ps(kpm::RAN_FUNCTION_SHORT_NAME)?, ps(kpm::RAN_FUNCTION_OID)?, ps("KPM Monitor")?, Some(Integer::from(1))),
        Some(vec![k::RICEventTriggerStyleItem::new(
            k::RICStyleType(Integer::from(1)),
            k::RICStyleName(ps("Periodic Report")?),
            k::RICFormatType(Integer::from(1)),
        )]),
        Some(vec![k::RICReportStyleItem::new(
            k::RICStyleType(Integer::from(1)),
            k::RICStyleName(ps("E2 Node Measurement")?),
            k::RICFormatType(Integer::from(1)),
            k::MeasurementInfoActionList(actions),
            k::RICFormatType(Integer::from(1)),
            k::RICFormatType(Integer::from(1)),
        )]),
    ))
}

fn action_format1(names: &[&str], with_cell: bool) -> Res<k::E2SMKPMActionDefinitionFormat1> {
    Ok(k::E2SMKPMActionDefinitionFormat1::new(meas_info(names)?, k::GranularityPeriod(1000), with_cell.then(nr_cgi), None))
}

fn action_definitions() -> Res<Vec<(&'static str, k::E2SMKPMActionDefinition)>> {
    use k::E2SMKPMActionDefinitionActionDefinitionFormats as F;
    let cond = k::MeasurementCondItem::new(
        k::MeasurementType::measID(k::MeasurementTypeID(Integer::from(7))),
        k::MatchingCondList(vec![
            k::MatchingCondItem::new(k::MatchingCondItemChoice::measLabel(label(true, None, false)), Some(k::LogicalOR::R_true)),
            k::MatchingCondItem::new(
                k::MatchingCondItemChoice::testCondInfo(k::TestCondInfo::new(
                    k::TestCondType::rSRP(k::TestCondTypeRSRP::R_true),
                    Some(k::TestCondExpression::greaterthan),
                    Some(k::TestCondValue::valueReal(real::encode(-95.5).into())),
                )),
                None,
            ),
        ]),
        None,
    );
    Ok(vec![
        ("format1", k::E2SMKPMActionDefinition::new(k::RICStyleType(Integer::from(1)), F::actionDefinition_Format1(action_format1(&["DRB.UEThpDl", "RRU.PrbUsedDl", "DRB.RlcSduDelayDl"], true)?))),
        (
            "format2",
            k::E2SMKPMActionDefinition::new(
                k::RICStyleType(Integer::from(2)),
                F::actionDefinition_Format2(k::E2SMKPMActionDefinitionFormat2::new(gnb_ueid(), action_format1(&["DRB.UEThpUl"], false)?)),
            ),
        ),
        (
            "format3",
            k::E2SMKPMActionDefinition::new(
                k::RICStyleType(Integer::from(3)),
                F::actionDefinition_Format3(k::E2SMKPMActionDefinitionFormat3::new(k::MeasurementCondList(vec![cond]), k::GranularityPeriod(100), Some(nr_cgi()))),
            ),
        ),
        (
            "format4",
            k::E2SMKPMActionDefinition::new(
                k::RICStyleType(Integer::from(4)),
                F::actionDefinition_Format4(k::E2SMKPMActionDefinitionFormat4::new(
                    k::MatchingUeCondPerSubList(vec![k::MatchingUeCondPerSubItem::new(
                        k::TestCondInfo::new(k::TestCondType::cQI(k::TestCondTypeCQI::R_true), Some(k::TestCondExpression::lessthan), Some(k::TestCondValue::valueInt(Integer::from(5)))),
                        None,
                    )]),
                    action_format1(&["DRB.UEThpDl"], false)?,
                )),
            ),
        ),
        (
            "format5",
            k::E2SMKPMActionDefinition::new(
                k::RICStyleType(Integer::from(5)),
                F::actionDefinition_Format5(k::E2SMKPMActionDefinitionFormat5::new(
                    k::MatchingUEidPerSubList(vec![k::MatchingUEidPerSubItem::new(gnb_du_ueid()), k::MatchingUEidPerSubItem::new(gnb_ueid())]),
                    action_format1(&["DRB.UEThpDl"], false)?,
                )),
            ),
        ),
    ])
}

fn indication_header() -> Res<k::E2SMKPMIndicationHeader> {
    Ok(k::E2SMKPMIndicationHeader::new(k::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(
        k::E2SMKPMIndicationHeaderFormat1::new(
            k::TimeStamp(FixedOctetString::new([0xE9, 0x6B, 0x2E, 0x40, 0x80, 0, 0, 0])),
            Some(ps("v3.00")?),
            Some(ps("gnb-du-1")?),
            Some(ps("DU")?),
            Some(ps("qsafe")?),
        ),
    )))
}

fn indication_messages() -> Res<Vec<(&'static str, k::E2SMKPMIndicationMessage)>> {
    use k::E2SMKPMIndicationMessageIndicationMessageFormats as F;
    let f1 = k::E2SMKPMIndicationMessageFormat1::new(meas_data(), Some(meas_info(&["DRB.UEThpDl", "RRU.PrbUsedDl", "DRB.RlcSduDelayDl"])?), Some(k::GranularityPeriod(1000)));
    let f2 = k::E2SMKPMIndicationMessageFormat2::new(
        meas_data(),
        k::MeasurementCondUEidList(vec![k::MeasurementCondUEidItem::new(
            k::MeasurementType::measName(k::MeasurementTypeName(ps("DRB.UEThpDl")?)),
            k::MatchingCondList(vec![k::MatchingCondItem::new(k::MatchingCondItemChoice::measLabel(label(false, Some(9), false)), None)]),
            Some(k::MatchingUEidList(vec![k::MatchingUEidItem::new(gnb_du_ueid())])),
            None,
        )]),
        None,
    );
    let f3 = k::E2SMKPMIndicationMessageFormat3::new(k::UEMeasurementReportList(vec![k::UEMeasurementReportItem::new(gnb_du_ueid(), f1.clone())]));
    Ok(vec![
        ("format1", k::E2SMKPMIndicationMessage::new(F::indicationMessage_Format1(f1))),
        ("format2", k::E2SMKPMIndicationMessage::new(F::indicationMessage_Format2(f2))),
        ("format3", k::E2SMKPMIndicationMessage::new(F::indicationMessage_Format3(f3))),
    ])
}

fn kpm_seed<T: KpmPayload + PartialEq + std::fmt::Debug>(selector: u8, value: &T) -> Res<Vec<u8>> {
    let bytes = value.encode_aper()?;
    let back = T::decode_aper(&bytes)?;
    if &back != value {
        return Err(format!("{}: seed does not round-trip", T::NAME).into());
    }
    Ok([&[selector][..], &bytes].concat())
}

// ------------------------------------------------------------------ E2AP

fn e2ap_seeds() -> Res<Vec<(String, E2apPdu)>> {
    let plmn = build::plmn("001", "01")?;
    let node = build::gnb_node_id(plmn.clone(), 0xE000, 28)?;
    let kpm_def = ran_function_description()?.encode_aper()?;
    let ran_fn = build::ran_function(2, 1, kpm::RAN_FUNCTION_OID, &kpm_def)?;
    let du = build::f1_component(7, b"f1 setup request", b"f1 setup response")?;
    let trigger = kpm::periodic_trigger(1000).encode_aper()?;
    let action_def = match action_definitions()?.into_iter().next() {
        Some((_, a)) => a.encode_aper()?,
        None => return Err("no action definition".into()),
    };
    let header = indication_header()?.encode_aper()?;
    let message = match indication_messages()?.into_iter().next() {
        Some((_, m)) => m.encode_aper()?,
        None => return Err("no indication message".into()),
    };
    let rid = build::request_id(1001, 1);
    let cause_misc = e2::Cause::misc(e2::CauseMisc::unspecified);
    let diag = e2::CriticalityDiagnostics::new(
        Some(e2::ProcedureCode(8)),
        Some(e2::TriggeringMessage::initiating_message),
        Some(e2::Criticality::reject),
        Some(rid.clone()),
        Some(e2::CriticalityDiagnosticsIEList(vec![e2::CriticalityDiagnosticsIEItem::new(
            e2::Criticality::reject,
            e2::ProtocolIEID(30),
            e2::TypeOfError::missing,
        )])),
    );

    let pdus: Vec<(&str, E2apPdu)> = vec![
        (
            "e2setup_request",
            e2ap::E2SetupRequest {
                transaction_id: build::transaction_id(1),
                global_e2_node_id: node.clone(),
                ran_functions: vec![ran_fn.clone()],
                component_config_addition: vec![du.clone()],
            }
            .into(),
        ),
        (
            "e2setup_response",
            e2ap::E2SetupResponse {
                transaction_id: build::transaction_id(1),
                global_ric_id: build::ric_id(plmn.clone(), 0xABCDE)?,
                ran_functions_accepted: Some(vec![e2::RANfunctionIDItem::new(e2::RANfunctionID(2), e2::RANfunctionRevision(1))]),
                ran_functions_rejected: None,
                component_config_addition_ack: vec![build::component_ack(&du)],
            }
            .into(),
        ),
        (
            "e2setup_failure",
            e2ap::E2SetupFailure {
                transaction_id: build::transaction_id(1),
                cause: e2::Cause::ricService(e2::CauseRICservice::ran_function_not_supported),
                time_to_wait: Some(e2::TimeToWait::v10s),
                criticality_diagnostics: None,
                tnl_information: Some(e2::TNLinformation::new(bits(0x0A00_0001, 32), Some(bits(36421, 16)))),
            }
            .into(),
        ),
        (
            "ric_subscription_request",
            e2ap::RicSubscriptionRequest {
                ric_request_id: rid.clone(),
                ran_function_id: e2::RANfunctionID(2),
                details: SubscriptionDetails {
                    event_trigger_definition: trigger,
                    actions: vec![
                        build::action(1, e2::RICactionType::report, Some(&action_def)),
                        e2::RICactionToBeSetupItem::new(
                            e2::RICactionID(2),
                            e2::RICactionType::insert,
                            None,
                            Some(e2::RICsubsequentAction::new(e2::RICsubsequentActionType::wait, e2::RICtimeToWait::w10ms)),
                            None,
                        ),
                    ],
                },
                start_time: Some(e2::RICsubscriptionTime(FixedOctetString::new([0xE9, 0x6B, 0x2E, 0x40, 0, 0, 0, 0]))),
                end_time: None,
            }
            .into(),
        ),
        (
            "ric_subscription_response",
            e2ap::RicSubscriptionResponse {
                ric_request_id: rid.clone(),
                ran_function_id: e2::RANfunctionID(2),
                actions_admitted: vec![e2::RICactionAdmittedItem::new(e2::RICactionID(1))],
                actions_not_admitted: Some(vec![e2::RICactionNotAdmittedItem::new(
                    e2::RICactionID(2),
                    e2::Cause::ricRequest(e2::CauseRICrequest::action_not_supported),
                )]),
            }
            .into(),
        ),
        (
            "ric_subscription_delete_request",
            e2ap::RicSubscriptionDeleteRequest { ric_request_id: rid.clone(), ran_function_id: e2::RANfunctionID(2) }.into(),
        ),
        (
            "ric_subscription_delete_required",
            e2ap::RicSubscriptionDeleteRequired {
                subscriptions: vec![e2::RICsubscriptionWithCauseItem::new(rid.clone(), e2::RANfunctionID(2), cause_misc.clone())],
            }
            .into(),
        ),
        (
            "ric_indication",
            e2ap::RicIndication {
                ric_request_id: rid.clone(),
                ran_function_id: e2::RANfunctionID(2),
                action_id: e2::RICactionID(1),
                sn: Some(e2::RICindicationSN(17)),
                indication_type: e2::RICindicationType::report,
                header: e2::RICindicationHeader(header.into()),
                message: e2::RICindicationMessage(message.into()),
                call_process_id: None,
            }
            .into(),
        ),
        (
            "ric_control_request",
            e2ap::RicControlRequest {
                ric_request_id: build::request_id(1002, 9),
                ran_function_id: e2::RANfunctionID(3),
                call_process_id: Some(e2::RICcallProcessID(b"cp-1".to_vec().into())),
                header: e2::RICcontrolHeader(b"\x00\x01ctl-hdr".to_vec().into()),
                message: e2::RICcontrolMessage(b"\x10\x20ctl-msg".to_vec().into()),
                ack_request: Some(e2::RICcontrolAckRequest::ack),
            }
            .into(),
        ),
        (
            "ric_control_failure",
            e2ap::RicControlFailure {
                ric_request_id: build::request_id(1002, 9),
                ran_function_id: e2::RANfunctionID(3),
                call_process_id: None,
                cause: e2::Cause::ricRequest(e2::CauseRICrequest::request_id_unknown),
                outcome: Some(e2::RICcontrolOutcome(b"nope".to_vec().into())),
                criticality_diagnostics: None,
            }
            .into(),
        ),
        (
            "error_indication",
            e2ap::ErrorIndication {
                transaction_id: None,
                ric_request_id: Some(rid.clone()),
                ran_function_id: Some(e2::RANfunctionID(2)),
                cause: Some(e2::Cause::protocol(e2::CauseProtocol::transfer_syntax_error)),
                criticality_diagnostics: Some(diag),
            }
            .into(),
        ),
        (
            "reset_request",
            e2ap::ResetRequest { transaction_id: build::transaction_id(7), cause: cause_misc }.into(),
        ),
        (
            "ric_service_update",
            e2ap::RicServiceUpdate {
                transaction_id: build::transaction_id(3),
                ran_functions_added: Some(vec![build::ran_function(4, 1, "1.3.6.1.4.1.53148.1.1.2.3", b"rc-def")?]),
                ran_functions_modified: Some(vec![ran_fn]),
                ran_functions_deleted: Some(vec![e2::RANfunctionIDItem::new(e2::RANfunctionID(5), e2::RANfunctionRevision(2))]),
            }
            .into(),
        ),
        (
            "e2node_configuration_update",
            e2ap::E2NodeConfigurationUpdate {
                transaction_id: build::transaction_id(4),
                global_e2_node_id: Some(node),
                component_config_addition: None,
                component_config_update: Some(vec![e2::E2nodeComponentConfigUpdateItem::new(
                    du.e2node_component_interface_type,
                    du.e2node_component_id.clone(),
                    du.e2node_component_configuration.clone(),
                )]),
                component_config_removal: Some(vec![e2::E2nodeComponentConfigRemovalItem::new(du.e2node_component_interface_type, du.e2node_component_id.clone())]),
                tnl_association_removal: Some(vec![e2::E2nodeTNLassociationRemovalItem::new(
                    e2::TNLinformation::new(bits(0x0A00_0002, 32), None),
                    e2::TNLinformation::new(bits(0x0A00_0003, 32), Some(bits(36422, 16))),
                )]),
            }
            .into(),
        ),
    ];
    Ok(pdus.into_iter().map(|(n, p)| (n.to_string(), p)).collect())
}

// ------------------------------------------------------------------ REAL

fn real_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("one_and_a_half", real::encode(1.5)),
        ("minus_tenth", real::encode(-0.1)),
        ("subnormal_min", real::encode(5e-324)),
        ("max", real::encode(f64::MAX)),
        ("plus_infinity", real::encode(f64::INFINITY)),
        ("minus_zero", real::encode(-0.0)),
        ("nan", real::encode(f64::NAN)),
        // base 8 and base 16 with a scaling factor (non-canonical, still valid X.690)
        ("base8", vec![0x90, 0x01, 0x03]),
        ("base16_scaled", vec![0xA4, 0xFF, 0x08]),
        // long-form exponent (exponent length octet), two-octet exponent
        ("long_exponent", vec![0x83, 0x02, 0x01, 0x00, 0x05]),
        // ISO 6093 NR3 decimal
        ("decimal_nr3", b"\x0315E-1".to_vec()),
    ]
}

/// regressions/real_decode/real_zero_mantissa_huge_exponent_hang.bin:
/// binary, base 16, F=3, 7-octet exponent 0x30000000000000, empty mantissa.
const REAL_HANG: [u8; 9] = [0xAF, 0x07, 0x30, 0, 0, 0, 0, 0, 0];

// ------------------------------------------------------------------ output

fn unhex(s: &str) -> Res<Vec<u8>> {
    if s.len() % 2 != 0 {
        return Err("odd hex length".into());
    }
    (0..s.len()).step_by(2).map(|i| Ok(u8::from_str_radix(&s[i..i + 2], 16)?)).collect()
}

fn e2sm_qkd_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    use qsafe_asn1::e2sm_qkd::*;
    fn check<T: E2smQkdPayload>(bytes: &[u8]) -> Res<()> {
        let v = T::decode(bytes)?;
        if v.encode()? != bytes {
            return Err(format!("{}: seed does not re-encode identically", T::NAME).into());
        }
        Ok(())
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/e2sm-qkd/vectors.json");
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path)?)?;
    let mut seeds = Vec::new();
    for v in doc["vectors"].as_array().ok_or("vectors.json: no vectors")? {
        let (name, ty) = (v["name"].as_str().ok_or("no name")?, v["type"].as_str().ok_or("no type")?);
        let bytes = unhex(v["hex"].as_str().ok_or("no hex")?)?;
        let selector: u8 = match ty {
            RanFunctionDefinition::NAME => check::<RanFunctionDefinition>(&bytes).map(|_| 0)?,
            EventTrigger::NAME => check::<EventTrigger>(&bytes).map(|_| 1)?,
            ActionDefinition::NAME => check::<ActionDefinition>(&bytes).map(|_| 2)?,
            IndicationHeader::NAME => check::<IndicationHeader>(&bytes).map(|_| 3)?,
            IndicationMessage::NAME => check::<IndicationMessage>(&bytes).map(|_| 4)?,
            ControlHeader::NAME => check::<ControlHeader>(&bytes).map(|_| 5)?,
            ControlMessage::NAME => check::<ControlMessage>(&bytes).map(|_| 6)?,
            ControlOutcome::NAME => check::<ControlOutcome>(&bytes).map(|_| 7)?,
            other => return Err(format!("vectors.json: unknown type {other}").into()),
        };
        seeds.push((format!("{selector}_{name}"), [&[selector][..], &bytes].concat()));
        if ty == ControlMessage::NAME {
            // decode_control: selector 8, header length, header, message.
            let msg = ControlMessage::decode(&bytes)?;
            let header = ControlHeader::for_message(&msg).encode()?;
            let len = u8::try_from(header.len())?;
            seeds.push((format!("8_control_{name}"), [&[8, len][..], &header, &bytes].concat()));
        }
    }
    Ok(seeds)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Res<()> {
    fs::write(dir.join(name), bytes)?;
    println!("{:>5} bytes  {}", bytes.len(), dir.join(name).display());
    Ok(())
}

fn fresh_dir(root: &Path, target: &str) -> Res<PathBuf> {
    let dir = root.join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");

    let dir = fresh_dir(&root, "e2ap_pdu_decode")?;
    for (name, pdu) in e2ap_seeds()? {
        let bytes = pdu.encode()?;
        let back = E2apPdu::decode(&bytes)?;
        if back != pdu {
            return Err(format!("{name}: seed does not round-trip").into());
        }
        write(&dir, &format!("{name}.aper"), &bytes)?;
    }

    let dir = fresh_dir(&root, "kpm_decode")?;
    write(&dir, "0_ran_function_description.bin", &kpm_seed(0, &ran_function_description()?)?)?;
    write(&dir, "1_event_trigger.bin", &kpm_seed(1, &kpm::periodic_trigger(1000))?)?;
    for (name, def) in action_definitions()? {
        write(&dir, &format!("2_action_definition_{name}.bin"), &kpm_seed(2, &def)?)?;
    }
    write(&dir, "3_indication_header.bin", &kpm_seed(3, &indication_header()?)?)?;
    for (name, msg) in indication_messages()? {
        write(&dir, &format!("4_indication_message_{name}.bin"), &kpm_seed(4, &msg)?)?;
    }

    // E2SM-QKD: the pycrate vectors pinned for asn1/tests/e2sm_qkd.rs
    // (written by tests/conformance/e2sm_qkd_xcheck.py --write-vectors),
    // each behind its selector byte.
    let dir = fresh_dir(&root, "e2sm_qkd_decode")?;
    for (name, bytes) in e2sm_qkd_seeds()? {
        write(&dir, &format!("{name}.bin"), &bytes)?;
    }

    let dir = fresh_dir(&root, "real_decode")?;
    for (name, bytes) in real_seeds() {
        real::decode(&bytes).map_err(|e| format!("{name}: {e}"))?;
        write(&dir, &format!("{name}.bin"), &bytes)?;
    }

    // The real_decode finding (zero mantissa, huge exponent: `ldexp` loops for
    // hours) as it arrives from an E2 node: inside an E2SM-KPM indication
    // message, read with `kpm::record_value`. Not decoded here (it hangs).
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("regressions").join("kpm_decode");
    fs::create_dir_all(&dir)?;
    let hang = k::E2SMKPMIndicationMessage::new(k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
        k::E2SMKPMIndicationMessageFormat1::new(
            k::MeasurementData(vec![k::MeasurementDataItem::new(
                k::MeasurementRecord(vec![k::MeasurementRecordItem::real(REAL_HANG.to_vec().into())]),
                None,
            )]),
            None,
            None,
        ),
    ));
    write(&dir, "real_zero_mantissa_huge_exponent_hang.bin", &kpm_seed(4, &hang)?)?;

    // The e2ap_pdu_decode finding, minimal: an ErrorIndication whose only IE
    // is a TransactionID extension value of 2^64. APER accepts it (the range
    // 0..255 is extensible); the JER view cannot show it.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("regressions").join("e2ap_pdu_decode");
    fs::create_dir_all(&dir)?;
    let pdu = E2apPdu::from(e2ap::ErrorIndication {
        transaction_id: Some(e2::TransactionID(Integer::from(1i128 << 64))),
        ric_request_id: None,
        ran_function_id: None,
        cause: None,
        criticality_diagnostics: None,
    });
    let bytes = pdu.encode()?;
    if E2apPdu::decode(&bytes)? != pdu || pdu.to_jer().is_ok() {
        return Err("transaction id regression no longer reproduces".into());
    }
    write(&dir, "transaction_id_2pow64_jer_minimal.aper", &bytes)?;
    Ok(())
}
