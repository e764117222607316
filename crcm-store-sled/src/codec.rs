//! Key and value encodings.

use crcm_core::domain::entity::{EntityKind, EntityRef};
use crcm_core::store::error::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The value-encoding version byte that starts every stored value: JSON.
const JSON_V1: u8 = 1;

/// The byte that stands for an entity kind in keys.
pub(crate) fn kind_byte(kind: EntityKind) -> u8 {
    match kind {
        EntityKind::Lead => 1,
        EntityKind::Customer => 2,
        EntityKind::Deal => 3,
        EntityKind::Activity => 4,
        EntityKind::FollowUp => 5,
        EntityKind::Communication => 6,
    }
}

/// The kind a key byte stands for.
pub(crate) fn kind_from_byte(b: u8) -> Option<EntityKind> {
    EntityKind::ALL.into_iter().find(|k| kind_byte(*k) == b)
}

/// `records` key: kind byte + UUID.
pub(crate) fn record_key(entity: EntityRef) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(kind_byte(entity.kind));
    k.extend_from_slice(entity.id.as_bytes());
    k
}

/// `history` key: record key + version (big-endian, so entries sort by version).
pub(crate) fn history_key(entity: EntityRef, version: u64) -> Vec<u8> {
    let mut k = record_key(entity);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Encodes a value: version byte + JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![JSON_V1];
    serde_json::to_writer(&mut out, value).map_err(|e| StoreError::backend("sled", e))?;
    Ok(out)
}

/// Decodes a value written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &[u8]) -> Result<T, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: format!("sled key {}", hex(what)),
        message,
    };
    match bytes.split_first() {
        Some((&JSON_V1, json)) => serde_json::from_slice(json).map_err(|e| corrupt(e.to_string())),
        Some((v, _)) => Err(corrupt(format!("unknown value encoding {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

/// A big-endian u64 value (0 when malformed).
pub(crate) fn u64_value(v: impl AsRef<[u8]>) -> u64 {
    v.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
