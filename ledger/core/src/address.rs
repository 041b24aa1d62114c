//! Addresses: where money is sent.
//!
//! An address is the pair (spend public key, view public key) written as a bech32m
//! string with the human-readable prefix `cbdc`:
//! `cbdc1` + 64 bytes of keys in base32 + a 6-character checksum (109 characters).
//! bech32m's checksum catches every mistyped single character (and any 4
//! substitutions in strings up to 89 characters; beyond that a random error still
//! escapes with probability about 2^-30), so a mistyped address is refused with
//! [`AddressError::Checksum`] instead of sending money to nobody.

use crate::keys::PublicKey;
use crate::point::PointError;
use bech32::primitives::decode::{CheckedHrpstring, CheckedHrpstringError};
use bech32::{Bech32m, Hrp};
use core::fmt;
use core::str::FromStr;

pub const ADDRESS_PREFIX: &str = "cbdc";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    pub spend: PublicKey,
    pub view: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address checksum does not match: it is mistyped or incomplete")]
    Checksum,
    #[error("not a bech32m string: {0}")]
    Syntax(String),
    #[error("the address prefix is `{0}`, expected `cbdc`")]
    Prefix(String),
    #[error("the address holds {0} bytes, expected 64")]
    Length(usize),
    #[error("the address's {which} key is invalid: {error}")]
    Key {
        which: &'static str,
        error: PointError,
    },
}

impl std::error::Error for PointError {}

impl Address {
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.spend.as_bytes());
        out[32..].copy_from_slice(self.view.as_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Address, AddressError> {
        let mut spend = [0u8; 32];
        spend.copy_from_slice(&bytes[..32]);
        let mut view = [0u8; 32];
        view.copy_from_slice(&bytes[32..]);
        Ok(Address {
            spend: PublicKey::from_bytes(&spend).map_err(|error| AddressError::Key {
                which: "spend",
                error,
            })?,
            view: PublicKey::from_bytes(&view).map_err(|error| AddressError::Key {
                which: "view",
                error,
            })?,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_PREFIX);
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, hrp, &self.to_bytes()).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Address, AddressError> {
        let checked = CheckedHrpstring::new::<Bech32m>(text).map_err(|e| match e {
            CheckedHrpstringError::Checksum(_) => AddressError::Checksum,
            other => AddressError::Syntax(other.to_string()),
        })?;
        let prefix = checked.hrp().to_lowercase();
        if prefix != ADDRESS_PREFIX {
            return Err(AddressError::Prefix(prefix));
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let fixed =
            <[u8; 64]>::try_from(data.as_slice()).map_err(|_| AddressError::Length(data.len()))?;
        Address::from_bytes(&fixed)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::WalletKeys;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn round_trip_and_every_single_typo_is_caught() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let address = WalletKeys::generate(&mut rng).address();
        let text = address.to_string();
        assert!(text.starts_with("cbdc1"));
        assert_eq!(text.parse::<Address>().unwrap(), address);
        assert_eq!(text.to_uppercase().parse::<Address>().unwrap(), address);
        let charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        for position in 5..text.len() {
            for replacement in charset.chars() {
                let mut typo: Vec<char> = text.chars().collect();
                if typo[position] == replacement {
                    continue;
                }
                typo[position] = replacement;
                let typo: String = typo.into_iter().collect();
                assert_eq!(
                    typo.parse::<Address>(),
                    Err(AddressError::Checksum),
                    "{typo}"
                );
            }
        }
    }

    #[test]
    fn wrong_prefix_and_length_are_named() {
        let hrp = Hrp::parse("bank").unwrap();
        let text = bech32::encode::<Bech32m>(hrp, &[1u8; 64]).unwrap();
        assert_eq!(
            text.parse::<Address>(),
            Err(AddressError::Prefix("bank".into()))
        );
        let hrp = Hrp::parse("cbdc").unwrap();
        let text = bech32::encode::<Bech32m>(hrp, &[1u8; 10]).unwrap();
        assert_eq!(text.parse::<Address>(), Err(AddressError::Length(10)));
        // bech32 (not bech32m) checksums are refused too.
        let text = bech32::encode::<bech32::Bech32>(hrp, &[1u8; 64]).unwrap();
        assert_eq!(text.parse::<Address>(), Err(AddressError::Checksum));
    }
}
