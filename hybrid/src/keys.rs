//! The output: one ESP key per direction, for `rfc4106(gcm(aes))`.
//!
//! An [`EspKey`] owns its bytes, wipes them when dropped, cannot be cloned
//! (so no stray copy outlives the SA), and prints as `<redacted>`.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::mode::KeySource;

/// AES-256 key length of `rfc4106(gcm(aes))`.
pub const ESP_KEY_LEN: usize = 32;
/// Salt (implicit nonce part) length of `rfc4106(gcm(aes))`, RFC 4106 §8.1.
pub const ESP_SALT_LEN: usize = 4;
/// Key material per direction: key then salt, as XFRM takes it (288 bits).
pub const ESP_KEYMAT_LEN: usize = ESP_KEY_LEN + ESP_SALT_LEN;

/// The two ends of an E2 link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The near-RT RIC (the xApp's side).
    Ric,
    /// The E2 node (gNB, CU, DU, ...).
    E2Node,
}

impl Role {
    /// The other end.
    pub const fn peer(self) -> Role {
        match self {
            Role::Ric => Role::E2Node,
            Role::E2Node => Role::Ric,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Ric => "RIC",
            Role::E2Node => "E2 node",
        })
    }
}

/// The key of one ESP SA (one direction): a 256-bit AES-GCM key, the
/// 32-bit salt, and the SPI it was derived for.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EspKey {
    spi: u32,
    key: [u8; ESP_KEY_LEN],
    salt: [u8; ESP_SALT_LEN],
}

impl EspKey {
    pub(crate) fn from_keymat(spi: u32, keymat: &[u8; ESP_KEYMAT_LEN]) -> Self {
        let mut k = EspKey { spi, key: [0; ESP_KEY_LEN], salt: [0; ESP_SALT_LEN] };
        k.key.copy_from_slice(&keymat[..ESP_KEY_LEN]);
        k.salt.copy_from_slice(&keymat[ESP_KEY_LEN..]);
        k
    }

    /// The SPI of the SA this key belongs to (bound into its derivation).
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The AES-256 key.
    pub fn key(&self) -> &[u8; ESP_KEY_LEN] {
        &self.key
    }

    /// The 4-byte salt.
    pub fn salt(&self) -> &[u8; ESP_SALT_LEN] {
        &self.salt
    }

    /// Key then salt, the 36 bytes (288 bits) Linux XFRM takes as the key of
    /// `rfc4106(gcm(aes))` (`ip xfrm state ... aead 'rfc4106(gcm(aes))' <keymat> 128`).
    pub fn keymat(&self) -> Zeroizing<[u8; ESP_KEYMAT_LEN]> {
        let mut out = Zeroizing::new([0u8; ESP_KEYMAT_LEN]);
        out[..ESP_KEY_LEN].copy_from_slice(&self.key);
        out[ESP_KEY_LEN..].copy_from_slice(&self.salt);
        out
    }
}

impl fmt::Debug for EspKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspKey")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("key", &format_args!("<redacted>"))
            .field("salt", &format_args!("<redacted>"))
            .finish()
    }
}

/// The keys of one E2 link for one epoch: both directions, and which
/// sources they came from. Wiped on drop; [`Zeroize::zeroize`] wipes them
/// earlier (e.g. once the SAs are installed in the kernel).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct LinkKeys {
    #[zeroize(skip)]
    source: KeySource,
    ric_to_node: EspKey,
    node_to_ric: EspKey,
}

impl LinkKeys {
    pub(crate) fn new(source: KeySource, ric_to_node: EspKey, node_to_ric: EspKey) -> Self {
        LinkKeys { source, ric_to_node, node_to_ric }
    }

    /// The sources actually used (bound into both keys).
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// The SA from the RIC to the E2 node.
    pub fn ric_to_node(&self) -> &EspKey {
        &self.ric_to_node
    }

    /// The SA from the E2 node to the RIC.
    pub fn node_to_ric(&self) -> &EspKey {
        &self.node_to_ric
    }

    /// The key `me` encrypts with (its outbound SA).
    pub fn outbound(&self, me: Role) -> &EspKey {
        match me {
            Role::Ric => &self.ric_to_node,
            Role::E2Node => &self.node_to_ric,
        }
    }

    /// The key `me` decrypts with (its inbound SA).
    pub fn inbound(&self, me: Role) -> &EspKey {
        self.outbound(me.peer())
    }
}

impl fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkKeys")
            .field("source", &self.source)
            .field("ric_to_node", &self.ric_to_node)
            .field("node_to_ric", &self.node_to_ric)
            .finish()
    }
}
