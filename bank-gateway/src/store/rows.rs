//! Rows as the gateway reads them.

use curve25519_dalek::scalar::Scalar;
use diesel::prelude::*;
use ledger_core::{Amount, Opening};

use super::schema::*;
use super::{db_u64, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    pub id: i64,
    pub phone: String,
    pub national_id: Option<String>,
    pub tier: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = wallets)]
pub struct WalletRow {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub kind: String,
    pub address: String,
    pub spend_key: Vec<u8>,
    pub view_key: Vec<u8>,
    pub sealed_keys: Option<Vec<u8>>,
    pub kek_id: Option<String>,
    pub balance: i64,
    pub frozen: bool,
    pub deposit_account_id: Option<i64>,
    pub auto_topup: bool,
    pub created_ms: i64,
}

impl WalletRow {
    pub fn is_float(&self) -> bool {
        self.kind == WALLET_FLOAT
    }
}

pub const WALLET_FLOAT: &str = "float";
pub const WALLET_CUSTOMER: &str = "customer";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deposit_accounts)]
pub struct DepositRow {
    pub id: i64,
    pub customer_id: i64,
    pub balance: i64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deposit_entries)]
pub struct DepositEntryRow {
    pub id: i64,
    pub account_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub reference: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notes)]
pub struct NoteRow {
    pub id: Vec<u8>,
    pub wallet_id: i64,
    pub value: i64,
    pub blinding: Vec<u8>,
    pub commitment: Vec<u8>,
    pub created_tx: Vec<u8>,
    pub state: String,
    pub op_id: Option<i64>,
    pub reason: Option<String>,
    pub credited_ms: i64,
    pub spent_ms: Option<i64>,
}

impl NoteRow {
    /// The opening the bank keeps of this note (value and blinding), refused
    /// if the stored blinding is not a canonical scalar.
    pub fn opening(&self) -> Result<Opening, StoreError> {
        let blinding = <[u8; 32]>::try_from(self.blinding.as_slice())
            .ok()
            .and_then(|b| Option::<Scalar>::from(Scalar::from_canonical_bytes(b)))
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "note {}: the stored blinding is not a canonical scalar",
                    hex::encode(&self.id)
                ))
            })?;
        Ok(Opening::new(
            Amount::new(db_u64(self.value, "note value")?),
            blinding,
        ))
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = operations)]
pub struct OpRow {
    pub id: i64,
    pub kind: String,
    pub wallet_id: i64,
    pub amount: i64,
    pub to_address: Option<String>,
    pub payee_wallet_id: Option<i64>,
    pub deposit_account_id: Option<i64>,
    pub state: String,
    pub tx_id: Option<Vec<u8>>,
    pub tx: Option<Vec<u8>>,
    pub outputs: Option<String>,
    pub receipt: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub parent_id: Option<i64>,
    pub attempts: i32,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = wallet_entries)]
pub struct EntryRow {
    pub id: i64,
    pub wallet_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub kind: String,
    pub op_id: Option<i64>,
    pub note_id: Option<Vec<u8>>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = flagged_notes)]
pub struct FlaggedRow {
    pub note_id: Vec<u8>,
    pub wallet_id: i64,
    pub tx_id: Vec<u8>,
    pub reason: String,
    pub flagged_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chain_alarms)]
pub struct AlarmRow {
    pub id: i64,
    pub kind: String,
    pub height: i64,
    pub detail: String,
    pub raised_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chain_headers)]
pub struct HeaderRow {
    pub height: i64,
    pub hash: Vec<u8>,
    pub header: Vec<u8>,
    pub signature: Vec<u8>,
    pub seen_ms: i64,
}

/// Operation states.
pub mod op_state {
    pub const RESERVED: &str = "reserved";
    pub const BUILT: &str = "built";
    pub const FINAL: &str = "final";
    pub const FAILED: &str = "failed";
    pub const REFUSED: &str = "refused";
    /// The states of an operation still in flight.
    pub const OPEN: [&str; 2] = [RESERVED, BUILT];
}

/// Note states.
pub mod note_state {
    pub const UNSPENT: &str = "unspent";
    pub const RESERVED: &str = "reserved";
    pub const SPENT: &str = "spent";
    pub const HELD: &str = "held";
}
