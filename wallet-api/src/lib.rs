//! # cbdc wallet API
//!
//! The retail front door (README.md in this crate): it authenticates wallet
//! apps and wallet tokens, rate-limits, and routes each wallet's calls to
//! the internal API of the gateway of the bank that holds it. It holds no
//! money and no wallet keys.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | the banks and their gateways, operator tokens, token lifetime, rate limits |
//! | [`store`] | the database: apps, wallets and their banks, hashed tokens, idempotency keys, payment requests |
//! | [`auth`] | the app, wallet-token and operator extractors; the rate limiters |
//! | [`service`] | opening wallets, paying (addresses, requests, URIs), fund and defund, requests, the resumer |
//! | [`api`] | the handlers and their OpenAPI paths |
//! | [`notify`] | Server-Sent Events of a wallet's history |
//! | [`uri`], [`qr`] | the `cbdc:` payment URI and its QR codes |
//! | [`error`], [`metrics`], [`server`], [`wire`], [`ids`] | errors as HTTP, Prometheus, start-up, JSON, id shapes |

#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod ids;
pub mod metrics;
pub mod notify;
pub mod qr;
pub mod server;
pub mod service;
pub mod store;
pub mod uri;
pub mod wire;
