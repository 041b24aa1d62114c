//! The request gate: replay protection and key lookup for signed requests,
//! grouped.
//!
//! Every signed request must have its (key, nonce) pair recorded before it
//! takes effect, and that record must be durable: a replay after a restart
//! is refused like any other. Recording each nonce in its own database
//! transaction costs a commit (a WAL flush) per request, which under load
//! was as much as the transaction batches themselves. The gate instead
//! queues the claims of the requests that arrive together and admits them
//! with one [`Store::admit_requests`] call: one participant lookup, one
//! insert, one commit, for up to [`ADMISSIONS_PER_CALL_MAX`] requests. A
//! request still proceeds only after its own nonce has committed.
//!
//! The gate's thread also forgets nonces older than [`NONCE_RETENTION_MS`]
//! (they can no longer be replayed: their timestamps are stale), once every
//! [`NONCE_PRUNE_INTERVAL`].
//!
//! Limits: at most `depth_max` claims wait; beyond that [`GateError::Busy`]
//! (HTTP 503 with `Retry-After`). With the database unreachable, a group is
//! refused after the store's checkout timeout (2 s by default), and so is
//! every claim that queued while it (or a prune) waited, all at once.

use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::auth::NONCE_RETENTION_MS;
use crate::ledger::now_ms;
use crate::store::{Admission, NonceClaim, Store, StoreError, ADMISSIONS_PER_CALL_MAX};

/// How often the gate forgets expired nonces.
pub const NONCE_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Why a claim was not decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// Too many requests are waiting to be admitted.
    #[error("too many requests are waiting for admission")]
    Busy,
    /// The gate's thread has stopped.
    #[error("the request gate has stopped")]
    Stopped,
    /// The store failed; `transient` if retrying may succeed.
    #[error("admitting the request failed: {message}")]
    Store { transient: bool, message: String },
}

struct Claim {
    claim: NonceClaim,
    reply: oneshot::Sender<Result<Admission, GateError>>,
}

/// Admits signed requests in groups; cheap to share behind an `Arc`.
pub struct RequestGate {
    queue: Sender<Claim>,
}

impl RequestGate {
    /// Starts the gate's thread on `store`, with at most `depth_max` claims
    /// waiting. The thread ends when the gate is dropped.
    pub fn start(store: Store, depth_max: usize) -> RequestGate {
        let (queue, claims) = bounded(depth_max.max(1));
        std::thread::Builder::new()
            .name("ledger-request-gate".into())
            .spawn(move || run(store, claims))
            .expect("spawning the request gate thread");
        RequestGate { queue }
    }

    /// Looks up the claim's key and records its nonce, together with the
    /// claims that arrive meanwhile.
    pub async fn admit(&self, claim: NonceClaim) -> Result<Admission, GateError> {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Claim { claim, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(GateError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(GateError::Stopped),
        }
        answer.await.map_err(|_| GateError::Stopped)?
    }
}

fn run(store: Store, claims: Receiver<Claim>) {
    let mut last_prune: Option<Instant> = None;
    loop {
        if last_prune.is_none_or(|at| at.elapsed() >= NONCE_PRUNE_INTERVAL) {
            if let Err(error) = prune(&store) {
                if error.is_connection_failure() {
                    refuse(Vec::new(), drain_waiting(&claims), &error);
                }
            }
            last_prune = Some(Instant::now());
        }
        let first = match claims.recv_timeout(NONCE_PRUNE_INTERVAL) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut group = vec![first];
        while group.len() < ADMISSIONS_PER_CALL_MAX {
            match claims.try_recv() {
                Ok(claim) => group.push(claim),
                Err(_) => break,
            }
        }
        let batch: Vec<NonceClaim> = group.iter().map(|waiting| waiting.claim).collect();
        match store.admit_requests(&batch) {
            Ok(admissions) => {
                for (waiting, admission) in group.into_iter().zip(admissions) {
                    let _ = waiting.reply.send(Ok(admission));
                }
            }
            Err(error) => {
                let queued = if error.is_connection_failure() {
                    drain_waiting(&claims)
                } else {
                    Vec::new()
                };
                refuse(group, queued, &error);
            }
        }
    }
}

/// The claims waiting now. Called when the database was just found
/// unreachable: they would find it so too, and are refused at once rather
/// than each group waiting out another checkout timeout.
fn drain_waiting(claims: &Receiver<Claim>) -> Vec<Claim> {
    (0..claims.len())
        .map_while(|_| claims.try_recv().ok())
        .collect()
}

/// Answers `group` (whose admission failed with `error`) and `queued` with
/// the failure.
fn refuse(group: Vec<Claim>, queued: Vec<Claim>, error: &StoreError) {
    if group.is_empty() && queued.is_empty() {
        return;
    }
    let failure = failure(error);
    tracing::warn!(
        error = %error,
        requests = group.len() + queued.len(),
        "admitting requests failed"
    );
    for waiting in group.into_iter().chain(queued) {
        let _ = waiting.reply.send(Err(failure.clone()));
    }
}

fn failure(error: &StoreError) -> GateError {
    GateError::Store {
        transient: error.is_transient(),
        message: error.to_string(),
    }
}

fn prune(store: &Store) -> Result<(), StoreError> {
    let before = now_ms().saturating_sub(NONCE_RETENTION_MS);
    match store.prune_nonces(before) {
        Ok(forgotten) => {
            tracing::debug!(forgotten, "expired request nonces pruned");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(error = %error, "pruning request nonces failed");
            Err(error)
        }
    }
}
