//! # cbdc gateway client
//!
//! What a wallet API, a bank's own channels, the demo and the tests link to
//! talk to a bank gateway: [`GatewayClient`], typed calls to its internal
//! and operator APIs, and [`wire`], the JSON they take and give (the
//! gateway's OpenAPI document derives its schemas from it). No storage.

#![forbid(unsafe_code)]

pub mod client;
pub mod wire;

pub use client::{GatewayClient, GatewayError};
