//! Sequenced E2SM-KPM test traffic: what the E2 node simulator
//! (`qsafe-e2node`) puts in its KPM indications so that a RIC-side checker
//! can prove none was lost or reordered and measure latency.
//!
//! `RICindicationSN` is a 16-bit counter per subscription and wraps at
//! 65536, so it cannot prove that 100 000 indications all arrived. Each
//! indication therefore also carries:
//!
//! * **a 64-bit per-node sequence number** in the KPM *indication message*
//!   (Format 1). Its `measInfoList` names the configured measurements
//!   followed by two extra measurements, [`SEQ_HI`] and [`SEQ_LO`]; the
//!   **first** `measData` item's record holds one integer per measurement,
//!   the last two being the high and low 32 bits of the sequence. (Further
//!   `measData` items are padding for `--indication-size`; their records
//!   are all 0xFFFFFFFF.) Any KPM decoder reads it as two ordinary measurements.
//! * **the send time** in the KPM *indication header* (Format 1)
//!   `colletStartTime`, as an 8-octet NTP timestamp (seconds since 1900 in
//!   the first 4 octets, binary fraction in the last 4): the latency of an
//!   indication is its receive time minus this.
//!
//! [`KpmTraffic::build`] makes the header and message; [`read_stamp`] gets
//! the sequence and send time back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use qsafe_asn1::kpm::{self, KpmBuildError, KpmError, KpmPayload};
use qsafe_asn1::kpm_asn as asn;

/// Measurement name of the high 32 bits of the 64-bit sequence number.
pub const SEQ_HI: &str = "QSAFE.IndicationSeq.Hi";
/// Measurement name of the low 32 bits of the 64-bit sequence number.
pub const SEQ_LO: &str = "QSAFE.IndicationSeq.Lo";

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// An 8-octet NTP timestamp of `t`.
pub fn ntp_timestamp(t: SystemTime) -> [u8; 8] {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = (since.as_secs() + NTP_UNIX_OFFSET) as u32;
    let frac = ((u64::from(since.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&secs.to_be_bytes());
    out[4..].copy_from_slice(&frac.to_be_bytes());
    out
}

/// The time an 8-octet NTP timestamp names (NTP era 0, i.e. until 2036).
pub fn from_ntp_timestamp(ts: [u8; 8]) -> SystemTime {
    let secs = u64::from(u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]));
    let frac = u64::from(u32::from_be_bytes([ts[4], ts[5], ts[6], ts[7]]));
    let nanos = (frac * 1_000_000_000) >> 32;
    UNIX_EPOCH + Duration::from_secs(secs.saturating_sub(NTP_UNIX_OFFSET)) + Duration::from_nanos(nanos)
}

/// What [`read_stamp`] finds in a sequenced indication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The node's 64-bit indication sequence number (0, 1, 2, … per node).
    pub seq: u64,
    /// When the node built the indication.
    pub sent_at: SystemTime,
}

impl Stamp {
    /// Time from sending to `now` (zero if the clocks disagree).
    pub fn latency(&self, now: SystemTime) -> Duration {
        now.duration_since(self.sent_at).unwrap_or(Duration::ZERO)
    }
}

/// Why [`read_stamp`] found no stamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    /// Header or message did not decode.
    #[error(transparent)]
    Kpm(#[from] KpmError),
    /// Not a Format 1 header/message, or no sequence measurements.
    #[error("not a sequenced qsafe KPM indication: {0}")]
    NotSequenced(&'static str),
}

/// Builds sequenced KPM indication headers and messages.
#[derive(Debug, Clone)]
pub struct KpmTraffic {
    info: asn::MeasurementInfoList,
    measurements: usize,
    granularity_ms: u32,
    padding_items: usize,
}

impl KpmTraffic {
    /// Indications reporting `measurements` (plus the two sequence
    /// measurements) at `granularity_ms`, with the message padded to at least
    /// `min_message_size` bytes (0: no padding) by extra `measData` items.
    pub fn new(measurements: &[&str], granularity_ms: u32, min_message_size: usize) -> Result<Self, KpmBuildError> {
        let mut names: Vec<&str> = measurements.to_vec();
        names.push(SEQ_HI);
        names.push(SEQ_LO);
        let definition = kpm::action_definition_format1(&names, granularity_ms)?;
        let info = match definition.action_definition_formats {
            asn::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(f) => f.meas_info_list,
            _ => return Err(KpmBuildError { what: "measInfoList", why: "unexpected action definition format".into() }),
        };
        let mut traffic = Self { info, measurements: measurements.len(), granularity_ms, padding_items: 0 };
        if min_message_size > 0 {
            let err = |e: KpmError| KpmBuildError { what: "indication message", why: e.to_string() };
            let base = traffic.message(0).encode_aper().map_err(err)?.len();
            if base < min_message_size {
                let size = |t: &mut Self, items: usize| {
                    t.padding_items = items;
                    t.message(0).encode_aper().map(|m| m.len()).map_err(err)
                };
                // Linear estimate from a sample, refined once, then exact steps.
                let sample = 64;
                let per_item = ((size(&mut traffic, sample)? - base) / sample).max(1);
                let mut items = (min_message_size - base).div_ceil(per_item);
                let got = size(&mut traffic, items)?;
                if got > base {
                    let per_item = (got - base) as f64 / items as f64;
                    items = ((min_message_size - base) as f64 / per_item).ceil() as usize;
                }
                while items > 0 && size(&mut traffic, items - 1)? >= min_message_size {
                    items -= 1;
                }
                while size(&mut traffic, items)? < min_message_size {
                    items += 1;
                }
                traffic.padding_items = items;
            }
        }
        Ok(traffic)
    }

    fn record(&self, seq: u64, with_seq: bool) -> asn::MeasurementDataItem {
        let mut records = Vec::with_capacity(self.measurements + 2);
        for i in 0..self.measurements {
            // Padding items use 4-octet values: fewer items for a given size
            // (a SEQUENCE OF above 16K items needs APER fragmentation).
            let value = if with_seq { ((seq.wrapping_mul(7) + i as u64) % 1000) as u32 } else { u32::MAX - i as u32 };
            records.push(asn::MeasurementRecordItem::integer(value));
        }
        let (hi, lo) = if with_seq { ((seq >> 32) as u32, seq as u32) } else { (u32::MAX, u32::MAX) };
        records.push(asn::MeasurementRecordItem::integer(hi));
        records.push(asn::MeasurementRecordItem::integer(lo));
        asn::MeasurementDataItem::new(asn::MeasurementRecord(records), None)
    }

    fn message(&self, seq: u64) -> asn::E2SMKPMIndicationMessage {
        let mut items = Vec::with_capacity(1 + self.padding_items);
        items.push(self.record(seq, true));
        for _ in 0..self.padding_items {
            items.push(self.record(seq, false));
        }
        asn::E2SMKPMIndicationMessage::new(
            asn::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
                asn::E2SMKPMIndicationMessageFormat1::new(
                    asn::MeasurementData(items),
                    Some(self.info.clone()),
                    Some(asn::GranularityPeriod(self.granularity_ms.max(1))),
                ),
            ),
        )
    }

    /// The (header, message) of indication `seq` sent at `now`.
    pub fn build(&self, seq: u64, now: SystemTime) -> Result<(Bytes, Bytes), KpmError> {
        let header = kpm::indication_header(ntp_timestamp(now)).encode_aper()?;
        let message = self.message(seq).encode_aper()?;
        Ok((header.into(), message.into()))
    }
}

/// Reads the sequence number and send time of a sequenced KPM indication.
pub fn read_stamp(header: &[u8], message: &[u8]) -> Result<Stamp, StampError> {
    let header = asn::E2SMKPMIndicationHeader::decode_aper(header)?;
    let sent_at = match header.indication_header_formats {
        asn::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(f) => {
            from_ntp_timestamp(*f.collet_start_time.0)
        }
        _ => return Err(StampError::NotSequenced("header is not Format 1")),
    };
    let message = asn::E2SMKPMIndicationMessage::decode_aper(message)?;
    let asn::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(f) =
        message.indication_message_formats
    else {
        return Err(StampError::NotSequenced("message is not Format 1"));
    };
    let names = f.meas_info_list.ok_or(StampError::NotSequenced("no measInfoList"))?;
    let n = names.0.len();
    let name_at = |i: usize| match names.0.get(i).map(|m| &m.meas_type) {
        Some(asn::MeasurementType::measName(name)) => Some(name.0.as_bytes().to_vec()),
        _ => None,
    };
    if n < 2
        || name_at(n - 2).as_deref() != Some(SEQ_HI.as_bytes())
        || name_at(n - 1).as_deref() != Some(SEQ_LO.as_bytes())
    {
        return Err(StampError::NotSequenced("measInfoList does not end with the sequence measurements"));
    }
    let first = f.meas_data.0.first().ok_or(StampError::NotSequenced("no measData"))?;
    let records = &first.meas_record.0;
    match (records.get(n - 2), records.get(n - 1)) {
        (Some(asn::MeasurementRecordItem::integer(hi)), Some(asn::MeasurementRecordItem::integer(lo))) => {
            Ok(Stamp { seq: (u64::from(*hi) << 32) | u64::from(*lo), sent_at })
        }
        _ => Err(StampError::NotSequenced("sequence records are not integers")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let t = KpmTraffic::new(&["DRB.UEThpDl", "DRB.UEThpUl"], 1000, 0).expect("traffic");
        let now = SystemTime::now();
        for seq in [0, 1, 65_535, 65_536, u64::from(u32::MAX) + 5, u64::MAX] {
            let (h, m) = t.build(seq, now).expect("build");
            let s = read_stamp(&h, &m).expect("stamp");
            assert_eq!(s.seq, seq);
            assert!(s.latency(now) < Duration::from_micros(1));
            assert!(now.duration_since(s.sent_at).unwrap_or_default() < Duration::from_micros(1));
        }
        let big = KpmTraffic::new(&["DRB.UEThpDl"], 1000, 65_536).expect("traffic");
        let (h, m) = big.build(42, now).expect("build");
        assert!(m.len() >= 65_536 && m.len() < 65_536 + 64, "{}", m.len());
        assert_eq!(read_stamp(&h, &m).expect("stamp").seq, 42);
    }

    #[test]
    fn plain_kpm_is_not_sequenced() {
        let h = kpm::indication_header([0; 8]).encode_aper().expect("h");
        let m = kpm::indication_message_format1(vec![kpm::record_real(1.5)], 1000).encode_aper().expect("m");
        assert!(matches!(read_stamp(&h, &m), Err(StampError::NotSequenced(_))));
    }
}
