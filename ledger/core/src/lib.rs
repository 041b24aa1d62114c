//! # cbdc ledger core
//!
//! The money of the cbdc central bank digital currency, and nothing else: notes
//! whose amounts are hidden in Pedersen commitments on Ristretto, the three
//! transactions that move them (issue, transfer, redeem) with their Bulletproofs
//! range proofs and Schnorr signatures, memos that tell recipients what they got,
//! builders for those who make transactions, the validation the central bank
//! applies, the canonical encodings, and the supply audit that proves how much
//! money exists without revealing any amount.
//!
//! The crate is pure: no I/O, no async, no clock. Given its random number
//! generator it is deterministic, so wallets, banks and the ledger (and one day a
//! browser) share exactly the same rules.
//!
//! | module | what it holds |
//! |---|---|
//! | [`amount`] | `Amount`, minor units with checked arithmetic |
//! | [`keys`] | secret and public keys, Schnorr signatures and their purposes |
//! | [`address`] | bech32m addresses (`cbdc1…`) |
//! | [`commitment`] | Pedersen commitments and openings, the generators |
//! | [`memo`] | openings encrypted to a view key |
//! | [`tx`] | transactions, the balance equation, digests and ids |
//! | [`encoding`] | the canonical binary encoding |
//! | [`governance`] | the officer set, threshold, banks and supply ceiling as journal entries |
//! | [`journal`] | signed blocks, Merkle inclusion, receipts |
//! | [`builder`] | building transfers, redeems and issues |
//! | [`verify`] | validation, rejection reasons in order of precedence |
//! | [`batch`] | batch verification of many transactions in one multiscalar multiplication |
//! | [`audit`] | the supply audit |

#![forbid(unsafe_code)]
#![deny(clippy::cast_possible_truncation)]

pub mod address;
pub mod amount;
pub mod audit;
pub mod batch;
pub mod builder;
pub mod commitment;
pub mod encoding;
pub mod governance;
pub mod journal;
pub mod keys;
pub mod memo;
mod point;
mod transcript;
pub mod tx;
pub mod verify;

pub use address::{Address, AddressError};
pub use amount::Amount;
pub use audit::{AuditError, Supply, SupplyAudit};
pub use batch::verify_batch;
pub use builder::{
    build_issue, build_redeem, build_transfer, BuildError, Built, BuiltOutput, OwnedNote, Payment,
};
pub use commitment::{Commitment, Opening};
pub use encoding::DecodeError;
pub use journal::{BlockHeader, JournalError, Receipt};
pub use keys::{PublicKey, Purpose, SecretKey, Signature, SignatureError, WalletKeys};
pub use memo::{Memo, MemoError};
pub use point::PointError;
pub use tx::{
    CreatedNote, Excess, Issue, IssueOutput, IssueReference, NoteId, Spend, Transaction, TxId,
    TxKind,
};
pub use verify::{verify, IssuancePolicy, Rejection, StoredNote};
