//! # cbdc bank gateway
//!
//! The second tier: a commercial bank's service that holds a float of CBDC,
//! opens and keeps its customers' wallets (custodial keys, KYC tiers and
//! their limits), moves money between their deposit accounts and their
//! wallets, pays and receives for them on the central bank's ledger, and
//! proves what it holds.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | identity, ledger, tiers, float policy, credentials, key-encryption keys |
//! | [`store`] | the database: customers, wallets, notes, operations (the outbox), the verified chain |
//! | [`custody`] | wallet keys sealed at rest (AEAD) |

#![forbid(unsafe_code)]

pub mod api;
pub mod chain;
pub mod config;
pub mod custody;
pub mod error;
pub mod gateway;
pub mod metrics;
pub mod report;
pub mod server;
pub mod store;
pub use gateway_client::wire;
