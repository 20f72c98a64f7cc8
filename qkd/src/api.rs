//! ETSI GS QKD 014 V1.1.1 wire types: the JSON bodies, the GET query forms and the URL paths.
//!
//! Why a module of its own: the KME model ([`crate::kme`]), the HTTPS server built on it (the
//! `qsafe-kme` binary) and the client ([`crate::client`]) must agree byte for byte on what goes
//! over the wire, and that agreement is the spec's, not ours. So every field carries the spec's
//! exact JSON name (`key_ID`, `source_KME_ID`, `additional_slave_SAE_IDs`, ...) via `serde(rename)`,
//! optional fields are omitted when absent, and unknown fields are ignored on input (the spec
//! allows vendor extensions; a peer adding a field must not break us).
//!
//! Secrets: [`KeyMaterial`] holds key bytes in a [`Zeroizing`] buffer, is base64 on the wire,
//! and its `Debug` prints only the length. The base64 text made while serialising is zeroized
//! too; what serde_json and the HTTP stack copy into their own buffers is beyond this type's
//! reach (the JSON produced by [`KeyContainer::to_json`] is returned zeroizing for that reason).
//!
//! Input is untrusted: every `from_json` checks [`MAX_BODY_BYTES`] before parsing and returns an
//! [`ApiError`] that says what was wrong; nothing here panics on any input (see `qkd/fuzz`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// Largest JSON body accepted by the parsers here (1 MiB). A full key container at the spec's
/// example limits (128 keys of 1024 bits) is ~30 KiB; 1 MiB leaves room for extensions and
/// larger vendor limits while bounding what a hostile peer can make us buffer and parse.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Largest query string accepted by [`KeyRequest::from_query`] and [`KeyIds::from_query`].
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// The base64 flavour of RFC 4648 section 4 (standard alphabet). Output is padded; input is
/// accepted with or without padding, since some KMEs strip it.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Why a body, query string or value could not be read. Maps to HTTP 400 on a KME
/// ([`ApiError::to_error_body`]) and to a typed parse error on a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body is larger than [`MAX_BODY_BYTES`] (or the query than [`MAX_QUERY_BYTES`]).
    #[error("{what} is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// What was too large ("request body", "query string", ...).
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The body is not valid JSON for the expected object; `detail` is serde_json's message
    /// (it names the field and the position, never a value).
    #[error("{what} is not valid JSON: {detail}")]
    Json {
        /// The object that was expected ("key request", "key container", ...).
        what: &'static str,
        /// serde_json's message.
        detail: String,
    },
    /// A query parameter is present but its value cannot be used.
    #[error("query parameter {param}: {reason}")]
    Query {
        /// The parameter's name as sent.
        param: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key_ID is not a UUID in the RFC 4122 text form.
    #[error("key_ID {0:?} is not a UUID (8-4-4-4-12 hex digits)")]
    BadKeyId(String),
}

impl ApiError {
    /// The spec's error body for this parse error, as a KME answers it with 400.
    pub fn to_error_body(&self) -> ErrorBody {
        ErrorBody { message: format!("bad request format: {self}"), details: None }
    }
}

fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), ApiError> {
    if len > max { Err(ApiError::TooLarge { what, len, max }) } else { Ok(()) }
}

fn from_json_bytes<T: serde::de::DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, ApiError> {
    check_len(what, body.len(), MAX_BODY_BYTES)?;
    serde_json::from_slice::<ObjectOnly<T>>(body)
        .map(|o| o.0)
        .map_err(|e| ApiError::Json { what, detail: e.to_string() })
}

/// Deserialises `T` from a JSON object only. serde's derived struct impls also accept a JSON
/// array of the fields in order (`[3, 256]` as a key request); the spec's bodies are objects,
/// and accepting arrays would make us agree with peers on inputs no other stack reads the same.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData)).map(ObjectOnly)
    }
}

/// `deserialize_with` for arrays of objects (`keys`, `key_IDs`).
fn objects_only<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<ObjectOnly<T>>::deserialize(d).map(|v| v.into_iter().map(|o| o.0).collect())
}

fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these types cannot fail: they contain only strings, integers, and
    // serde_json::Value (whose map keys are strings). Fall back to an empty object rather
    // than panic should that ever change.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

// ---------------------------------------------------------------------------------------------
// Key IDs and key material

/// A key_ID: a UUID, written in the 8-4-4-4-12 hexadecimal text form on the wire.
///
/// Parsing accepts upper or lower case and nothing else (no braces, `urn:uuid:` or
/// hyphen-less forms): the spec says UUID per RFC 4122, and a stricter reader keeps
/// string-comparing peers and us from disagreeing about which IDs are equal.
/// Display is lower case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(uuid::Uuid);

impl KeyId {
    /// Wraps a UUID.
    pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }
    /// A version-4 UUID from these 16 random bytes (version and variant bits are set).
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
    /// The UUID.
    pub const fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0.hyphenated())
    }
}

impl FromStr for KeyId {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        let bytes = s.as_bytes();
        let hyphens_ok = bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-');
        if !hyphens_ok {
            return Err(ApiError::BadKeyId(truncate_for_error(s)));
        }
        uuid::Uuid::try_parse(s).map(Self).map_err(|_| ApiError::BadKeyId(truncate_for_error(s)))
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KeyId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UUID string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyId, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// Appends to a zeroizing buffer; when it must grow, the old allocation is zeroized rather than
/// left to the allocator with secrets in it (as `Vec`'s own growth would).
pub(crate) fn extend_zeroizing(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = buf.len().saturating_add(data.len());
    if needed > buf.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(buf.capacity().saturating_mul(2))));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
    buf.extend_from_slice(data);
}

/// An `io::Write` into a zeroizing buffer that grows without leaving copies behind.
struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl std::io::Write for ZeroizingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        extend_zeroizing(&mut self.0, data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Error messages quote what was received, but never more than 64 characters of it.
fn truncate_for_error(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// Key bytes. Zeroized when dropped; `Debug` shows only the length; base64 on the wire.
///
/// There is deliberately no `Display`, `PartialEq` is constant-time in the contents (it is used
/// by tests and by callers comparing a master's and a slave's key), and `Clone` is explicit.
#[derive(Clone, Default)]
pub struct KeyMaterial(Zeroizing<Vec<u8>>);

impl KeyMaterial {
    /// Takes ownership of the bytes (no copy is left behind).
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
    /// Copies the bytes from a slice.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Length in bits, as the spec counts key sizes.
    pub fn len_bits(&self) -> u64 {
        (self.0.len() as u64).saturating_mul(8)
    }
    /// The bytes as a zeroizing buffer.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyMaterial(<{} bits redacted>)", self.len_bits())
    }
}

impl PartialEq for KeyMaterial {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.as_bytes(), other.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        // Constant time in the contents: no early exit on the first differing byte.
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
impl Eq for KeyMaterial {}

impl Serialize for KeyMaterial {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(BASE64.encode(self.as_bytes()));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for KeyMaterial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KeyMaterial;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string (RFC 4648)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyMaterial, E> {
                let mut out = Zeroizing::new(Vec::with_capacity(v.len() / 4 * 3 + 3));
                BASE64
                    .decode_vec(v.as_bytes(), &mut out)
                    .map_err(|e| E::custom(format_args!("key is not base64: {e}")))?;
                Ok(KeyMaterial(out))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<KeyMaterial, E> {
                let v = Zeroizing::new(v);
                self.visit_str(&v)
            }
        }
        d.deserialize_string(Visitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Status

/// Status data format (spec clause 6.1): what a KME tells an SAE about the key stream to one
/// slave SAE. Sizes are in bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// KME ID of the KME answering.
    #[serde(rename = "source_KME_ID")]
    pub source_kme_id: String,
    /// KME ID of the KME at the slave SAE's end of the link.
    #[serde(rename = "target_KME_ID")]
    pub target_kme_id: String,
    /// SAE ID of the calling master SAE.
    #[serde(rename = "master_SAE_ID")]
    pub master_sae_id: String,
    /// SAE ID of the specified slave SAE.
    #[serde(rename = "slave_SAE_ID")]
    pub slave_sae_id: String,
    /// Default size of a key, in bits.
    pub key_size: u32,
    /// Number of keys of the default size stored and available now.
    pub stored_key_count: u64,
    /// Maximum number of keys (of the default size) the KME can store.
    pub max_key_count: u64,
    /// Maximum number of keys one request may ask for.
    pub max_key_per_request: u32,
    /// Largest key size a request may ask for, in bits.
    pub max_key_size: u32,
    /// Smallest key size a request may ask for, in bits.
    pub min_key_size: u32,
    /// Maximum number of additional_slave_SAE_IDs (0: no key multicast).
    #[serde(rename = "max_SAE_ID_count")]
    pub max_sae_id_count: u32,
    /// Vendor extension (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_extension: Option<Value>,
}

impl Status {
    /// Parses a status body (size-limited, unknown fields ignored).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        from_json_bytes("status", body)
    }
    /// Serialises to JSON.
    pub fn to_json(&self) -> Vec<u8> {
        to_json_bytes(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Key request

/// Key request data format (spec clause 6.2), the body of a POST `enc_keys`. Every field is
/// optional; `None` means "not sent" (the KME then applies the spec's defaults: one key of the
/// default size).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// Number of keys requested (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// Size of each key in bits (default: the KME's key_size); a multiple of 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// Further slave SAEs that may fetch the same keys (key multicast).
    #[serde(rename = "additional_slave_SAE_IDs", default, skip_serializing_if = "Option::is_none")]
    pub additional_slave_sae_ids: Option<Vec<String>>,
    /// Extensions the KME must honour or refuse the request; each is `{name: value}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_mandatory: Option<Vec<Map<String, Value>>>,
    /// Extensions the KME may ignore; each is `{name: value}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_optional: Option<Vec<Map<String, Value>>>,
}

impl KeyRequest {
    /// A request for `number` keys of `size` bits (`None`: the KME's default size).
    pub fn new(number: u32, size: Option<u32>) -> Self {
        Self { number: Some(number), size, ..Self::default() }
    }

    /// Parses a POST body (size-limited, unknown fields ignored).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        from_json_bytes("key request", body)
    }

    /// Serialises to JSON (absent fields omitted).
    pub fn to_json(&self) -> Vec<u8> {
        to_json_bytes(self)
    }

    /// Parses the GET form's query string, `number=N&size=S` (both optional, without the
    /// leading `?`). Unknown parameters are ignored, as unknown JSON fields are; a repeated or
    /// non-numeric `number`/`size` is an error.
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        check_len("query string", query.len(), MAX_QUERY_BYTES)?;
        let mut request = Self::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "number" => &mut request.number,
                "size" => &mut request.size,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ApiError::Query { param: name.into_owned(), reason: "given more than once".into() });
            }
            *slot = Some(parse_query_u32(&name, &value)?);
        }
        Ok(request)
    }

    /// The GET form's query string for this request (without `?`), or `None` when the request
    /// uses fields the GET form cannot carry (additional slaves, extensions).
    pub fn to_query(&self) -> Option<String> {
        if self.additional_slave_sae_ids.is_some()
            || self.extension_mandatory.is_some()
            || self.extension_optional.is_some()
        {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        if let Some(n) = self.number {
            out.append_pair("number", &n.to_string());
        }
        if let Some(s) = self.size {
            out.append_pair("size", &s.to_string());
        }
        Some(out.finish())
    }
}

fn parse_query_u32(name: &str, value: &str) -> Result<u32, ApiError> {
    // Digits only: `u32::from_str` would also take a leading '+'.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::Query {
            param: name.to_owned(),
            reason: format!("{:?} is not a non-negative integer", truncate_for_error(value)),
        });
    }
    value.parse().map_err(|_| ApiError::Query {
        param: name.to_owned(),
        reason: format!("{} does not fit in 32 bits", truncate_for_error(value)),
    })
}

// ---------------------------------------------------------------------------------------------
// Key container

/// One key in a key container (spec clause 6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    /// The key's ID, shared by master and slave.
    #[serde(rename = "key_ID")]
    pub key_id: KeyId,
    /// The key bytes (base64 on the wire).
    pub key: KeyMaterial,
    /// Vendor extension for the key ID (optional).
    #[serde(rename = "key_ID_extension", default, skip_serializing_if = "Option::is_none")]
    pub key_id_extension: Option<Value>,
    /// Vendor extension for the key (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_extension: Option<Value>,
}

impl Key {
    /// A key without extensions.
    pub fn new(key_id: KeyId, key: KeyMaterial) -> Self {
        Self { key_id, key, key_id_extension: None, key_extension: None }
    }
}

/// Key container (spec clause 6.3): the answer to `enc_keys` and `dec_keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyContainer {
    /// The keys.
    #[serde(deserialize_with = "objects_only")]
    pub keys: Vec<Key>,
    /// Vendor extension (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_container_extension: Option<Value>,
}

impl KeyContainer {
    /// Parses a body (size-limited, unknown fields ignored, keys base64-decoded into
    /// zeroizing buffers).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        from_json_bytes("key container", body)
    }
    /// Serialises to JSON. The result holds key material in base64, hence zeroizing (and no
    /// partial copy is left in memory freed while the buffer grew).
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        // ~45 bytes of JSON per key besides the base64 text.
        let estimate = self.keys.iter().map(|k| k.key.len() / 3 * 4 + 96).sum::<usize>() + 64;
        let mut out = ZeroizingWriter(Zeroizing::new(Vec::with_capacity(estimate)));
        if serde_json::to_writer(&mut out, self).is_err() {
            // Cannot happen (see to_json_bytes); an empty object beats a panic.
            return Zeroizing::new(b"{}".to_vec());
        }
        out.0
    }
}

// ---------------------------------------------------------------------------------------------
// Key IDs

/// One entry of a key IDs body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyIdEntry {
    /// The key ID asked for.
    #[serde(rename = "key_ID")]
    pub key_id: KeyId,
    /// Vendor extension (optional).
    #[serde(rename = "key_ID_extension", default, skip_serializing_if = "Option::is_none")]
    pub key_id_extension: Option<Value>,
}

/// Key IDs data format (spec clause 6.4), the body of a POST `dec_keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyIds {
    /// The key IDs asked for.
    #[serde(rename = "key_IDs", deserialize_with = "objects_only")]
    pub key_ids: Vec<KeyIdEntry>,
    /// Vendor extension (optional).
    #[serde(rename = "key_IDs_extension", default, skip_serializing_if = "Option::is_none")]
    pub key_ids_extension: Option<Value>,
}

impl KeyIds {
    /// A body asking for these IDs, without extensions.
    pub fn new(ids: impl IntoIterator<Item = KeyId>) -> Self {
        Self {
            key_ids: ids.into_iter().map(|key_id| KeyIdEntry { key_id, key_id_extension: None }).collect(),
            key_ids_extension: None,
        }
    }

    /// The IDs, in request order.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.key_ids.iter().map(|e| e.key_id)
    }

    /// Parses a POST body (size-limited, unknown fields ignored).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        from_json_bytes("key IDs", body)
    }

    /// Serialises to JSON.
    pub fn to_json(&self) -> Vec<u8> {
        to_json_bytes(self)
    }

    /// Parses the GET form's query string, `key_ID=<uuid>` (repeatable; at least one).
    /// Unknown parameters are ignored.
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        check_len("query string", query.len(), MAX_QUERY_BYTES)?;
        let mut ids = Vec::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if name == "key_ID" {
                ids.push(value.parse::<KeyId>()?);
            }
        }
        if ids.is_empty() {
            return Err(ApiError::Query {
                param: "key_ID".into(),
                reason: "missing (at least one is required)".into(),
            });
        }
        Ok(Self::new(ids))
    }

    /// The GET form's query string (without `?`), or `None` when extensions are present.
    pub fn to_query(&self) -> Option<String> {
        if self.key_ids_extension.is_some() || self.key_ids.iter().any(|e| e.key_id_extension.is_some()) {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        for id in self.ids() {
            out.append_pair("key_ID", &id.to_string());
        }
        Some(out.finish())
    }
}

// ---------------------------------------------------------------------------------------------
// Error body

/// Error data format (spec clause 6.5): the body of a 400 or 503 answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Error message.
    pub message: String,
    /// Further name/value details (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Value>>,
}

impl ErrorBody {
    /// An error body with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), details: None }
    }
    /// An error body with one `{name: value}` detail.
    pub fn with_detail(message: impl Into<String>, name: &str, value: impl Into<Value>) -> Self {
        let mut detail = Map::new();
        detail.insert(name.to_owned(), value.into());
        Self { message: message.into(), details: Some(vec![Value::Object(detail)]) }
    }
    /// Parses a body (size-limited, unknown fields ignored).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        from_json_bytes("error body", body)
    }
    /// Serialises to JSON.
    pub fn to_json(&self) -> Vec<u8> {
        to_json_bytes(self)
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(details) = &self.details {
            for d in details {
                write!(f, "; {d}")?;
            }
        }
        Ok(())
    }
}

/// Error messages of 400 answers. The first three are the spec's own wording; the spec fixes no
/// message for a number, size or multicast list outside the limits a KME advertises in its
/// status, so the last one is ours (its `details` name the parameter).
pub mod messages {
    /// 400 on enc_keys: size not a multiple of 8.
    pub const SIZE_NOT_MULTIPLE_OF_8: &str = "size shall be a multiple of 8";
    /// 400 on enc_keys: an extension_mandatory entry is not supported.
    pub const EXTENSION_MANDATORY_UNSUPPORTED: &str = "not all extension_mandatory parameters are supported";
    /// 400 on dec_keys: unknown or already retrieved key IDs.
    pub const KEYS_NOT_FOUND: &str = "one or more keys specified are not found on KME";
    /// 400 on enc_keys (and dec_keys): number, size or additional slaves outside the limits in
    /// the status, or a malformed list. Not spec wording.
    pub const PARAMETERS_OUT_OF_RANGE: &str = "requested parameters do not adhere to KME specifications";
}

// ---------------------------------------------------------------------------------------------
// Paths

/// The three URL paths, `/api/v1/keys/{SAE_ID}/status|enc_keys|dec_keys`.
///
/// The SAE ID is one path segment: builders percent-encode every byte outside RFC 3986's
/// unreserved set, and [`parse`](self::path::parse) percent-decodes (so `SAE%201` and `SAE 1` name the same SAE).
pub mod path {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

    /// Common prefix of the three paths.
    pub const PREFIX: &str = "/api/v1/keys/";

    /// Characters left unencoded in a path segment: RFC 3986 unreserved.
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

    /// Which of the three calls a path names.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Call {
        /// `GET .../{slave_SAE_ID}/status`.
        Status,
        /// `POST|GET .../{slave_SAE_ID}/enc_keys`.
        EncKeys,
        /// `POST|GET .../{master_SAE_ID}/dec_keys`.
        DecKeys,
    }

    impl Call {
        /// The last path segment.
        pub const fn as_str(self) -> &'static str {
            match self {
                Call::Status => "status",
                Call::EncKeys => "enc_keys",
                Call::DecKeys => "dec_keys",
            }
        }
    }

    impl std::fmt::Display for Call {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.as_str())
        }
    }

    /// The path for `call` with this SAE ID (slave for status/enc_keys, master for dec_keys).
    pub fn build(sae_id: &str, call: Call) -> String {
        format!("{PREFIX}{}/{}", utf8_percent_encode(sae_id, SEGMENT), call.as_str())
    }
    /// `/api/v1/keys/{slave}/status`.
    pub fn status(slave_sae_id: &str) -> String {
        build(slave_sae_id, Call::Status)
    }
    /// `/api/v1/keys/{slave}/enc_keys`.
    pub fn enc_keys(slave_sae_id: &str) -> String {
        build(slave_sae_id, Call::EncKeys)
    }
    /// `/api/v1/keys/{master}/dec_keys`.
    pub fn dec_keys(master_sae_id: &str) -> String {
        build(master_sae_id, Call::DecKeys)
    }

    /// Parses a request path (a query string or fragment after it is ignored) into the
    /// percent-decoded SAE ID and the call. `None` for any other path, an empty SAE ID, an SAE
    /// ID that is not UTF-8 once decoded, or one that contains control characters.
    pub fn parse(path: &str) -> Option<(String, Call)> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let rest = path.strip_prefix(PREFIX)?;
        let (segment, last) = rest.split_once('/')?;
        let call = match last {
            "status" => Call::Status,
            "enc_keys" => Call::EncKeys,
            "dec_keys" => Call::DecKeys,
            _ => return None,
        };
        if segment.is_empty() {
            return None;
        }
        let sae = percent_decode_str(segment).decode_utf8().ok()?.into_owned();
        if sae.is_empty() || sae.chars().any(char::is_control) {
            return None;
        }
        Some((sae, call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID_A: &str = "bc490419-7d60-487f-adc1-4ddcc177c139";

    #[test]
    fn status_uses_the_spec_field_names_and_ignores_unknown_fields() {
        // The spec's example status (clause 6.1), plus a field we do not know.
        let body = br#"{"source_KME_ID":"AAAAAAAAAAAAAAAA","target_KME_ID":"BBBBBBBBBBBBBBBB",
            "master_SAE_ID":"IIIIIIIIIIIIIIII","slave_SAE_ID":"CCCCCCCCCCCCCCCC","key_size":352,
            "stored_key_count":25000,"max_key_count":100000,"max_key_per_request":128,
            "max_key_size":1024,"min_key_size":64,"max_SAE_ID_count":0,"vendor_x":1}"#;
        let status = Status::from_json(body).unwrap();
        assert_eq!(status.source_kme_id, "AAAAAAAAAAAAAAAA");
        assert_eq!(status.slave_sae_id, "CCCCCCCCCCCCCCCC");
        assert_eq!((status.key_size, status.stored_key_count, status.max_key_count), (352, 25000, 100000));
        assert_eq!((status.max_key_per_request, status.max_key_size, status.min_key_size), (128, 1024, 64));
        assert_eq!(status.max_sae_id_count, 0);
        let out: Value = serde_json::from_slice(&status.to_json()).unwrap();
        for name in ["source_KME_ID", "target_KME_ID", "master_SAE_ID", "slave_SAE_ID", "max_SAE_ID_count"] {
            assert!(out.get(name).is_some(), "{name} missing in {out}");
        }
        assert!(out.get("status_extension").is_none(), "absent extension must be omitted");
        assert!(out.get("vendor_x").is_none());
    }

    #[test]
    fn status_with_a_missing_mandatory_field_is_an_error() {
        let err = Status::from_json(br#"{"source_KME_ID":"A"}"#).unwrap_err();
        assert!(matches!(err, ApiError::Json { what: "status", .. }), "{err}");
    }

    #[test]
    fn key_request_round_trips_with_spec_names() {
        let body = br#"{"number":3,"size":1024,"additional_slave_SAE_IDs":["ABCDEFG","HIJKLMN"],
            "extension_mandatory":[{"abc_route_type":"direct"},{"abc_transfer_method":"qkd"}],
            "extension_optional":[{"abc_max_age":30000}]}"#;
        let req = KeyRequest::from_json(body).unwrap();
        assert_eq!(req.number, Some(3));
        assert_eq!(req.size, Some(1024));
        assert_eq!(req.additional_slave_sae_ids.as_deref(), Some(&["ABCDEFG".to_owned(), "HIJKLMN".to_owned()][..]));
        assert_eq!(req.extension_mandatory.as_ref().map(Vec::len), Some(2));
        assert_eq!(KeyRequest::from_json(&req.to_json()).unwrap(), req);
        assert_eq!(KeyRequest::from_json(b"{}").unwrap(), KeyRequest::default());
        assert_eq!(KeyRequest::default().to_json(), b"{}");
    }

    #[test]
    fn key_request_rejects_wrong_types_and_negative_numbers() {
        for body in [
            &b"{\"number\":-1}"[..],
            b"{\"size\":\"256\"}",
            b"[]",
            b"[1,256]",
            b"null",
            b"{",
            b"{\"number\":4294967296}",
            b"{\"number\":1.5}",
            b"{\"extension_mandatory\":[[\"a\"]]}",
            b"{} trailing",
        ] {
            assert!(KeyRequest::from_json(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn key_request_from_query() {
        assert_eq!(KeyRequest::from_query("number=2&size=512").unwrap(), KeyRequest::new(2, Some(512)));
        assert_eq!(KeyRequest::from_query("").unwrap(), KeyRequest::default());
        assert_eq!(KeyRequest::from_query("size=8&other=x").unwrap().size, Some(8));
        for bad in ["number=", "number=x", "number=-1", "number=%2B1", "number=1&number=2", "size=99999999999"] {
            let err = KeyRequest::from_query(bad).unwrap_err();
            assert!(matches!(err, ApiError::Query { .. }), "{bad}: {err}");
        }
        assert_eq!(KeyRequest::new(2, Some(512)).to_query().as_deref(), Some("number=2&size=512"));
        let multicast = KeyRequest { additional_slave_sae_ids: Some(vec!["X".into()]), ..KeyRequest::default() };
        assert_eq!(multicast.to_query(), None);
    }

    #[test]
    fn oversized_bodies_and_queries_are_refused_before_parsing() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(KeyRequest::from_json(&big), Err(ApiError::TooLarge { .. })));
        assert!(matches!(KeyContainer::from_json(&big), Err(ApiError::TooLarge { .. })));
        let q = "a".repeat(MAX_QUERY_BYTES + 1);
        assert!(matches!(KeyIds::from_query(&q), Err(ApiError::TooLarge { .. })));
    }

    #[test]
    fn key_container_decodes_base64_and_redacts_debug() {
        let body = format!(r#"{{"keys":[{{"key_ID":"{UUID_A}","key":"AAECAw==","key_extension":{{"x":1}}}}],"y":2}}"#);
        let container = KeyContainer::from_json(body.as_bytes()).unwrap();
        assert_eq!(container.keys.len(), 1);
        let key = &container.keys[0];
        assert_eq!(key.key_id.to_string(), UUID_A);
        assert_eq!(key.key.as_bytes(), &[0, 1, 2, 3]);
        assert_eq!(key.key.len_bits(), 32);
        let debug = format!("{container:?}");
        assert!(debug.contains("redacted") && !debug.contains("AAECAw"), "{debug}");
        let json: Value = serde_json::from_slice(&container.to_json()).unwrap();
        assert_eq!(json["keys"][0]["key"], "AAECAw==");
        assert_eq!(json["keys"][0]["key_ID"], UUID_A);
        assert!(json["keys"][0].get("key_ID_extension").is_none());
        // Unpadded base64 is accepted too.
        let unpadded = format!(r#"{{"keys":[{{"key_ID":"{UUID_A}","key":"AAECAw"}}]}}"#);
        assert_eq!(KeyContainer::from_json(unpadded.as_bytes()).unwrap().keys[0].key.as_bytes(), &[0, 1, 2, 3]);
    }

    #[test]
    fn key_container_rejects_bad_ids_and_bad_base64() {
        for body in [
            r#"{"keys":[{"key_ID":"not-a-uuid","key":"AAAA"}]}"#.to_owned(),
            r#"{"keys":[{"key_ID":"{bc490419-7d60-487f-adc1-4ddcc177c139}","key":"AAAA"}]}"#.to_owned(),
            format!(r#"{{"keys":[{{"key_ID":"{UUID_A}","key":"*!*"}}]}}"#),
            format!(r#"{{"keys":[{{"key_ID":"{UUID_A}"}}]}}"#),
            r#"{"keys":{}}"#.to_owned(),
            format!(r#"{{"keys":[["{UUID_A}","AAAA"]]}}"#),
            format!(r#"[[{{"key_ID":"{UUID_A}","key":"AAAA"}}]]"#),
        ] {
            assert!(KeyContainer::from_json(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn key_id_text_forms() {
        let id: KeyId = UUID_A.parse().unwrap();
        assert_eq!(id.to_string(), UUID_A);
        let upper: KeyId = UUID_A.to_uppercase().parse().unwrap();
        assert_eq!(upper, id);
        for bad in ["", "bc4904197d60487fadc14ddcc177c139", "urn:uuid:bc490419-7d60-487f-adc1-4ddcc177c139", "x"] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad}");
        }
        let long_bad = "z".repeat(1000);
        let msg = long_bad.parse::<KeyId>().unwrap_err().to_string();
        assert!(msg.len() < 200, "error message must not echo huge input: {} bytes", msg.len());
        let v4 = KeyId::from_random_bytes([0xff; 16]);
        assert_eq!(v4.as_uuid().get_version_num(), 4);
    }

    #[test]
    fn key_ids_json_and_query() {
        let body =
            format!(r#"{{"key_IDs":[{{"key_ID":"{UUID_A}","key_ID_extension":{{"a":1}}}}],"key_IDs_extension":{{}}}}"#);
        let ids = KeyIds::from_json(body.as_bytes()).unwrap();
        assert_eq!(ids.ids().map(|i| i.to_string()).collect::<Vec<_>>(), vec![UUID_A]);
        assert_eq!(KeyIds::from_json(&ids.to_json()).unwrap(), ids);
        assert_eq!(ids.to_query(), None, "extensions cannot go in a query");
        let q = format!("key_ID={UUID_A}&key_ID=00000000-0000-0000-0000-000000000000&other=1");
        let from_q = KeyIds::from_query(&q).unwrap();
        assert_eq!(from_q.key_ids.len(), 2);
        assert_eq!(from_q.to_query().unwrap(), format!("key_ID={UUID_A}&key_ID=00000000-0000-0000-0000-000000000000"));
        assert!(matches!(KeyIds::from_query(""), Err(ApiError::Query { .. })));
        assert!(matches!(KeyIds::from_query("key_ID=nope"), Err(ApiError::BadKeyId(_))));
        assert!(KeyIds::from_json(br#"{"key_IDs":[{}]}"#).is_err());
        assert!(KeyIds::from_json(br#"{}"#).is_err(), "key_IDs is mandatory");
        let as_array = format!(r#"{{"key_IDs":[["{UUID_A}"]]}}"#);
        assert!(KeyIds::from_json(as_array.as_bytes()).is_err(), "entries must be objects");
    }

    #[test]
    fn error_body_round_trip() {
        let body = ErrorBody::with_detail(messages::SIZE_NOT_MULTIPLE_OF_8, "size", 7);
        let json = body.to_json();
        assert_eq!(ErrorBody::from_json(&json).unwrap(), body);
        assert_eq!(ErrorBody::new("x").to_json(), br#"{"message":"x"}"#);
        assert_eq!(body.to_string(), "size shall be a multiple of 8; {\"size\":7}");
    }

    #[test]
    fn paths_build_and_parse() {
        use path::{Call, build, parse};
        assert_eq!(path::status("SAE_B"), "/api/v1/keys/SAE_B/status");
        assert_eq!(path::enc_keys("SAE B/1"), "/api/v1/keys/SAE%20B%2F1/enc_keys");
        assert_eq!(parse("/api/v1/keys/SAE_B/status"), Some(("SAE_B".into(), Call::Status)));
        assert_eq!(parse("/api/v1/keys/SAE%20B%2F1/enc_keys?number=1"), Some(("SAE B/1".into(), Call::EncKeys)));
        assert_eq!(parse("/api/v1/keys/M/dec_keys"), Some(("M".into(), Call::DecKeys)));
        for call in [Call::Status, Call::EncKeys, Call::DecKeys] {
            for sae in ["a", "ü-ß", "x y%z", "1.2.3"] {
                assert_eq!(parse(&build(sae, call)), Some((sae.to_owned(), call)));
            }
        }
        for bad in [
            "/api/v1/keys//status",
            "/api/v1/keys/A/status/",
            "/api/v1/keys/A/B/status",
            "/api/v1/keys/A/other",
            "/api/v2/keys/A/status",
            "/api/v1/keys/A",
            "/api/v1/keys/%FF/status",
            "/api/v1/keys/%0A/status",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn zeroizing_growth_keeps_the_contents() {
        let mut buf = Zeroizing::new(Vec::with_capacity(2));
        for chunk in [&b"ab"[..], b"cde", b"", b"fghijklmnop"] {
            extend_zeroizing(&mut buf, chunk);
        }
        assert_eq!(&buf[..], b"abcdefghijklmnop");
        let many = KeyContainer {
            keys: (0..50u8)
                .map(|i| Key::new(KeyId::from_random_bytes([i; 16]), KeyMaterial::from_slice(&[i; 129])))
                .collect(),
            key_container_extension: Some(serde_json::json!({"a": [1, 2, 3]})),
        };
        assert_eq!(KeyContainer::from_json(&many.to_json()).unwrap(), many);
    }

    #[test]
    fn key_material_equality_and_sizes() {
        let a = KeyMaterial::from_slice(&[1, 2, 3]);
        assert_eq!(a, KeyMaterial::from_slice(&[1, 2, 3]));
        assert_ne!(a, KeyMaterial::from_slice(&[1, 2, 4]));
        assert_ne!(a, KeyMaterial::from_slice(&[1, 2]));
        assert_eq!(a.len_bits(), 24);
        assert!(KeyMaterial::default().is_empty());
    }
}
