//! The JSON the gateway's two APIs take and give.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, stable and machine-readable.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

// ---- internal API ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenWalletRequest {
    /// The customer's phone number, `+` and 6 to 15 digits.
    #[schema(pattern = r"^\+[0-9]{6,15}$")]
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenedWallet {
    pub wallet_id: i64,
    pub customer_id: i64,
    pub address: String,
    pub tier: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    pub balance_max: u64,
    pub per_payment_max: u64,
    pub per_day_max: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WalletView {
    pub wallet_id: i64,
    pub customer_id: i64,
    pub address: String,
    pub tier: String,
    /// Minor units.
    pub balance: u64,
    pub frozen: bool,
    pub auto_topup: bool,
    pub deposit_account_id: Option<i64>,
    pub limits: Limits,
    pub paid_today: u64,
    pub left_today: u64,
    /// Notes paid to the wallet and held for an operator (not in `balance`).
    pub held: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletSettings {
    /// The reverse waterfall: top a payment above the balance up from the
    /// linked deposit account.
    pub auto_topup: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The payee's address (`cbdc1…`).
    pub to: String,
    /// Minor units, at least 1.
    #[schema(minimum = 1, maximum = 9223372036854775807_u64)]
    pub amount: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// Minor units, at least 1.
    #[schema(minimum = 1, maximum = 9223372036854775807_u64)]
    pub amount: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// On the ledger, its receipt checked.
    Final,
    /// Submitted or about to be: the gateway keeps trying (the ledger could
    /// not be reached, or a chain alarm holds finality).
    Pending,
    /// The ledger refused it; nothing moved.
    Failed,
    /// Refused before the ledger (a limit, funds, a frozen wallet); nothing moved.
    Refused,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefusalView {
    pub code: String,
    pub message: String,
    pub limit: Option<String>,
    pub remaining: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    pub id: i64,
    /// `pay`, `fund`, `defund`, `sweep` or `redeem`.
    pub kind: String,
    pub wallet_id: i64,
    pub amount: u64,
    pub to: Option<String>,
    pub state: PaymentState,
    pub tx_id: Option<String>,
    /// The ledger's receipt, checked by the gateway.
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
    pub refusal: Option<RefusalView>,
    /// Why it is still pending.
    pub pending_reason: Option<String>,
    /// `same_bank` or `other_bank` for a payment.
    pub payee: Option<String>,
    /// Reverse waterfall: what was funded from the deposit account first.
    pub topped_up: Option<u64>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    /// Signed minor units.
    pub amount: i64,
    pub balance_after: i64,
    pub kind: String,
    pub operation_id: Option<i64>,
    pub note_id: Option<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntriesPage {
    pub entries: Vec<EntryView>,
    /// Pass as `before` (history) or `after` (statement) for the next page.
    pub next: Option<i64>,
}

// ---- operator API ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    pub customer_id: i64,
    pub phone: String,
    pub national_id: Option<String>,
    pub tier: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomersPage {
    pub customers: Vec<CustomerView>,
    pub next: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerDetail {
    pub customer: CustomerView,
    pub wallets: Vec<WalletView>,
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierRequest {
    /// One of the bank's KYC tiers (the served document lists them).
    pub tier: String,
    /// Required for any tier above the lowest: 1 to 64 characters, not all
    /// white space.
    #[schema(min_length = 1, max_length = 64, pattern = r"[^\t\n\x0b\x0c\r ]")]
    pub national_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub account_id: i64,
    pub customer_id: i64,
    pub balance: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DepositEntryView {
    pub id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub reference: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountDetail {
    pub account_id: i64,
    pub customer_id: i64,
    pub balance: u64,
    pub entries: Vec<DepositEntryView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashRequest {
    #[schema(minimum = 1, maximum = 9223372036854775807_u64)]
    pub amount: u64,
    /// Unique per cash deposit: the same reference twice is booked once
    /// (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The deposit account (of the wallet's customer), or null to unlink.
    pub account_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FloatView {
    pub balance: u64,
    pub low: u64,
    pub high: u64,
    pub target: u64,
    pub address: String,
    pub open_proposal: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FlaggedView {
    pub note_id: String,
    pub wallet_id: i64,
    pub tx_id: String,
    pub reason: String,
    pub flagged_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeldView {
    pub note_id: String,
    pub wallet_id: i64,
    pub value: u64,
    pub reason: Option<String>,
    pub tx_id: String,
    pub credited_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlarmView {
    pub kind: String,
    pub height: i64,
    pub detail: String,
    pub raised_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainView {
    pub tip_height: Option<i64>,
    pub alarm: Option<AlarmView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Acknowledged {
    pub acknowledged: usize,
}
