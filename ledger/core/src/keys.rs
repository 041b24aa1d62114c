//! Keys and Schnorr signatures on Ristretto.
//!
//! A key pair is a secret scalar `x` and the public point `P = x·G` for a generator
//! `G`. Spend keys, view keys, officer keys and bank request-signing keys use the
//! Ristretto basepoint `B`; the transaction kernel proves knowledge of its excess
//! over `B̃` (see [`crate::tx`]).
//!
//! A signature on `message` for `purpose` is `(R, s)` with
//!
//! ```text
//!   k  = nonce from the transcript, the secret and fresh randomness (hedged)
//!   R  = k·G
//!   c  = H("cbdc.schnorr.v1" ‖ purpose ‖ G ‖ P ‖ message ‖ R)      (merlin)
//!   s  = k + c·x
//! ```
//!
//! and verifies when `s·G − c·P = R`. The purpose is one of [`Purpose`], so a
//! signature made for one use (say an HTTP request) is never valid for another
//! (say spending a note).
//!
//! Secret keys are zeroized on drop, print `[REDACTED]`, compare in constant time
//! and are never `Serialize`.

use crate::point::{hex_serde_fixed, scalar_from_bytes, Point, PointError};
use crate::transcript::{TranscriptProtocol, SCHNORR_DOMAIN};
use core::fmt;
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// What a signature is for; part of every challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An input owner authorising a spend.
    Owner,
    /// The kernel's proof of knowledge of its excess over `B̃`.
    Kernel,
    /// A central bank officer approving an issuance.
    Officer,
    /// A bank or officer authenticating an HTTP request.
    Request,
    /// The ledger signing a journal block.
    Block,
    /// A central bank officer approving a governance entry.
    Governance,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Owner => b"owner",
            Purpose::Kernel => b"kernel",
            Purpose::Officer => b"officer",
            Purpose::Request => b"request",
            Purpose::Block => b"block",
            Purpose::Governance => b"governance",
        }
    }
}

/// A secret scalar. Zeroized on drop; `Debug` is redacted; not `Serialize`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey(pub(crate) Scalar);

impl SecretKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> SecretKey {
        loop {
            let x = Scalar::random(rng);
            if x != Scalar::ZERO {
                return SecretKey(x);
            }
        }
    }

    /// From the 32-byte canonical little-endian scalar; zero is refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SecretKey, KeyError> {
        let x = scalar_from_bytes(bytes).ok_or(KeyError::NonCanonicalSecret)?;
        if x == Scalar::ZERO {
            return Err(KeyError::ZeroSecret);
        }
        Ok(SecretKey(x))
    }

    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key on the basepoint `B`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(Point::from_point(RistrettoPoint::mul_base(&self.0)))
    }

    /// Signs `message` for `purpose` with the basepoint as generator.
    pub fn sign<R: RngCore + CryptoRng>(
        &self,
        purpose: Purpose,
        message: &[u8],
        rng: &mut R,
    ) -> Signature {
        let public = self.public_key();
        sign_with(
            &self.0,
            &RISTRETTO_BASEPOINT_POINT,
            &public.0.compressed,
            purpose,
            message,
            rng,
        )
    }
}

impl ConstantTimeEq for SecretKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}
impl Eq for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

/// A public key `P = x·B`: canonical, never the identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub(crate) Point);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, PointError> {
        Point::from_bytes(bytes).map(PublicKey)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.compressed.as_bytes()
    }

    /// Checks a signature made with [`SecretKey::sign`].
    pub fn verify(
        &self,
        purpose: Purpose,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        verify_with(
            &RISTRETTO_BASEPOINT_POINT,
            &self.0,
            purpose,
            message,
            signature,
        )
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.as_bytes()))
    }
}

hex_serde_fixed!(PublicKey, 32);

/// A Schnorr signature `(R, s)`, 64 bytes: `R` compressed, then `s` canonical.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub(crate) r: CompressedRistretto,
    /// `R` decompressed (checked when parsed), for batch verification.
    pub(crate) r_point: RistrettoPoint,
    pub(crate) s: Scalar,
}

impl Signature {
    pub const LEN: usize = 64;

    /// Parses 64 bytes; `R` must be a canonical non-identity point and `s` a canonical scalar.
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Signature, SignatureError> {
        let mut r = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&bytes[32..]);
        let r_point = Point::from_bytes(&r)
            .map_err(|_| SignatureError::Malformed)?
            .point;
        let s = scalar_from_bytes(&s).ok_or(SignatureError::Malformed)?;
        Ok(Signature {
            r: CompressedRistretto(r),
            r_point,
            s,
        })
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.r.as_bytes());
        out[32..].copy_from_slice(self.s.as_bytes());
        out
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.to_bytes()))
    }
}

hex_serde_fixed!(Signature, 64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature is not 64 canonical bytes")]
    Malformed,
    #[error("signature does not verify")]
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("secret key is not a canonical scalar")]
    NonCanonicalSecret,
    #[error("secret key is zero")]
    ZeroSecret,
}

pub(crate) fn challenge(
    purpose: Purpose,
    generator: &RistrettoPoint,
    public: &CompressedRistretto,
    message: &[u8],
    r: &CompressedRistretto,
) -> Scalar {
    let mut t = Transcript::new(SCHNORR_DOMAIN);
    t.append_message(b"purpose", purpose.label());
    t.append_point(b"G", &compressed_generator(generator));
    t.append_point(b"P", public);
    t.append_message(b"message", message);
    t.append_point(b"R", r);
    t.challenge_scalar(b"c")
}

/// The compressed form of a generator, without an inversion for the two in use.
fn compressed_generator(generator: &RistrettoPoint) -> CompressedRistretto {
    use std::sync::OnceLock;
    static KNOWN: OnceLock<[(RistrettoPoint, CompressedRistretto); 2]> = OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        let pc = crate::commitment::pedersen_gens();
        [
            (pc.B, pc.B.compress()),
            (pc.B_blinding, pc.B_blinding.compress()),
        ]
    });
    known
        .iter()
        .find(|(point, _)| point == generator)
        .map_or_else(|| generator.compress(), |(_, compressed)| *compressed)
}

/// Signs over an arbitrary generator; `public` must be `secret·generator`.
pub(crate) fn sign_with<R: RngCore + CryptoRng>(
    secret: &Scalar,
    generator: &RistrettoPoint,
    public: &CompressedRistretto,
    purpose: Purpose,
    message: &[u8],
    rng: &mut R,
) -> Signature {
    let mut nonce_transcript = Transcript::new(SCHNORR_DOMAIN);
    nonce_transcript.append_message(b"purpose", purpose.label());
    nonce_transcript.append_point(b"P", public);
    nonce_transcript.append_message(b"message", message);
    let mut nonce_rng = nonce_transcript
        .build_rng()
        .rekey_with_witness_bytes(b"x", secret.as_bytes())
        .finalize(rng);
    let k = Scalar::random(&mut nonce_rng);
    let r_point = k * generator;
    let r = r_point.compress();
    let c = challenge(purpose, generator, public, message, &r);
    Signature {
        r,
        r_point,
        s: k + c * secret,
    }
}

/// Verifies `s·G − c·P = R`.
pub(crate) fn verify_with(
    generator: &RistrettoPoint,
    public: &Point,
    purpose: Purpose,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let c = challenge(
        purpose,
        generator,
        &public.compressed,
        message,
        &signature.r,
    );
    let expected_r =
        RistrettoPoint::vartime_multiscalar_mul([signature.s, -c], [*generator, public.point]);
    if expected_r.compress() == signature.r {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

/// A wallet's or bank's keys: one to spend notes, one to read memos.
#[derive(Clone, Debug)]
pub struct WalletKeys {
    pub spend: SecretKey,
    pub view: SecretKey,
}

impl WalletKeys {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> WalletKeys {
        WalletKeys {
            spend: SecretKey::generate(rng),
            view: SecretKey::generate(rng),
        }
    }

    pub fn address(&self) -> crate::Address {
        crate::Address {
            spend: self.spend.public_key(),
            view: self.view.public_key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn sign_verify_and_tamper() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = SecretKey::generate(&mut rng);
        let public = key.public_key();
        let sig = key.sign(Purpose::Owner, b"hello", &mut rng);
        assert_eq!(public.verify(Purpose::Owner, b"hello", &sig), Ok(()));
        assert_eq!(
            public.verify(Purpose::Owner, b"hellp", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            public.verify(Purpose::Request, b"hello", &sig),
            Err(SignatureError::Invalid)
        );
        let other = SecretKey::generate(&mut rng).public_key();
        assert_eq!(
            other.verify(Purpose::Owner, b"hello", &sig),
            Err(SignatureError::Invalid)
        );
        let round = Signature::from_bytes(&sig.to_bytes()).unwrap();
        assert_eq!(round, sig);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let key = SecretKey::generate(&mut rng);
        assert_eq!(format!("{key:?}"), "SecretKey([REDACTED])");
    }

    #[test]
    fn identity_and_noncanonical_keys_are_rejected() {
        assert_eq!(PublicKey::from_bytes(&[0u8; 32]), Err(PointError::Identity));
        assert_eq!(
            PublicKey::from_bytes(&[0xffu8; 32]),
            Err(PointError::NonCanonical)
        );
    }
}
