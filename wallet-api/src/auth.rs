//! Who is calling: the extractors every handler names.
//!
//! - [`App`]: a licensed app, from `X-Cbdc-App-Key: <app_id>.<secret>`;
//!   rate-limited per app.
//! - [`WalletAuth`]: an app and a wallet token (`Authorization: Bearer`)
//!   bound to it and to the path's `{wallet_id}`; rate-limited per token.
//! - [`Operator`]: an operator token.
//!
//! Secrets are compared as SHA-256 hashes in constant time; a wrong secret,
//! an unknown app and a revoked app answer alike (`unknown_app`).

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Rate;
use crate::error::ApiError;
use crate::service::WalletApi;
use crate::store::{self, now_ms, WalletRow};

/// The header that names the app.
pub const APP_KEY_HEADER: &str = "X-Cbdc-App-Key";

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Per-app and per-token token buckets (in memory: each replica limits what
/// it serves).
pub struct Limiters {
    apps: DefaultKeyedRateLimiter<String>,
    tokens: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn quota(rate: Rate) -> Quota {
    let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

/// Which bucket refused a request.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    App,
    Token,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::App => "app",
            Scope::Token => "token",
        }
    }
}

impl Limiters {
    pub fn new(app: Rate, token: Rate) -> Limiters {
        Limiters {
            apps: RateLimiter::keyed(quota(app)),
            tokens: RateLimiter::keyed(quota(token)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)` to wait.
    pub fn check(&self, scope: Scope, key: &str) -> Result<(), u64> {
        let limiter = match scope {
            Scope::App => &self.apps,
            Scope::Token => &self.tokens,
        };
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Whole seconds, rounded up, at least 1.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Forgets buckets that are full again (bounded memory).
    pub fn shrink(&self) {
        self.apps.retain_recent();
        self.tokens.retain_recent();
        self.apps.shrink_to_fit();
        self.tokens.shrink_to_fit();
    }
}

type State = web::Data<Arc<WalletApi>>;

fn state(req: &HttpRequest) -> Result<State, ApiError> {
    req.app_data::<State>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the wallet API's state is not configured"))
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// A licensed app.
pub struct App {
    pub id: String,
}

fn unknown_app() -> ApiError {
    ApiError::unauthorized(
        "unknown_app",
        format!("send a registered, unrevoked app key as {APP_KEY_HEADER}: <app_id>.<secret>"),
    )
}

async fn app(req: &HttpRequest, state: &State) -> Result<App, ApiError> {
    let key = req
        .headers()
        .get(APP_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unknown_app)?;
    let (id, secret) = key.split_once('.').ok_or_else(unknown_app)?;
    if !crate::ids::is_app_id(id) || secret.is_empty() || secret.len() > 128 {
        return Err(unknown_app());
    }
    let id = id.to_string();
    let looked = id.clone();
    let row = state
        .store
        .read_async(move |c| store::app(c, &looked))
        .await?
        .ok_or_else(unknown_app)?;
    let presented = sha256(secret.as_bytes());
    let same: bool = presented.ct_eq(&row.key_hash).into();
    if !same || row.revoked_ms.is_some() {
        return Err(unknown_app());
    }
    if let Err(wait) = state.limiters.check(Scope::App, &id) {
        state.metrics.rate_limited(Scope::App);
        return Err(ApiError::rate_limited(wait));
    }
    Ok(App { id })
}

impl FromRequest for App {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<App, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            app(&req, &state).await
        })
    }
}

/// An app and a wallet token of the path's wallet.
pub struct WalletAuth {
    pub app_id: String,
    pub wallet: WalletRow,
    /// SHA-256 of the token presented (to revoke it).
    pub token_hash: Vec<u8>,
}

impl FromRequest for WalletAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<WalletAuth, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let app = app(&req, &state).await?;
            let token = bearer(&req).ok_or_else(|| {
                ApiError::unauthorized(
                    "token_required",
                    "send the wallet's token as Authorization: Bearer <token>",
                )
            })?;
            let bad_token = || ApiError::unauthorized("bad_token", "the wallet token is not valid");
            if !crate::ids::is_token(&token) {
                return Err(bad_token());
            }
            let hash = sha256(token.as_bytes());
            let looked = hash.clone();
            let row = state
                .store
                .read_async(move |c| store::token(c, &looked))
                .await?
                .ok_or_else(bad_token)?;
            let same: bool = hash.ct_eq(&row.hash).into();
            if !same || row.app_id != app.id {
                return Err(bad_token());
            }
            if row.revoked_ms.is_some() {
                return Err(ApiError::unauthorized(
                    "token_revoked",
                    "the wallet token was revoked",
                ));
            }
            if row.expires_ms <= now_ms() {
                return Err(ApiError::unauthorized(
                    "token_expired",
                    "the wallet token expired; open the wallet's session again",
                ));
            }
            let path_wallet = req.match_info().get("wallet_id").unwrap_or_default();
            if path_wallet != row.wallet_id {
                return Err(ApiError::forbidden(
                    "wrong_wallet",
                    "this token is another wallet's",
                ));
            }
            if let Err(wait) = state.limiters.check(Scope::Token, &hex::encode(&hash)) {
                state.metrics.rate_limited(Scope::Token);
                return Err(ApiError::rate_limited(wait));
            }
            let id = row.wallet_id.clone();
            let wallet = state
                .store
                .read_async(move |c| store::wallet(c, &id))
                .await?
                .ok_or_else(|| ApiError::internal("a token names a wallet that does not exist"))?;
            Ok(WalletAuth {
                app_id: app.id,
                wallet,
                token_hash: hash,
            })
        })
    }
}

/// An operator of the wallet API.
pub struct Operator;

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Operator, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let presented = bearer(&req).map(|t| sha256(t.as_bytes()));
            let known = presented.is_some_and(|p| {
                state.config.operator_tokens.iter().fold(false, |found, t| {
                    found | bool::from(sha256(t.as_bytes()).ct_eq(&p))
                })
            });
            if known {
                Ok(Operator)
            } else {
                Err(ApiError::unauthorized(
                    "unauthorized",
                    "send an operator token as Authorization: Bearer <token>",
                ))
            }
        })
    }
}
