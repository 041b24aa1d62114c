//! Validated group elements.
//!
//! A `Point` is a Ristretto point that arrived as canonical bytes and is not the
//! identity, kept together with its compressed form so that encoding never
//! recompresses and verification never decompresses twice. Every public key,
//! commitment and kernel excess of the crate is a newtype over `Point`; the only
//! way in from bytes is [`Point::from_bytes`], which rejects non-canonical encodings
//! (`CompressedRistretto::decompress` checks the canonical field encoding) and the
//! identity.

use core::fmt;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;

#[derive(Clone, Copy)]
pub(crate) struct Point {
    pub(crate) compressed: CompressedRistretto,
    pub(crate) point: RistrettoPoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointError {
    /// The 32 bytes are not the canonical encoding of a Ristretto point.
    NonCanonical,
    /// The point is the identity, which is never a valid key, commitment or excess.
    Identity,
}

impl fmt::Display for PointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointError::NonCanonical => f.write_str("not a canonical Ristretto point encoding"),
            PointError::Identity => f.write_str("the identity point is not allowed here"),
        }
    }
}

impl Point {
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Result<Point, PointError> {
        let compressed = CompressedRistretto(*bytes);
        let point = compressed.decompress().ok_or(PointError::NonCanonical)?;
        if point.is_identity() {
            return Err(PointError::Identity);
        }
        Ok(Point { compressed, point })
    }

    /// From a point computed here. Panics on the identity: callers compute points from
    /// random scalars, where the identity means a broken random number generator.
    pub(crate) fn from_point(point: RistrettoPoint) -> Point {
        assert!(!point.is_identity(), "computed point is the identity");
        Point {
            compressed: point.compress(),
            point,
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; 32] {
        self.compressed.to_bytes()
    }
}

impl PartialEq for Point {
    fn eq(&self, other: &Self) -> bool {
        self.compressed == other.compressed
    }
}
impl Eq for Point {}

impl core::hash::Hash for Point {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.compressed.as_bytes().hash(state)
    }
}

impl PartialOrd for Point {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Point {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.compressed.as_bytes().cmp(other.compressed.as_bytes())
    }
}

/// A canonical scalar from 32 bytes, or `None`.
pub(crate) fn scalar_from_bytes(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_canonical_bytes(*bytes))
}

/// Serde helpers: every binary value is a lowercase hex string in JSON, and
/// deserialisation goes through the same validating constructors as the binary
/// decoder.
pub(crate) mod hex_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(crate) fn deserialize_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(D::Error::custom("hex must be lowercase"));
        }
        hex::decode(text.as_ref()).map_err(|e| D::Error::custom(format!("invalid hex: {e}")))
    }
}

/// Implements `Serialize`/`Deserialize` as a hex string for a type with
/// `to_bytes() -> [u8; N]` and a validating `from_bytes(&[u8; N]) -> Result<Self, E>`.
macro_rules! hex_serde_fixed {
    ($ty:ty, $len:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::point::hex_serde::serialize_bytes(&self.to_bytes(), s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let bytes = $crate::point::hex_serde::deserialize_vec(d)?;
                let fixed = <[u8; $len]>::try_from(bytes.as_slice()).map_err(|_| {
                    D::Error::custom(format!("expected {} bytes, got {}", $len, bytes.len()))
                })?;
                <$ty>::from_bytes(&fixed).map_err(D::Error::custom)
            }
        }
    };
}
pub(crate) use hex_serde_fixed;
