//! The ledger's client side: what a bank, an officer or a bank gateway needs
//! to talk to the central bank's ledger, without its storage.
//!
//! - [`client`]: [`LedgerClient`], the typed HTTP client that signs every
//!   request with the caller's key, and [`ClientError`];
//! - [`wire`]: the JSON the API answers and accepts, as types (the ledger's
//!   handlers build the same types, and its OpenAPI document derives their
//!   schemas, with the [`core_json`] mirror schemas of the ledger-core types);
//! - [`sign`]: the four request-signature headers and the message they sign;
//! - [`issuance`]: the issue reference an officer checks before approving.

pub mod client;
pub mod core_json;
pub mod issuance;
pub mod sign;
pub mod wire;

pub use client::{ClientError, LedgerClient, TIMEOUT};
pub use issuance::issuance_reference;
pub use sign::{now_ms, sign_request};
