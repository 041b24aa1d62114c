//! The ledger as the gateway trusts it: every receipt checked, every block
//! header checked against the history seen before.
//!
//! A receipt is final for the gateway when (1) its block header's signature
//! verifies with the ledger's key and its Merkle path includes the
//! transaction ([`Receipt::verify`]), and (2) its block is part of the one
//! history the gateway has seen: the header at that height is the one
//! recorded, or the chain from the recorded tip walks up to it, each header
//! signed and naming the previous one's hash. A ledger that answers with a
//! shorter history (a rollback) or a different one (a fork) raises an alarm:
//! from then on no payment is treated as final until an operator
//! acknowledges it (`POST /v1/operator/chain/acknowledge`), after which the
//! history is checked afresh from the ledger's latest block.
//!
//! Receipts of blocks older than the first header the gateway recorded (it
//! joined a running ledger) are checked by signature and inclusion only.

use std::sync::Arc;

use ledger_client::{ClientError, LedgerClient};
use ledger_core::journal::Hash;
use ledger_core::{BlockHeader, PublicKey, Receipt, Signature, TxId};

use crate::metrics::Metrics;
use crate::store::{bank, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The receipt itself does not verify: refused, never final.
    #[error("the ledger's receipt does not verify: {0}")]
    BadReceipt(String),
    /// An alarm is active: nothing is final until an operator acknowledges.
    #[error("the ledger's history is under alarm ({0}): payments are not final until an operator acknowledges")]
    Alarm(String),
    /// The ledger or the database could not be asked now; try again.
    #[error("cannot check the ledger's history now: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ChainError {
    fn from(e: StoreError) -> ChainError {
        ChainError::Unavailable(e.to_string())
    }
}

/// The most headers one check walks before giving up for now.
const WALK_MAX: u64 = 100_000;

pub struct Chain {
    store: Store,
    ledger: LedgerClient,
    key: PublicKey,
    metrics: Arc<Metrics>,
    /// One walk at a time per process (replicas coordinate through the
    /// table's primary key).
    walk: tokio::sync::Mutex<()>,
}

impl Chain {
    pub fn new(store: Store, ledger: LedgerClient, key: PublicKey, metrics: Arc<Metrics>) -> Chain {
        Chain {
            store,
            ledger,
            key,
            metrics,
            walk: tokio::sync::Mutex::new(()),
        }
    }

    pub fn ledger_key(&self) -> &PublicKey {
        &self.key
    }

    /// The active alarm's description, if any.
    pub async fn alarm(&self) -> Result<Option<String>, StoreError> {
        let alarm = self.store.read_async(bank::active_alarm).await?;
        self.metrics
            .chain_alarm
            .set(if alarm.is_some() { 1 } else { 0 });
        Ok(alarm.as_ref().map(describe))
    }

    async fn raise(&self, kind: &'static str, height: u64, detail: String) -> ChainError {
        tracing::error!(target: "cbdc::security", kind, height, %detail, "ledger history alarm");
        let text = detail.clone();
        match self
            .store
            .write_async(move |c| bank::raise_alarm(c, kind, height, &text))
            .await
        {
            Ok(true) => self.metrics.chain_alarms.with_label_values(&[kind]).inc(),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot record the alarm"),
        }
        self.metrics.chain_alarm.set(1);
        ChainError::Alarm(format!("{kind} at height {height}: {detail}"))
    }

    /// Checks that `receipt` is the receipt of transaction `tx` (a genuine
    /// receipt of another transaction proves nothing about this one), then
    /// its signature, its inclusion, and its place in the history.
    pub async fn confirm(&self, tx: &TxId, receipt: &Receipt) -> Result<(), ChainError> {
        if receipt.tx_id != *tx {
            self.metrics.receipts_refused.inc();
            tracing::warn!(target: "cbdc::security", tx = %tx, receipt_tx = %receipt.tx_id, "receipt of another transaction refused");
            return Err(ChainError::BadReceipt(format!(
                "the receipt is of transaction {}, not of {tx}",
                receipt.tx_id
            )));
        }
        if let Err(e) = receipt.verify(&self.key) {
            self.metrics.receipts_refused.inc();
            tracing::warn!(target: "cbdc::security", tx = %receipt.tx_id, error = %e, "receipt refused");
            return Err(ChainError::BadReceipt(e.to_string()));
        }
        self.place(&receipt.block, &receipt.block_signature).await
    }

    /// Checks that a signed header belongs to the history, walking the chain
    /// up to it if it is newer than the tip; refused while an alarm is active.
    async fn place(&self, header: &BlockHeader, signature: &Signature) -> Result<(), ChainError> {
        let _walking = self.walk.lock().await;
        let (alarm, tip) = self
            .store
            .read_async(|c| Ok((bank::active_alarm(c)?, bank::tip(c)?)))
            .await?;
        if let Some(alarm) = alarm {
            self.metrics.chain_alarm.set(1);
            return Err(ChainError::Alarm(describe(&alarm)));
        }
        let height = header.height;
        let hash = header.hash();
        let Some(tip) = tip else {
            self.record(header, signature).await?;
            return Ok(());
        };
        let tip_height = u64::try_from(tip.height).unwrap_or(0);
        if height <= tip_height {
            let known = self
                .store
                .read_async(move |c| bank::header_at(c, height))
                .await?;
            return match known {
                Some(known) if known.hash == hash => Ok(()),
                Some(known) => Err(self
                    .raise(
                        "fork",
                        height,
                        format!(
                            "the ledger signed block {height} as {} but it was {} before",
                            hex::encode(hash),
                            hex::encode(&known.hash)
                        ),
                    )
                    .await),
                // Older than the history the gateway recorded.
                None => Ok(()),
            };
        }
        let mut previous = header_of(&tip)?;
        if height == tip_height + 1 {
            if header.check_follows(Some(&previous)).is_err() {
                return Err(self
                    .raise(
                        "fork",
                        height,
                        format!(
                            "block {height} does not extend block {tip_height} the gateway saw"
                        ),
                    )
                    .await);
            }
            self.record(header, signature).await?;
            return Ok(());
        }
        if height - tip_height > WALK_MAX {
            return Err(ChainError::Unavailable(format!(
                "block {height} is more than {WALK_MAX} blocks past the last one checked"
            )));
        }
        for next in tip_height + 1..=height {
            let block = match self.ledger.block(next).await {
                Ok(block) => block,
                Err(e) if e.status() == Some(404) => {
                    return Err(self
                        .raise(
                            "rollback",
                            next,
                            format!(
                                "the ledger signed block {height} but says it has no block {next}"
                            ),
                        )
                        .await)
                }
                Err(e) => return Err(ChainError::Unavailable(e.to_string())),
            };
            let signature = parse_signature(&block.signature)?;
            if block
                .header
                .verify_signature(&self.key, &signature)
                .is_err()
            {
                return Err(self
                    .raise(
                        "bad_signature",
                        next,
                        format!("block {next}'s signature does not verify with the ledger key"),
                    )
                    .await);
            }
            if block.header.check_follows(Some(&previous)).is_err() {
                return Err(self
                    .raise(
                        "fork",
                        next,
                        format!("block {next} does not extend block {}", next - 1),
                    )
                    .await);
            }
            self.record(&block.header, &signature).await?;
            previous = block.header;
        }
        if previous.hash() != hash {
            return Err(self
                .raise(
                    "fork",
                    height,
                    format!(
                        "the ledger's chain has {} at height {height}, its receipt {}",
                        hex::encode(previous.hash()),
                        hex::encode(hash)
                    ),
                )
                .await);
        }
        Ok(())
    }

    async fn record(&self, header: &BlockHeader, signature: &Signature) -> Result<(), ChainError> {
        let height = header.height;
        let hash: Hash = header.hash();
        let bytes = header.to_bytes().to_vec();
        let sig = signature.to_bytes().to_vec();
        let existing = self
            .store
            .write_async(move |c| bank::insert_header(c, height, &hash, &bytes, &sig))
            .await?;
        match existing {
            Some(other) if other != hash => Err(self
                .raise(
                    "fork",
                    height,
                    format!(
                        "another replica recorded block {height} as {}, the ledger now says {}",
                        hex::encode(other),
                        hex::encode(hash)
                    ),
                )
                .await),
            _ => {
                self.metrics
                    .chain_height
                    .set(i64::try_from(height).unwrap_or(i64::MAX));
                Ok(())
            }
        }
    }

    /// Compares the ledger's latest block with the recorded tip and walks
    /// up to it: run periodically, so a rollback or fork is noticed even
    /// while no payment is made.
    pub async fn watch_once(&self) -> Result<(), ChainError> {
        if self.alarm().await?.is_some() {
            return Ok(());
        }
        // The tip is read before the ledger is asked: payments record newer
        // blocks all the time, so a tip read after the ledger's answer may
        // be past it without any rollback (a false alarm seen under load).
        // Read first, an honest ledger's latest block is never below it.
        let tip = self.store.read_async(bank::tip).await?;
        let latest = match self.ledger.latest_block().await {
            Ok(Some(latest)) => latest,
            Ok(None) => return Ok(()),
            Err(e) => return Err(ChainError::Unavailable(e.to_string())),
        };
        let signature = parse_signature(&latest.signature)?;
        if latest
            .header
            .verify_signature(&self.key, &signature)
            .is_err()
        {
            return Err(self
                .raise(
                    "bad_signature",
                    latest.height,
                    "the latest block's signature does not verify with the ledger key".into(),
                )
                .await);
        }
        if let Some(tip) = tip {
            let tip_height = u64::try_from(tip.height).unwrap_or(0);
            if latest.height < tip_height {
                return Err(self
                    .raise(
                        "rollback",
                        latest.height,
                        format!(
                            "the ledger's latest block is {} but the gateway saw block {tip_height}",
                            latest.height
                        ),
                    )
                    .await);
            }
            if latest.height > tip_height + WALK_MAX {
                // Far behind (the gateway was down long): start again here.
                tracing::warn!(tip = tip_height, latest = latest.height, "chain far behind");
            }
        }
        self.place(&latest.header, &signature).await
    }

    /// After an operator acknowledged the alarm: forget the recorded
    /// history and start again from the ledger's latest block.
    pub async fn acknowledge(&self, by: &str) -> Result<usize, StoreError> {
        let by = by.to_string();
        let count = self
            .store
            .write_async(move |c| {
                let n = bank::acknowledge_alarms(c, &by)?;
                bank::clear_headers(c)?;
                Ok(n)
            })
            .await?;
        self.metrics.chain_alarm.set(0);
        tracing::warn!(target: "cbdc::security", alarms = count, "chain alarm acknowledged");
        Ok(count)
    }
}

fn describe(alarm: &crate::store::rows::AlarmRow) -> String {
    format!(
        "{} at height {}: {}",
        alarm.kind, alarm.height, alarm.detail
    )
}

fn header_of(row: &crate::store::rows::HeaderRow) -> Result<BlockHeader, ChainError> {
    BlockHeader::from_bytes(&row.header)
        .map_err(|e| ChainError::Unavailable(format!("a recorded header is corrupt: {e}")))
}

fn parse_signature(text: &str) -> Result<Signature, ChainError> {
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| ChainError::BadReceipt("a block signature is not 64 hex bytes".into()))?;
    Signature::from_bytes(&bytes).map_err(|e| ChainError::BadReceipt(e.to_string()))
}

/// Whether a ledger error is a refusal of the transaction itself (the
/// ledger will never accept it: undo the operation) rather than a failure
/// to get an answer (keep it and try again).
pub fn is_definitive_refusal(error: &ClientError) -> bool {
    matches!(error.status(), Some(400 | 409 | 413 | 422))
}
