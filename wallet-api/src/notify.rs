//! Notifications: `GET /v1/wallets/{wallet_id}/events`, Server-Sent Events
//! of the wallet's history.
//!
//! Each stream follows the wallet at its bank: it asks the gateway for the
//! entries after the last one it sent (`history?after=`, oldest first) every
//! `poll_interval`. An entry's id is the event's `id:`, so a client that
//! reconnects with `Last-Event-ID` gets every entry it missed, then new ones;
//! without it the stream starts after the newest entry. A comment line every
//! 15 s keeps proxies from closing an idle stream. The bank's entries of one
//! wallet are written under the wallet's row lock, so their ids grow in
//! commit order and following by id misses none.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{get, HttpRequest, HttpResponse};
use gateway_client::wire::EntryView;

use crate::api::{State, WalletRefusals};
use crate::auth::WalletAuth;
use crate::error::ApiError;
use crate::service::WalletApi;
use crate::store::WalletRow;

/// How often an idle stream sends a comment.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Entries asked for per poll.
const PAGE: u32 = 100;

/// One open stream, counted in `cbdc_wallet_api_streams_open` while it lives.
struct Follow {
    api: Arc<WalletApi>,
    wallet: WalletRow,
    after: i64,
    queue: VecDeque<EntryView>,
    last_sent: Instant,
    started: bool,
    failures: u32,
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.api.streams.fetch_sub(1, Ordering::SeqCst);
        self.api.metrics.streams_open.dec();
    }
}

fn event(entry: &EntryView) -> Bytes {
    let kind = if entry.amount >= 0 { "credit" } else { "debit" };
    let data = serde_json::to_string(entry).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("id: {}\nevent: {kind}\ndata: {data}\n\n", entry.id))
}

impl Follow {
    /// The next chunk of the stream (waits until there is one).
    async fn next(&mut self) -> Bytes {
        if !self.started {
            self.started = true;
            // Reconnect after 1 s if the connection drops.
            return Bytes::from_static(b"retry: 1000\n\n");
        }
        loop {
            if let Some(entry) = self.queue.pop_front() {
                self.after = entry.id;
                self.last_sent = Instant::now();
                return event(&entry);
            }
            if self.last_sent.elapsed() >= KEEPALIVE {
                self.last_sent = Instant::now();
                return Bytes::from_static(b": keepalive\n\n");
            }
            // Back off while the bank does not answer (up to 8 intervals).
            let wait = self.api.config.poll_interval * (1 << self.failures.min(3));
            tokio::time::sleep(wait).await;
            let page = match self.api.gateway(&self.wallet.bank_id) {
                Ok(gateway) => {
                    gateway
                        .history_after(self.wallet.gateway_wallet_id, self.after, PAGE)
                        .await
                }
                Err(_) => continue,
            };
            match page {
                Ok(page) => {
                    self.failures = 0;
                    self.queue.extend(page.entries);
                }
                Err(e) => {
                    self.failures += 1;
                    tracing::debug!(bank = %self.wallet.bank_id, error = %e, "a notification stream cannot reach the bank");
                }
            }
        }
    }
}

/// Server-Sent Events of the wallet's history: `event: credit` (money in)
/// or `debit` (money out), `id:` the entry's id, `data:` the entry. Send
/// `Last-Event-ID` to resume after an entry.
#[utoipa::path(tag = "wallets", params(("wallet_id" = String, Path),
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this entry id")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "the stream of events"),
        (status = 400, body = crate::wire::ErrorBody, description = "`bad_last_event_id`"),
        WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[get("/v1/wallets/{wallet_id}/events")]
pub async fn events(
    state: State,
    auth: WalletAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let resume = match req.headers().get("Last-Event-ID") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_last_event_id",
                        "Last-Event-ID is the id of an event this stream sent",
                    )
                })?,
        ),
    };
    let after = match resume {
        Some(after) => after,
        // From now: after the newest entry.
        None => state
            .history(&auth.wallet, None, 1)
            .await?
            .entries
            .first()
            .map(|e| e.id)
            .unwrap_or(0),
    };
    let open = state.streams.fetch_add(1, Ordering::SeqCst);
    state.metrics.streams_open.inc();
    let follow = Follow {
        api: state.get_ref().clone(),
        wallet: auth.wallet,
        after,
        queue: VecDeque::new(),
        last_sent: Instant::now(),
        started: false,
        failures: 0,
    };
    if open >= state.config.max_streams {
        drop(follow);
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "too many notification streams are open; retry later",
        );
        e.retry_after = Some(5);
        return Err(e);
    }
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        let chunk = follow.next().await;
        Some((Ok::<_, actix_web::Error>(chunk), follow))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
