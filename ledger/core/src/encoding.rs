//! The canonical binary encoding, version 1. A transaction id is the hash of it.
//!
//! All integers are little-endian; counts are one byte; every point is 32 compressed
//! bytes and must be canonical and not the identity; every scalar is 32 canonical
//! bytes. Each transaction has exactly one encoding: decoding rejects anything else
//! (non-canonical points or scalars, the identity, unknown versions or kinds,
//! trailing bytes, input longer than [`ENCODED_LEN_MAX`]), and
//! `decode(bytes)?.encode() == bytes` always holds.
//!
//! ```text
//! version u8 = 1 ‖ kind u8 (1 issue, 2 transfer, 3 redeem, 4 governance) ‖ body
//!
//! issue:    reference [32] ‖ n u8 ‖ n × (owner [32] ‖ value u64 ‖ blinding [32])
//!           ‖ k u8 ‖ k × (officer [32] ‖ signature [64])
//! transfer: i u8 ‖ i × input [32]
//!           ‖ n u8 ‖ n × (owner [32] ‖ commitment [32] ‖ memo [88])
//!           ‖ proof_len u16 ‖ proof ‖ excess [32] ‖ kernel signature [64]
//!           ‖ i × owner signature [64]
//! redeem:   as transfer, with burned u64 after the inputs
//! governance: sequence u64 ‖ action ‖ k u8 ‖ k × (officer [32] ‖ signature [64])
//!   action = tag u8 ‖ body:
//!     1 genesis:       ledger_key [32] ‖ threshold u8 ‖ supply_ceiling u64 ‖ n u8 ‖ n × member
//!     2 admit:         member
//!     3 suspend:       id
//!     4 reinstate:     id
//!     5 rekey:         id ‖ key [32] ‖ view_flag u8 ‖ (view [32] if view_flag = 1)
//!     6 set_threshold: threshold u8
//!   member = role u8 (1 officer, 2 bank) ‖ id ‖ name ‖ key [32] ‖ view_flag u8 ‖ (view [32])
//!   id, name = len u8 ‖ bytes (id: 1..=64 of A-Z a-z 0-9 - _; name: 1..=200 of UTF-8)
//! ```
//!
//! The structural rules ([`Transaction::check_structure`]) are applied after
//! parsing, so a decoded transaction always fits the limits.

use crate::amount::Amount;
use crate::governance::{Action, Governance, Member, Role};
use crate::keys::{PublicKey, Signature};
use crate::memo::{Memo, MEMO_LEN};
use crate::point::PointError;
use crate::tx::*;
use crate::verify::Rejection;
use crate::Commitment;

pub const ENCODING_VERSION: u8 = 1;
/// Longest accepted encoding (the largest valid transaction is about 5 KiB).
pub const ENCODED_LEN_MAX: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("encoding is {0} bytes, more than the {ENCODED_LEN_MAX} allowed")]
    TooLong(usize),
    #[error("encoding ends early")]
    Truncated,
    #[error("{0} bytes follow the transaction")]
    TrailingBytes(usize),
    #[error("unknown encoding version {0}")]
    UnknownVersion(u8),
    #[error("unknown transaction kind {0}")]
    UnknownKind(u8),
    #[error("{field}: {error}")]
    BadPoint {
        field: &'static str,
        error: PointError,
    },
    #[error("{0} is not a canonical scalar")]
    BadScalar(&'static str),
    #[error("a signature is not canonical")]
    BadSignature,
    #[error("range proof: {0}")]
    BadRangeProof(RangeProofFormatError),
    #[error("{0} is not valid UTF-8")]
    BadText(&'static str),
    #[error("unknown {0} tag {1}")]
    UnknownTag(&'static str, u8),
    #[error("{0}")]
    Structure(Rejection),
}

impl DecodeError {
    /// A stable machine-readable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLong(_) => "encoding_too_long",
            DecodeError::Truncated => "encoding_truncated",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
            DecodeError::UnknownVersion(_) => "unknown_version",
            DecodeError::UnknownKind(_) => "unknown_kind",
            DecodeError::BadPoint { .. } => "non_canonical_point",
            DecodeError::BadScalar(_) => "non_canonical_scalar",
            DecodeError::BadSignature => "non_canonical_signature",
            DecodeError::BadRangeProof(_) => "malformed_range_proof",
            DecodeError::BadText(_) => "bad_text",
            DecodeError::UnknownTag(..) => "unknown_tag",
            DecodeError::Structure(r) => r.code(),
        }
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn count(&mut self, n: usize) {
        self.u8(u8::try_from(n).expect("counts are bounded by the structural limits"));
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// A length-prefixed string; panics past 255 bytes, which no checked
    /// entry holds.
    fn text(&mut self, text: &str) {
        self.count(text.len());
        self.bytes(text.as_bytes());
    }
    fn optional_key(&mut self, key: &Option<PublicKey>) {
        match key {
            None => self.u8(0),
            Some(key) => {
                self.u8(1);
                self.bytes(key.as_bytes());
            }
        }
    }
    fn member(&mut self, member: &Member) {
        self.u8(member.role.tag());
        self.text(&member.id);
        self.text(&member.name);
        self.bytes(member.key.as_bytes());
        self.optional_key(&member.view_key);
    }
    fn action(&mut self, action: &Action) {
        self.u8(action.tag());
        match action {
            Action::Genesis {
                ledger_key,
                threshold,
                supply_ceiling,
                members,
            } => {
                self.bytes(ledger_key.as_bytes());
                self.u8(*threshold);
                self.u64(supply_ceiling.minor_units());
                self.count(members.len());
                for member in members {
                    self.member(member);
                }
            }
            Action::Admit { member } => self.member(member),
            Action::Suspend { id } | Action::Reinstate { id } => self.text(id),
            Action::Rekey { id, key, view_key } => {
                self.text(id);
                self.bytes(key.as_bytes());
                self.optional_key(view_key);
            }
            Action::SetThreshold { threshold } => self.u8(*threshold),
        }
    }
}

/// An action's canonical bytes (`tag ‖ body`): what a governance digest binds.
pub(crate) fn encode_action(action: &Action) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.action(action);
    w.0
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn public_key(&mut self, field: &'static str) -> Result<PublicKey, DecodeError> {
        PublicKey::from_bytes(&self.array()?)
            .map_err(|error| DecodeError::BadPoint { field, error })
    }
    fn signature(&mut self) -> Result<Signature, DecodeError> {
        Signature::from_bytes(&self.array()?).map_err(|_| DecodeError::BadSignature)
    }
    fn text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u8()?);
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::BadText(field))
    }
    fn optional_key(&mut self, field: &'static str) -> Result<Option<PublicKey>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.public_key(field)?)),
            other => Err(DecodeError::UnknownTag("view key flag", other)),
        }
    }
    fn member(&mut self) -> Result<Member, DecodeError> {
        let tag = self.u8()?;
        let role = Role::from_tag(tag).ok_or(DecodeError::UnknownTag("role", tag))?;
        Ok(Member {
            role,
            id: self.text("participant id")?,
            name: self.text("participant name")?,
            key: self.public_key("participant key")?,
            view_key: self.optional_key("participant view key")?,
        })
    }
    fn action(&mut self) -> Result<Action, DecodeError> {
        let tag = self.u8()?;
        Ok(match tag {
            1 => {
                let ledger_key = self.public_key("ledger key")?;
                let threshold = self.u8()?;
                let supply_ceiling = Amount::new(self.u64()?);
                let n = usize::from(self.u8()?);
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    members.push(self.member()?);
                }
                Action::Genesis {
                    ledger_key,
                    threshold,
                    supply_ceiling,
                    members,
                }
            }
            2 => Action::Admit {
                member: self.member()?,
            },
            3 => Action::Suspend {
                id: self.text("participant id")?,
            },
            4 => Action::Reinstate {
                id: self.text("participant id")?,
            },
            5 => Action::Rekey {
                id: self.text("participant id")?,
                key: self.public_key("participant key")?,
                view_key: self.optional_key("participant view key")?,
            },
            6 => Action::SetThreshold {
                threshold: self.u8()?,
            },
            other => return Err(DecodeError::UnknownTag("governance action", other)),
        })
    }
}

impl Transaction {
    /// The canonical encoding. It encodes any transaction whose counts fit a byte
    /// (so tests can encode transactions that [`Transaction::check_structure`]
    /// refuses); it panics on more than 255 inputs, outputs or signatures and on a
    /// transfer with a burned amount, which no decoded, deserialised or built
    /// transaction has.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(1024));
        w.u8(ENCODING_VERSION);
        w.u8(self.kind().tag());
        match self {
            Transaction::Issue(issue) => {
                w.bytes(&issue.reference.0);
                w.count(issue.outputs.len());
                for o in &issue.outputs {
                    w.bytes(o.owner.as_bytes());
                    w.u64(o.value.minor_units());
                    w.bytes(&o.blinding.to_bytes());
                }
                w.count(issue.officer_signatures.len());
                for s in &issue.officer_signatures {
                    w.bytes(s.officer.as_bytes());
                    w.bytes(&s.signature.to_bytes());
                }
            }
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
                w.count(spend.inputs.len());
                for input in &spend.inputs {
                    w.bytes(&input.0);
                }
                if self.kind() == TxKind::Redeem {
                    w.u64(spend.burned.minor_units());
                } else {
                    // A transfer has no burned field; a non-zero one would be lost.
                    assert!(spend.burned.is_zero(), "a transfer cannot burn money");
                }
                w.count(spend.outputs.len());
                for o in &spend.outputs {
                    w.bytes(o.owner.as_bytes());
                    w.bytes(o.commitment.as_bytes());
                    w.bytes(&o.memo.to_bytes());
                }
                let proof = spend.range_proof.as_ref().map_or(&[][..], |p| p.as_bytes());
                w.bytes(
                    &u16::try_from(proof.len())
                        .expect("range proofs are under 1 KiB")
                        .to_le_bytes(),
                );
                w.bytes(proof);
                w.bytes(spend.kernel.excess.as_bytes());
                w.bytes(&spend.kernel.signature.to_bytes());
                for s in &spend.owner_signatures {
                    w.bytes(&s.to_bytes());
                }
            }
            Transaction::Governance(entry) => {
                w.u64(entry.sequence);
                w.action(&entry.action);
                w.count(entry.approvals.len());
                for s in &entry.approvals {
                    w.bytes(s.officer.as_bytes());
                    w.bytes(&s.signature.to_bytes());
                }
            }
        }
        w.0
    }

    /// Decodes the canonical encoding; see the module docs for what is rejected.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        if bytes.len() > ENCODED_LEN_MAX {
            return Err(DecodeError::TooLong(bytes.len()));
        }
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != ENCODING_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let kind = r.u8()?;
        let tx = match kind {
            1 => Transaction::Issue(decode_issue(&mut r)?),
            2 => Transaction::Transfer(decode_spend(&mut r, false)?),
            3 => Transaction::Redeem(decode_spend(&mut r, true)?),
            4 => Transaction::Governance(decode_governance(&mut r)?),
            other => return Err(DecodeError::UnknownKind(other)),
        };
        if !r.0.is_empty() {
            return Err(DecodeError::TrailingBytes(r.0.len()));
        }
        tx.check_structure().map_err(DecodeError::Structure)?;
        Ok(tx)
    }
}

fn decode_issue(r: &mut Reader<'_>) -> Result<Issue, DecodeError> {
    let reference = IssueReference(r.array()?);
    let n = usize::from(r.u8()?);
    let mut outputs = Vec::with_capacity(n);
    for _ in 0..n {
        let owner = r.public_key("issue output owner")?;
        let value = Amount::new(r.u64()?);
        let blinding = PublicBlinding::from_bytes(&r.array()?)
            .map_err(|_| DecodeError::BadScalar("blinding"))?;
        outputs.push(IssueOutput {
            owner,
            value,
            blinding,
        });
    }
    let k = usize::from(r.u8()?);
    let mut officer_signatures = Vec::with_capacity(k);
    for _ in 0..k {
        let officer = r.public_key("officer")?;
        let signature = r.signature()?;
        officer_signatures.push(OfficerSignature { officer, signature });
    }
    Ok(Issue {
        reference,
        outputs,
        officer_signatures,
    })
}

fn decode_governance(r: &mut Reader<'_>) -> Result<Governance, DecodeError> {
    let sequence = r.u64()?;
    let action = r.action()?;
    let k = usize::from(r.u8()?);
    let mut approvals = Vec::with_capacity(k);
    for _ in 0..k {
        let officer = r.public_key("officer")?;
        let signature = r.signature()?;
        approvals.push(OfficerSignature { officer, signature });
    }
    Ok(Governance {
        sequence,
        action,
        approvals,
    })
}

fn decode_spend(r: &mut Reader<'_>, redeem: bool) -> Result<Spend, DecodeError> {
    let i = usize::from(r.u8()?);
    let mut inputs = Vec::with_capacity(i);
    for _ in 0..i {
        inputs.push(NoteId(r.array()?));
    }
    let burned = if redeem {
        Amount::new(r.u64()?)
    } else {
        Amount::ZERO
    };
    let n = usize::from(r.u8()?);
    let mut outputs = Vec::with_capacity(n);
    for _ in 0..n {
        let owner = r.public_key("output owner")?;
        let commitment =
            Commitment::from_bytes(&r.array()?).map_err(|error| DecodeError::BadPoint {
                field: "output commitment",
                error,
            })?;
        let memo =
            Memo::from_bytes(&r.array::<MEMO_LEN>()?).map_err(|error| DecodeError::BadPoint {
                field: "memo ephemeral key",
                error,
            })?;
        outputs.push(Output {
            owner,
            commitment,
            memo,
        });
    }
    let proof_len = usize::from(r.u16()?);
    let range_proof = if proof_len == 0 {
        None
    } else {
        Some(
            AggregateRangeProof::from_bytes(r.take(proof_len)?)
                .map_err(DecodeError::BadRangeProof)?,
        )
    };
    let excess = Excess::from_bytes(&r.array()?).map_err(|error| DecodeError::BadPoint {
        field: "kernel excess",
        error,
    })?;
    let signature = r.signature()?;
    let mut owner_signatures = Vec::with_capacity(i);
    for _ in 0..i {
        owner_signatures.push(r.signature()?);
    }
    Ok(Spend {
        inputs,
        burned,
        outputs,
        range_proof,
        kernel: Kernel { excess, signature },
        owner_signatures,
    })
}

impl Transaction {
    /// The structural rules every transaction obeys before anything is looked up or
    /// verified, in order of precedence. Shared by the binary decoder, the JSON form
    /// and [`crate::verify::verify`].
    pub fn check_structure(&self) -> Result<(), Rejection> {
        match self {
            Transaction::Issue(issue) => {
                if issue.outputs.is_empty() {
                    return Err(Rejection::NoOutputs);
                }
                if issue.outputs.len() > OUTPUTS_MAX {
                    return Err(Rejection::TooManyOutputs);
                }
                if issue.officer_signatures.len() > OFFICER_SIGNATURES_MAX {
                    return Err(Rejection::TooManyOfficerSignatures);
                }
                // Refused before any state is looked up: no policy makes an
                // unsigned issue valid (the threshold is at least 1).
                if issue.officer_signatures.is_empty() {
                    return Err(Rejection::TooFewOfficers { have: 0, need: 1 });
                }
                if issue.outputs.iter().any(|o| o.value.is_zero()) {
                    return Err(Rejection::ZeroAmount);
                }
                if Amount::checked_sum(issue.outputs.iter().map(|o| o.value)).is_none() {
                    return Err(Rejection::AmountOverflow);
                }
                Ok(())
            }
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
                let redeem = self.kind() == TxKind::Redeem;
                if spend.inputs.is_empty() {
                    return Err(Rejection::NoInputs);
                }
                if spend.inputs.len() > INPUTS_MAX {
                    return Err(Rejection::TooManyInputs);
                }
                if !redeem && spend.outputs.is_empty() {
                    return Err(Rejection::NoOutputs);
                }
                if spend.outputs.len() > OUTPUTS_MAX {
                    return Err(Rejection::TooManyOutputs);
                }
                if !redeem && !spend.burned.is_zero() {
                    return Err(Rejection::BurnInTransfer);
                }
                if redeem && spend.burned.is_zero() {
                    return Err(Rejection::ZeroAmount);
                }
                if spend.owner_signatures.len() != spend.inputs.len() {
                    return Err(Rejection::OwnerSignatureCount);
                }
                let parties = spend.range_proof.as_ref().map_or(0, |p| p.parties());
                let expected = match spend.outputs.len() {
                    0 => 0,
                    n => n.next_power_of_two(),
                };
                if parties != expected {
                    return Err(Rejection::RangeProofShape);
                }
                for (index, input) in spend.inputs.iter().enumerate() {
                    if spend.inputs[..index].contains(input) {
                        return Err(Rejection::DuplicateInput { index });
                    }
                }
                Ok(())
            }
            Transaction::Governance(entry) => entry.check_structure(),
        }
    }
}
