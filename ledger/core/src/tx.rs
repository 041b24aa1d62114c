//! Transactions: the three ways the set of notes changes.
//!
//! # The maths
//!
//! Let `B, B̃` be the Pedersen generators ([`crate::commitment`]). A note holds
//! `C = v·B + r·B̃`.
//!
//! **Issue** (`none → notes owned by a bank`). Amounts `vᵢ` and blindings `rᵢ` are
//! public; the ledger computes `Cᵢ = vᵢ·B + rᵢ·B̃` itself, so the notes hold exactly
//! what the officers signed. At least `M` distinct officers of the `N` in the
//! [`IssuancePolicy`](crate::verify::IssuancePolicy) sign the issue digest.
//!
//! **Transfer** (`notes → notes`) and **Redeem** (`notes → change notes + burned u`).
//! The kernel excess is
//!
//! ```text
//!   E = Σ C_in − Σ C_out − u·B           (u = 0 for a transfer)
//!     = (Σ v_in − Σ v_out − u)·B + (Σ r_in − Σ r_out)·B̃
//! ```
//!
//! and the kernel carries a Schnorr signature over `B̃` (public key `E`). A valid
//! signature proves knowledge of `e` with `E = e·B̃`; since nobody knows `log_B B̃`,
//! the `B` coefficient `Σ v_in − Σ v_out − u` is zero modulo the group order ℓ.
//! The aggregated Bulletproofs range proof shows every output `v_out ∈ [0, 2^64)`,
//! and with at most [`INPUTS_MAX`] + [`OUTPUTS_MAX`] terms of 64 bits no sum can wrap
//! modulo ℓ ≈ 2^252, so the balance holds over the integers: no value is created.
//!
//! **Range proof padding.** Bulletproofs aggregates a power-of-two number `m` of
//! values. A transaction with `n` outputs proves `m = n.next_power_of_two()` values:
//! the `n` outputs in order, then `m − n` commitments to zero with zero blinding
//! (the identity point, which the `bulletproofs` transcript allows for `V`). The
//! verifier appends the same padding; a proof for any other `m` is refused. A
//! redeem with no change outputs carries no range proof.
//!
//! **Digest.** Everything but the signatures is bound into one 32-byte digest by a
//! merlin transcript `cbdc.tx.v1` (kind, inputs, burned amount, outputs with memos,
//! range proof bytes, kernel excess; for an issue the reference and the outputs).
//! The kernel signature, each owner signature (one per input, message `digest ‖
//! input index`) and each officer signature sign it, so changing any byte of a
//! transaction invalidates it.
//!
//! **Identifiers.** A transaction id is `SHA-256("cbdc.txid.v1" ‖ canonical
//! encoding)` ([`crate::encoding`]); output `i` of a transfer or redeem is the note
//! `SHA-256("cbdc.note.v1" ‖ tx id ‖ i as u32 little-endian)`. An issue's notes use
//! the issue digest in place of the id ([`Issue::note_base`]): its id depends on the
//! officer signatures, which anyone holding them can reorder or drop when there are
//! more than needed, and an issue must not be applicable twice.

use crate::amount::Amount;
use crate::commitment::{bulletproof_gens, pedersen_gens, Commitment, RANGE_PROOF_BITS};
use crate::keys::{PublicKey, Signature};
use crate::memo::Memo;
use crate::point::{hex_serde_fixed, scalar_from_bytes, Point, PointError};
use crate::transcript::{TranscriptProtocol, RANGE_PROOF_DOMAIN, TX_DOMAIN};
use bulletproofs::RangeProof;
use core::fmt;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use merlin::Transcript;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most inputs one transaction may spend.
pub const INPUTS_MAX: usize = 16;
/// Most outputs one transaction may create (also the Bulletproofs party capacity).
pub const OUTPUTS_MAX: usize = 16;
/// Most officer signatures one issue may carry.
pub const OFFICER_SIGNATURES_MAX: usize = 32;

macro_rules! id_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, core::convert::Infallible> {
                Ok($name(*bytes))
            }
            pub fn to_bytes(&self) -> [u8; 32] {
                self.0
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(self.0))
            }
        }

        impl core::str::FromStr for $name {
            type Err = hex::FromHexError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(text, &mut out)?;
                Ok($name(out))
            }
        }

        hex_serde_fixed!($name, 32);
    };
}

id_type!(
    TxId,
    "A transaction id: the hash of its canonical encoding."
);
id_type!(
    NoteId,
    "A note id: the hash of the creating transaction id and the output index."
);

impl NoteId {
    pub fn derive(tx: &TxId, index: u32) -> NoteId {
        let mut h = Sha256::new();
        h.update(b"cbdc.note.v1");
        h.update(tx.0);
        h.update(index.to_le_bytes());
        NoteId(h.finalize().into())
    }
}

impl TxId {
    /// The id of the transaction whose canonical encoding is `encoding`.
    pub fn of_bytes(encoding: &[u8]) -> TxId {
        TxId::of_encoding(encoding)
    }

    pub(crate) fn of_encoding(encoding: &[u8]) -> TxId {
        let mut h = Sha256::new();
        h.update(b"cbdc.txid.v1");
        h.update(encoding);
        TxId(h.finalize().into())
    }
}

/// A kernel excess `E = e·B̃`; canonical, not the identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Excess(pub(crate) Point);

impl Excess {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Excess, PointError> {
        Point::from_bytes(bytes).map(Excess)
    }
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.compressed.as_bytes()
    }
    pub(crate) fn point(&self) -> RistrettoPoint {
        self.0.point
    }
}

impl fmt::Debug for Excess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Excess({})", hex::encode(self.as_bytes()))
    }
}
hex_serde_fixed!(Excess, 32);

/// A blinding published in an issue (not secret: issued amounts are public).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicBlinding(pub Scalar);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical scalar")]
pub struct NonCanonicalScalar;

impl PublicBlinding {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicBlinding, NonCanonicalScalar> {
        scalar_from_bytes(bytes)
            .map(PublicBlinding)
            .ok_or(NonCanonicalScalar)
    }
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// A blinding derived from 64 uniformly random (or hashed) bytes, reduced mod ℓ.
    pub fn from_uniform_bytes(wide: &[u8; 64]) -> PublicBlinding {
        PublicBlinding(Scalar::from_bytes_mod_order_wide(wide))
    }
}

impl fmt::Debug for PublicBlinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicBlinding({})", hex::encode(self.to_bytes()))
    }
}
hex_serde_fixed!(PublicBlinding, 32);

/// A reference that makes each issue unique (e.g. the hash of the issuance proposal).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssueReference(pub [u8; 32]);

impl IssueReference {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, core::convert::Infallible> {
        Ok(IssueReference(*bytes))
    }
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}
impl fmt::Debug for IssueReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssueReference({})", hex::encode(self.0))
    }
}
hex_serde_fixed!(IssueReference, 32);

/// An aggregated 64-bit range proof over a transaction's (padded) outputs.
#[derive(Clone)]
pub struct AggregateRangeProof {
    pub(crate) proof: RangeProof,
    pub(crate) bytes: Vec<u8>,
    /// The number of values proven: a power of two.
    pub(crate) parties: usize,
    /// The proof's points, decompressed once: `A, S, T₁, T₂, L₀, R₀, L₁, R₁, …`
    /// (for [`crate::batch`]).
    pub(crate) points: Vec<RistrettoPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeProofFormatError {
    #[error("range proof length {0} matches no aggregation size")]
    Length(usize),
    #[error("range proof holds a non-canonical scalar")]
    Scalar,
    #[error("range proof holds a non-canonical or identity point")]
    Point,
}

/// Bytes of an aggregated 64-bit proof over `parties` values:
/// points A, S, T₁, T₂; scalars t_x, t̃_x, ẽ; log₂(64·m) pairs (L, R); scalars a, b.
pub fn range_proof_len(parties: usize) -> usize {
    let rounds = (RANGE_PROOF_BITS * parties).trailing_zeros() as usize;
    32 * (4 + 3 + 2 * rounds + 2)
}

impl AggregateRangeProof {
    pub fn from_bytes(bytes: &[u8]) -> Result<AggregateRangeProof, RangeProofFormatError> {
        let parties = (0..=OUTPUTS_MAX.trailing_zeros())
            .map(|k| 1usize << k)
            .find(|&m| range_proof_len(m) == bytes.len())
            .ok_or(RangeProofFormatError::Length(bytes.len()))?;
        let proof = RangeProof::from_bytes(bytes).map_err(|_| RangeProofFormatError::Scalar)?;
        // Points: A, S, T1, T2 at 0..4, then L/R pairs after the 3 scalars.
        let rounds = 2 * (RANGE_PROOF_BITS * parties).trailing_zeros() as usize;
        let point_chunks = (0..4).chain(7..7 + rounds);
        let mut points = Vec::with_capacity(4 + rounds);
        for chunk in point_chunks {
            let mut p = [0u8; 32];
            p.copy_from_slice(&bytes[32 * chunk..32 * chunk + 32]);
            points.push(
                Point::from_bytes(&p)
                    .map_err(|_| RangeProofFormatError::Point)?
                    .point,
            );
        }
        // The last two scalars (a, b) are checked by `RangeProof::from_bytes`.
        Ok(AggregateRangeProof {
            proof,
            bytes: bytes.to_vec(),
            parties,
            points,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Verifies the proof against `commitments`, padded as described in the module docs.
    pub(crate) fn verify(&self, commitments: &[Commitment]) -> bool {
        if commitments.len().next_power_of_two() != self.parties {
            return false;
        }
        let padded = padded_commitments(commitments);
        let mut transcript = Transcript::new(RANGE_PROOF_DOMAIN);
        self.proof
            .verify_multiple(
                bulletproof_gens(),
                pedersen_gens(),
                &mut transcript,
                &padded,
                RANGE_PROOF_BITS,
            )
            .is_ok()
    }
}

pub(crate) fn padded_commitments(commitments: &[Commitment]) -> Vec<CompressedRistretto> {
    let m = commitments.len().next_power_of_two();
    let mut padded: Vec<CompressedRistretto> = commitments.iter().map(|c| c.0.compressed).collect();
    padded.resize(m, CompressedRistretto([0u8; 32]));
    padded
}

impl fmt::Debug for AggregateRangeProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AggregateRangeProof({} bytes)", self.bytes.len())
    }
}

impl PartialEq for AggregateRangeProof {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl Eq for AggregateRangeProof {}

impl Serialize for AggregateRangeProof {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::point::hex_serde::serialize_bytes(&self.bytes, s)
    }
}

impl<'de> Deserialize<'de> for AggregateRangeProof {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = crate::point::hex_serde::deserialize_vec(d)?;
        AggregateRangeProof::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// A new confidential note: its owner's spend key, commitment and memo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub owner: PublicKey,
    pub commitment: Commitment,
    pub memo: Memo,
}

/// A note created by issuance: amount and blinding are public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueOutput {
    pub owner: PublicKey,
    pub value: Amount,
    pub blinding: PublicBlinding,
}

impl IssueOutput {
    /// `v·B + r·B̃`. Never the identity for `v > 0`; `None` for a zero output with
    /// zero blinding, which verification refuses anyway.
    pub fn commitment(&self) -> Option<Commitment> {
        let point = pedersen_gens().commit(Scalar::from(self.value.minor_units()), self.blinding.0);
        Point::from_bytes(point.compress().as_bytes())
            .ok()
            .map(Commitment)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerSignature {
    pub officer: PublicKey,
    pub signature: Signature,
}

/// Money created by the central bank: M-of-N officer signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    pub reference: IssueReference,
    pub outputs: Vec<IssueOutput>,
    pub officer_signatures: Vec<OfficerSignature>,
}

/// The kernel: the excess and the proof that it is a commitment to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    pub excess: Excess,
    pub signature: Signature,
}

/// A transfer or a redeem: inputs spent, outputs created, `burned` destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spend {
    pub inputs: Vec<NoteId>,
    /// Zero for a transfer; the public amount taken out of circulation by a redeem.
    pub burned: Amount,
    pub outputs: Vec<Output>,
    /// Present exactly when there are outputs.
    pub range_proof: Option<AggregateRangeProof>,
    pub kernel: Kernel,
    /// One per input, in input order.
    pub owner_signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    Issue,
    Transfer,
    Redeem,
    Governance,
}

impl TxKind {
    pub(crate) fn tag(self) -> u8 {
        match self {
            TxKind::Issue => 1,
            TxKind::Transfer => 2,
            TxKind::Redeem => 3,
            TxKind::Governance => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Issue => "issue",
            TxKind::Transfer => "transfer",
            TxKind::Redeem => "redeem",
            TxKind::Governance => "governance",
        }
    }
}

/// A transaction. The JSON form is `{"kind": "issue" | "transfer" | "redeem" | "governance", ...fields}`,
/// every binary value in lowercase hex; it is checked by the same structural rules as
/// the binary decoder ([`Transaction::check_structure`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    try_from = "UncheckedTransaction"
)]
pub enum Transaction {
    Issue(Issue),
    Transfer(Spend),
    Redeem(Spend),
    Governance(crate::governance::Governance),
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum UncheckedTransaction {
    Issue(Issue),
    Transfer(Spend),
    Redeem(Spend),
    Governance(crate::governance::Governance),
}

impl TryFrom<UncheckedTransaction> for Transaction {
    type Error = crate::verify::Rejection;
    fn try_from(tx: UncheckedTransaction) -> Result<Self, Self::Error> {
        let tx = match tx {
            UncheckedTransaction::Issue(i) => Transaction::Issue(i),
            UncheckedTransaction::Transfer(s) => Transaction::Transfer(s),
            UncheckedTransaction::Redeem(s) => Transaction::Redeem(s),
            UncheckedTransaction::Governance(g) => Transaction::Governance(g),
        };
        tx.check_structure()?;
        Ok(tx)
    }
}

impl Transaction {
    pub fn kind(&self) -> TxKind {
        match self {
            Transaction::Issue(_) => TxKind::Issue,
            Transaction::Transfer(_) => TxKind::Transfer,
            Transaction::Redeem(_) => TxKind::Redeem,
            Transaction::Governance(_) => TxKind::Governance,
        }
    }

    /// The id: the hash of the canonical encoding.
    pub fn id(&self) -> TxId {
        TxId::of_encoding(&self.encode())
    }

    /// The digest every signature of this transaction signs.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            Transaction::Issue(issue) => issue.digest(),
            Transaction::Transfer(spend) => spend.digest(TxKind::Transfer),
            Transaction::Redeem(spend) => spend.digest(TxKind::Redeem),
            Transaction::Governance(entry) => entry.digest(),
        }
    }

    /// The notes this transaction spends (none for an issue).
    pub fn inputs(&self) -> &[NoteId] {
        match self {
            Transaction::Issue(_) | Transaction::Governance(_) => &[],
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => &spend.inputs,
        }
    }

    /// The notes this transaction creates, in output order: (id, owner, commitment, memo).
    /// Issue outputs have no memo (their opening is public).
    pub fn created_notes(&self) -> Vec<CreatedNote> {
        match self {
            Transaction::Governance(_) => Vec::new(),
            Transaction::Issue(issue) => {
                let id = issue.note_base();
                issue
                    .outputs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, o)| {
                        Some(CreatedNote {
                            id: NoteId::derive(&id, u32::try_from(i).ok()?),
                            owner: o.owner,
                            commitment: o.commitment()?,
                            memo: None,
                        })
                    })
                    .collect()
            }
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
                let id = self.id();
                spend
                    .outputs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, o)| {
                        Some(CreatedNote {
                            id: NoteId::derive(&id, u32::try_from(i).ok()?),
                            owner: o.owner,
                            commitment: o.commitment,
                            memo: Some(o.memo),
                        })
                    })
                    .collect()
            }
        }
    }
}

/// A note as a transaction creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedNote {
    pub id: NoteId,
    pub owner: PublicKey,
    pub commitment: Commitment,
    pub memo: Option<Memo>,
}

impl Issue {
    /// The total issued and the sum of the published blindings (what the supply
    /// audit needs), or `None` if the amounts overflow.
    pub fn totals(&self) -> Option<(Amount, PublicBlinding)> {
        let amount = Amount::checked_sum(self.outputs.iter().map(|o| o.value))?;
        let blinding: Scalar = self.outputs.iter().map(|o| o.blinding.0).sum();
        Some((amount, PublicBlinding(blinding)))
    }

    /// What an issue's note ids derive from: its digest, which leaves out the officer
    /// signatures. Re-ordering, dropping surplus or re-making signatures changes the
    /// transaction id but not the notes, so the store's unique note ids refuse a
    /// second application of the same issue whatever its signatures.
    pub fn note_base(&self) -> TxId {
        TxId(self.digest())
    }

    /// The digest the officers sign: the reference and every output.
    pub fn digest(&self) -> [u8; 32] {
        let mut t = Transcript::new(TX_DOMAIN);
        t.append_u64(b"kind", u64::from(TxKind::Issue.tag()));
        t.append_message(b"reference", &self.reference.0);
        t.append_u64(b"outputs", self.outputs.len() as u64);
        for output in &self.outputs {
            t.append_message(b"owner", output.owner.as_bytes());
            t.append_u64(b"value", output.value.minor_units());
            t.append_scalar(b"blinding", &output.blinding.0);
        }
        t.challenge_32(b"digest")
    }
}

impl Spend {
    /// The digest the kernel and the owners sign: everything but the signatures.
    pub fn digest(&self, kind: TxKind) -> [u8; 32] {
        let mut t = Transcript::new(TX_DOMAIN);
        t.append_u64(b"kind", u64::from(kind.tag()));
        t.append_u64(b"inputs", self.inputs.len() as u64);
        for input in &self.inputs {
            t.append_message(b"input", &input.0);
        }
        t.append_u64(b"burned", self.burned.minor_units());
        t.append_u64(b"outputs", self.outputs.len() as u64);
        for output in &self.outputs {
            t.append_message(b"owner", output.owner.as_bytes());
            t.append_message(b"commitment", output.commitment.as_bytes());
            t.append_message(b"memo", &output.memo.to_bytes());
        }
        t.append_message(
            b"range_proof",
            self.range_proof.as_ref().map_or(&[][..], |p| p.as_bytes()),
        );
        t.append_message(b"excess", self.kernel.excess.as_bytes());
        t.challenge_32(b"digest")
    }
}

/// The message input `index`'s owner signs: `digest ‖ index as u32 little-endian`.
pub(crate) fn owner_message(digest: &[u8; 32], index: usize) -> [u8; 36] {
    let mut message = [0u8; 36];
    message[..32].copy_from_slice(digest);
    let index = u32::try_from(index).expect("input index is bounded by INPUTS_MAX");
    message[32..].copy_from_slice(&index.to_le_bytes());
    message
}
