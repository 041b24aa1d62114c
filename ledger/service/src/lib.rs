//! The central bank's ledger service.
//!
//! [`store`] keeps the ledger's state — notes, transactions, blocks, events,
//! participants and issuance approvals — on PostgreSQL or SQLite, and applies
//! batches of already-verified transactions atomically. It does no
//! cryptography: verification happens before, in `ledger-core`.

pub mod store;

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod gate;
pub mod ledger;
pub mod metrics;
pub mod openapi;
pub mod server;

// Moved to `ledger-client` (a bank links it without the storage); the old
// paths stay.
pub use ledger_client::{client, wire};
