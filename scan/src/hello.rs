//! A sans-IO TLS ClientHello builder and server-first-flight parser.
//!
//! rustls does not say whether a HelloRetryRequest happened, and it cannot speak TLS 1.0/1.1,
//! so those probes are hand-written: [`build_client_hello`] makes a ClientHello with exactly the
//! chosen versions, groups, key share and signature schemes, and [`FlightParser`] reads the
//! server's answer up to its first handshake message (ServerHello or HelloRetryRequest) or an
//! alert. Nothing after that is needed (no keys are derived; the probe closes the connection).
//!
//! The parser reads network input: it never panics, bounds what it buffers
//! ([`MAX_BUFFERED`]), copes with records split across reads and several handshake messages in
//! one record, and reports non-TLS answers as [`HelloError::NotTls`]. It is fuzzed
//! (`scan/fuzz`, target `server_hello`).

use std::fmt;

/// HelloRetryRequest's fixed ServerHello.random: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// The most server bytes buffered before giving up (a ServerHello is a few hundred bytes).
pub const MAX_BUFFERED: usize = 64 * 1024;

/// Record content types.
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
/// Largest TLSCiphertext fragment allowed (RFC 8446 §5.2: 2^14 + 256; TLS 1.2 allows + 2048).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// TLS 1.3 cipher suites.
pub const TLS13_SUITES: [u16; 3] = [0x1301, 0x1302, 0x1303];
/// TLS 1.2 suites offered: ECDHE (AEAD and CBC), then RSA key transport (classical only).
pub const TLS12_SUITES: [u16; 16] = [
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
    0x0033, 0x0039,
];
/// TLS 1.0/1.1 suites offered (CBC with ECDHE, DHE and RSA key transport, 3DES).
pub const LEGACY_SUITES: [u16; 9] = [0xC009, 0xC013, 0xC00A, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035, 0x000A];
/// Signature schemes offered: ML-DSA first, then every classical scheme.
pub const SIGNATURE_SCHEMES: [u16; 16] = [
    0x0905, 0x0906, 0x0904, 0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
    0x0203, 0x0201,
];

/// What to put in a ClientHello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHelloSpec {
    /// `legacy_version` (0x0303 for TLS 1.2/1.3; 0x0302 / 0x0301 for TLS 1.1 / 1.0 probes).
    pub legacy_version: u16,
    /// supported_versions extension (empty: not sent, the pre-1.3 negotiation applies).
    pub supported_versions: Vec<u16>,
    /// Cipher suites, in preference order.
    pub cipher_suites: Vec<u16>,
    /// supported_groups, in preference order.
    pub groups: Vec<u16>,
    /// An x25519 public key to send as the only key share (TLS 1.3); `None`: no key_share.
    pub x25519_share: Option<[u8; 32]>,
    /// SNI host name (DNS names only).
    pub server_name: Option<String>,
    /// signature_algorithms.
    pub signature_schemes: Vec<u16>,
}

impl ClientHelloSpec {
    /// A TLS 1.3 ClientHello (TLS 1.2 also listed in supported_versions when `allow_tls12`) with
    /// these groups and an x25519 key share.
    pub fn tls13(groups: Vec<u16>, x25519_share: [u8; 32], server_name: Option<String>, allow_tls12: bool) -> Self {
        let mut suites = TLS13_SUITES.to_vec();
        let mut versions = vec![0x0304];
        if allow_tls12 {
            suites.extend_from_slice(&TLS12_SUITES);
            versions.push(0x0303);
        }
        Self {
            legacy_version: 0x0303,
            supported_versions: versions,
            cipher_suites: suites,
            groups,
            x25519_share: Some(x25519_share),
            server_name,
            signature_schemes: SIGNATURE_SCHEMES.to_vec(),
        }
    }

    /// A pre-TLS-1.3 ClientHello for exactly `version` (0x0301, 0x0302 or 0x0303): no
    /// supported_versions, classical suites and groups only.
    pub fn legacy(version: u16, server_name: Option<String>) -> Self {
        let suites = if version >= 0x0303 { TLS12_SUITES.to_vec() } else { LEGACY_SUITES.to_vec() };
        Self {
            legacy_version: version,
            supported_versions: Vec::new(),
            cipher_suites: suites,
            groups: vec![0x001D, 0x0017, 0x0018],
            x25519_share: None,
            server_name,
            signature_schemes: SIGNATURE_SCHEMES.to_vec(),
        }
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `body` with a big-endian length prefix of `len_bytes` bytes (1, 2 or 3).
fn put_vec(out: &mut Vec<u8>, len_bytes: usize, body: &[u8]) {
    let len = body.len().to_be_bytes();
    out.extend_from_slice(&len[len.len() - len_bytes..]);
    out.extend_from_slice(body);
}

fn put_ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    put_u16(out, ty);
    put_vec(out, 2, body);
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// The ClientHello as one TLS record (record header included), ready to write.
pub fn build_client_hello(spec: &ClientHelloSpec, random: [u8; 32], session_id: [u8; 32]) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = &spec.server_name {
        let mut entry = vec![0u8];
        put_vec(&mut entry, 2, name.as_bytes());
        let mut list = Vec::new();
        put_vec(&mut list, 2, &entry);
        put_ext(&mut ext, 0x0000, &list);
    }
    if !spec.groups.is_empty() {
        let mut body = Vec::new();
        put_vec(&mut body, 2, &u16_list(&spec.groups));
        put_ext(&mut ext, 0x000A, &body);
    }
    // ec_point_formats: uncompressed (needed by some TLS 1.0-1.2 ECDHE servers).
    put_ext(&mut ext, 0x000B, &[1, 0]);
    if !spec.signature_schemes.is_empty() {
        let mut body = Vec::new();
        put_vec(&mut body, 2, &u16_list(&spec.signature_schemes));
        put_ext(&mut ext, 0x000D, &body);
    }
    // extended_master_secret.
    put_ext(&mut ext, 0x0017, &[]);
    if !spec.supported_versions.is_empty() {
        let mut body = Vec::new();
        put_vec(&mut body, 1, &u16_list(&spec.supported_versions));
        put_ext(&mut ext, 0x002B, &body);
        // psk_key_exchange_modes: psk_dhe_ke (some servers insist on seeing it).
        put_ext(&mut ext, 0x002D, &[1, 1]);
    }
    if let Some(share) = spec.x25519_share {
        let mut entry = Vec::new();
        put_u16(&mut entry, 0x001D);
        put_vec(&mut entry, 2, &share);
        let mut body = Vec::new();
        put_vec(&mut body, 2, &entry);
        put_ext(&mut ext, 0x0033, &body);
    }
    // renegotiation_info (empty: initial handshake).
    put_ext(&mut ext, 0xFF01, &[0]);

    let mut hello = Vec::new();
    put_u16(&mut hello, spec.legacy_version);
    hello.extend_from_slice(&random);
    put_vec(&mut hello, 1, &session_id);
    put_vec(&mut hello, 2, &u16_list(&spec.cipher_suites));
    put_vec(&mut hello, 1, &[0]);
    put_vec(&mut hello, 2, &ext);

    let mut handshake = vec![1u8];
    put_vec(&mut handshake, 3, &hello);

    let mut record = vec![CT_HANDSHAKE];
    // Record-layer version: 0x0301 for compatibility (RFC 8446 §5.1), or the legacy version.
    put_u16(&mut record, spec.legacy_version.min(0x0301));
    put_vec(&mut record, 2, &handshake);
    record
}

/// What the server answered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFlight {
    /// A ServerHello or HelloRetryRequest.
    Hello(ServerHelloInfo),
    /// A TLS alert before any ServerHello.
    Alert(Alert),
}

/// The fields of a ServerHello / HelloRetryRequest that the scanner uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// The random was [`HRR_RANDOM`]: a HelloRetryRequest.
    pub hello_retry_request: bool,
    /// `legacy_version` field.
    pub legacy_version: u16,
    /// The negotiated version: supported_versions' selected_version, else `legacy_version`.
    pub version: u16,
    /// Cipher suite chosen.
    pub cipher_suite: u16,
    /// key_share group (ServerHello: the server's share; HRR: the group asked for).
    pub selected_group: Option<u16>,
}

/// A TLS alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// AlertDescription.
    pub description: u8,
}

impl Alert {
    /// IANA name of the description, e.g. `handshake_failure`.
    pub fn name(self) -> String {
        alert_name(self.description)
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

/// IANA name of an AlertDescription.
pub fn alert_name(description: u8) -> String {
    let n = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("alert_{description}"),
    };
    n.to_owned()
}

/// Why no ServerHello could be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The bytes are not TLS records (e.g. an HTTP answer).
    #[error("not TLS: {0}")]
    NotTls(String),
    /// The input ended before a complete ServerHello or alert.
    #[error("truncated: the server's answer ended after {0} bytes, before a complete ServerHello")]
    Truncated(usize),
    /// TLS records, but a malformed or unexpected handshake message.
    #[error("malformed server hello: {0}")]
    Malformed(String),
}

/// Incremental parser of the server's first flight: feed bytes as they arrive.
#[derive(Debug, Default)]
pub struct FlightParser {
    /// Unconsumed record-layer bytes.
    records: Vec<u8>,
    /// Handshake-layer bytes gathered from handshake records.
    handshake: Vec<u8>,
    /// Bytes seen in total.
    seen: usize,
}

impl FlightParser {
    /// A fresh parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes. `Ok(Some(..))` once the first handshake message or an alert is
    /// complete, `Ok(None)` when more bytes are needed.
    pub fn push(&mut self, data: &[u8]) -> Result<Option<ServerFlight>, HelloError> {
        self.seen = self.seen.saturating_add(data.len());
        if self.records.len() + data.len() > MAX_BUFFERED {
            return Err(HelloError::Malformed(format!("more than {MAX_BUFFERED} bytes without a ServerHello")));
        }
        self.records.extend_from_slice(data);
        loop {
            if self.records.is_empty() {
                return Ok(None);
            }
            check_record_prefix(&self.records)?;
            if self.records.len() < 5 {
                return Ok(None);
            }
            let ct = self.records[0];
            let len = usize::from(u16::from_be_bytes([self.records[3], self.records[4]]));
            if len > MAX_RECORD {
                return Err(HelloError::NotTls(format!("record length {len} exceeds the TLS maximum")));
            }
            if self.records.len() < 5 + len {
                return Ok(None);
            }
            let fragment: Vec<u8> = self.records[5..5 + len].to_vec();
            self.records.drain(..5 + len);
            match ct {
                CT_ALERT => {
                    if fragment.len() < 2 {
                        return Err(HelloError::Malformed(format!("alert record of {} bytes", fragment.len())));
                    }
                    return Ok(Some(ServerFlight::Alert(Alert { level: fragment[0], description: fragment[1] })));
                }
                CT_HANDSHAKE => {
                    if fragment.is_empty() {
                        return Err(HelloError::Malformed("empty handshake record".into()));
                    }
                    self.handshake.extend_from_slice(&fragment);
                    if self.handshake.len() >= 4 {
                        let mlen = (usize::from(self.handshake[1]) << 16)
                            | (usize::from(self.handshake[2]) << 8)
                            | usize::from(self.handshake[3]);
                        if mlen > MAX_BUFFERED {
                            return Err(HelloError::Malformed(format!("handshake message of {mlen} bytes")));
                        }
                        if self.handshake.len() >= 4 + mlen {
                            let ty = self.handshake[0];
                            if ty != 2 {
                                return Err(HelloError::Malformed(format!(
                                    "first handshake message has type {ty}, expected ServerHello (2)"
                                )));
                            }
                            return parse_server_hello(&self.handshake[4..4 + mlen])
                                .map(|h| Some(ServerFlight::Hello(h)));
                        }
                    }
                }
                other => {
                    return Err(HelloError::Malformed(format!(
                        "record of content type {other} before the ServerHello"
                    )));
                }
            }
        }
    }

    /// The input ended: the error to report (a complete flight would have been returned by
    /// [`Self::push`]).
    pub fn finish(&self) -> HelloError {
        if self.seen == 0 {
            HelloError::NotTls("connection closed without an answer".into())
        } else {
            HelloError::Truncated(self.seen)
        }
    }
}

/// Rejects what cannot be the start of a TLS record as early as possible (a one-byte HTTP "H").
fn check_record_prefix(buf: &[u8]) -> Result<(), HelloError> {
    let ct = buf[0];
    if !(20..=23).contains(&ct) {
        return Err(HelloError::NotTls(describe_garbage(buf)));
    }
    if buf.len() >= 2 && buf[1] != 3 {
        return Err(HelloError::NotTls(describe_garbage(buf)));
    }
    if buf.len() >= 3 && buf[2] > 4 {
        return Err(HelloError::NotTls(describe_garbage(buf)));
    }
    Ok(())
}

fn describe_garbage(buf: &[u8]) -> String {
    let head = &buf[..buf.len().min(24)];
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\r' || *b == b'\n') {
        let text = String::from_utf8_lossy(head);
        format!("peer answered {:?}", text.trim_end())
    } else {
        format!("peer answered non-TLS bytes {}", hex::encode(head))
    }
}

/// Parses a whole first flight at once (see [`FlightParser`]).
pub fn parse_server_flight(bytes: &[u8]) -> Result<ServerFlight, HelloError> {
    let mut p = FlightParser::new();
    match p.push(bytes)? {
        Some(f) => Ok(f),
        None => Err(p.finish()),
    }
}

/// A bounds-checked reader.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], HelloError> {
        if self.buf.len() < n {
            return Err(HelloError::Malformed(format!("ServerHello ends inside {what}")));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, HelloError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, HelloError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Parses a ServerHello body (after the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHelloInfo, HelloError> {
    let mut r = Reader { buf: body };
    let legacy_version = r.u16("legacy_version")?;
    let random = r.take(32, "random")?;
    let sid_len = usize::from(r.u8("session id length")?);
    if sid_len > 32 {
        return Err(HelloError::Malformed(format!("session id of {sid_len} bytes")));
    }
    r.take(sid_len, "session id")?;
    let cipher_suite = r.u16("cipher suite")?;
    let _compression = r.u8("compression method")?;
    let hello_retry_request = random == HRR_RANDOM;
    let mut version = legacy_version;
    let mut selected_group = None;
    if !r.buf.is_empty() {
        let ext_len = usize::from(r.u16("extensions length")?);
        let mut exts = Reader { buf: r.take(ext_len, "extensions")? };
        while !exts.buf.is_empty() {
            let ty = exts.u16("extension type")?;
            let len = usize::from(exts.u16("extension length")?);
            let data = exts.take(len, "extension data")?;
            let mut d = Reader { buf: data };
            match ty {
                0x002B => version = d.u16("supported_versions")?,
                0x0033 => selected_group = Some(d.u16("key_share group")?),
                _ => {}
            }
        }
    }
    Ok(ServerHelloInfo { hello_retry_request, legacy_version, version, cipher_suite, selected_group })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn server_hello_body(random: [u8; 32], version_ext: Option<u16>, group: Option<(u16, usize)>) -> Vec<u8> {
        let mut b = Vec::new();
        put_u16(&mut b, 0x0303);
        b.extend_from_slice(&random);
        put_vec(&mut b, 1, &[7u8; 32]);
        put_u16(&mut b, 0x1302);
        b.push(0);
        let mut ext = Vec::new();
        if let Some(v) = version_ext {
            put_ext(&mut ext, 0x002B, &v.to_be_bytes());
        }
        if let Some((g, share_len)) = group {
            let mut body = g.to_be_bytes().to_vec();
            if share_len > 0 {
                put_vec(&mut body, 2, &vec![0xAB; share_len]);
            }
            put_ext(&mut ext, 0x0033, &body);
        }
        put_vec(&mut b, 2, &ext);
        b
    }

    fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut h = vec![ty];
        put_vec(&mut h, 3, body);
        h
    }

    fn record(ct: u8, fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 3, 3];
        put_vec(&mut r, 2, fragment);
        r
    }

    #[test]
    fn server_hello_tls13_with_group() {
        let body = server_hello_body([1; 32], Some(0x0304), Some((0x11EC, 1120)));
        let flight = parse_server_flight(&record(22, &handshake(2, &body))).unwrap();
        let ServerFlight::Hello(h) = flight else { panic!("{flight:?}") };
        assert!(!h.hello_retry_request);
        assert_eq!(
            (h.version, h.legacy_version, h.cipher_suite, h.selected_group),
            (0x0304, 0x0303, 0x1302, Some(0x11EC))
        );
    }

    #[test]
    fn hello_retry_request_detected() {
        let body = server_hello_body(HRR_RANDOM, Some(0x0304), Some((0x11EC, 0)));
        let ServerFlight::Hello(h) = parse_server_flight(&record(22, &handshake(2, &body))).unwrap() else { panic!() };
        assert!(h.hello_retry_request);
        assert_eq!(h.selected_group, Some(0x11EC));
    }

    #[test]
    fn tls12_server_hello_without_extensions() {
        let mut body = Vec::new();
        put_u16(&mut body, 0x0302);
        body.extend_from_slice(&[9; 32]);
        body.push(0);
        put_u16(&mut body, 0xC013);
        body.push(0);
        let ServerFlight::Hello(h) = parse_server_flight(&record(22, &handshake(2, &body))).unwrap() else { panic!() };
        assert_eq!((h.version, h.selected_group, h.hello_retry_request), (0x0302, None, false));
    }

    #[test]
    fn alert_parsed() {
        let flight = parse_server_flight(&record(21, &[2, 40])).unwrap();
        assert_eq!(flight, ServerFlight::Alert(Alert { level: 2, description: 40 }));
        assert_eq!(Alert { level: 2, description: 40 }.name(), "handshake_failure");
        assert_eq!(alert_name(116), "certificate_required");
    }

    #[test]
    fn split_records_and_byte_by_byte_feeding() {
        let body = server_hello_body([2; 32], Some(0x0304), Some((0x001D, 32)));
        let hs = handshake(2, &body);
        // Handshake message split over three records, then fed one byte at a time.
        let (a, rest) = hs.split_at(10);
        let (b, c) = rest.split_at(30);
        let mut wire = record(22, a);
        wire.extend(record(22, b));
        wire.extend(record(22, c));
        let mut p = FlightParser::new();
        let mut out = None;
        for (i, byte) in wire.iter().enumerate() {
            match p.push(std::slice::from_ref(byte)).unwrap() {
                Some(f) => {
                    assert_eq!(i, wire.len() - 1, "complete only at the last byte");
                    out = Some(f);
                }
                None => assert!(i < wire.len() - 1),
            }
        }
        let Some(ServerFlight::Hello(h)) = out else { panic!("no hello") };
        assert_eq!(h.selected_group, Some(0x001D));
    }

    #[test]
    fn several_messages_in_one_record() {
        let body = server_hello_body([3; 32], Some(0x0304), Some((0x0017, 65)));
        let mut frag = handshake(2, &body);
        frag.extend(handshake(8, &[0, 0])); // EncryptedExtensions-like trailer (ignored)
        frag.extend(handshake(11, &[0, 0, 0, 0]));
        let ServerFlight::Hello(h) = parse_server_flight(&record(22, &frag)).unwrap() else { panic!() };
        assert_eq!(h.selected_group, Some(0x0017));
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(
            matches!(parse_server_flight(b"HTTP/1.1 400 Bad Request\r\n"), Err(HelloError::NotTls(m)) if m.contains("HTTP/1.1 400"))
        );
        assert!(matches!(parse_server_flight(&[0x16, 0x09, 0x03]), Err(HelloError::NotTls(_))));
        assert!(matches!(parse_server_flight(&[]), Err(HelloError::NotTls(_))));
        let body = server_hello_body([1; 32], Some(0x0304), Some((0x11EC, 10)));
        let wire = record(22, &handshake(2, &body));
        for cut in 1..wire.len() {
            assert!(
                matches!(parse_server_flight(&wire[..cut]), Err(HelloError::Truncated(n)) if n == cut),
                "cut {cut}"
            );
        }
        // ServerHello whose inner lengths overrun the message.
        let mut bad = body.clone();
        bad.truncate(40);
        assert!(matches!(parse_server_flight(&record(22, &handshake(2, &bad))), Err(HelloError::Malformed(_))));
        // Wrong first message, application data before a hello, short alert, oversize record.
        assert!(matches!(parse_server_flight(&record(22, &handshake(11, &[0; 4]))), Err(HelloError::Malformed(_))));
        assert!(matches!(parse_server_flight(&record(23, &[1, 2, 3])), Err(HelloError::Malformed(_))));
        assert!(matches!(parse_server_flight(&record(21, &[2])), Err(HelloError::Malformed(_))));
        assert!(matches!(parse_server_flight(&[22, 3, 3, 0xFF, 0xFF]), Err(HelloError::NotTls(_))));
    }

    #[test]
    fn client_hello_round_trips_through_a_simple_parse() {
        let spec = ClientHelloSpec::tls13(vec![0x11EC, 0x001D], [5; 32], Some("example.org".into()), false);
        let ch = build_client_hello(&spec, [1; 32], [2; 32]);
        assert_eq!(&ch[..3], &[22, 3, 1]);
        let rec_len = usize::from(u16::from_be_bytes([ch[3], ch[4]]));
        assert_eq!(rec_len, ch.len() - 5);
        assert_eq!(ch[5], 1);
        let hs_len = (usize::from(ch[6]) << 16) | (usize::from(ch[7]) << 8) | usize::from(ch[8]);
        assert_eq!(hs_len, ch.len() - 9);
        let body = &ch[9..];
        assert_eq!(&body[..2], &[3, 3]);
        // The SNI, the groups and the key share are in there.
        let find = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        assert!(find(b"example.org"));
        assert!(find(&[0x00, 0x0A, 0x00, 0x06, 0x00, 0x04, 0x11, 0xEC, 0x00, 0x1D]));
        assert!(find(&[0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1D, 0x00, 0x20, 5, 5]));
        assert!(find(&[0x00, 0x2B, 0x00, 0x03, 0x02, 0x03, 0x04]));
        let legacy = build_client_hello(&ClientHelloSpec::legacy(0x0301, None), [1; 32], [2; 32]);
        assert_eq!(&legacy[..3], &[22, 3, 1]);
        assert_eq!(&legacy[9..11], &[3, 1]);
        // Walk the legacy hello's extensions: no supported_versions, no key_share.
        let body = &legacy[9..];
        let sid = usize::from(body[34]);
        let mut at = 35 + sid;
        let suites = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        at += 2 + suites;
        at += 1 + usize::from(body[at]);
        let ext_end = at + 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        assert_eq!(ext_end, body.len());
        at += 2;
        let mut types = Vec::new();
        while at < ext_end {
            types.push(u16::from_be_bytes([body[at], body[at + 1]]));
            at += 4 + usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        }
        assert_eq!(at, ext_end);
        assert!(types.contains(&0x000A) && !types.contains(&0x002B) && !types.contains(&0x0033), "{types:x?}");
    }
}
