//! The JSON the wallet API takes and gives. The gateway's wire types are
//! reused where this API passes them on unchanged (limits, history entries).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use gateway_client::wire::{EntriesPage, EntryView, ErrorBody, Health, Limits};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BankView {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenWalletRequest {
    /// A bank's id from `GET /v1/banks`.
    #[schema(min_length = 1, max_length = 64)]
    pub bank: String,
    /// The customer's phone number, `+` and 6 to 15 digits.
    #[schema(pattern = r"^\+[0-9]{6,15}$")]
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenedWallet {
    /// `w_` and 32 hex characters.
    pub wallet_id: String,
    pub bank: String,
    pub address: String,
    pub tier: String,
    /// The wallet token, shown once: `Authorization: Bearer <token>`.
    pub token: String,
    pub token_expires_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WalletInfo {
    pub wallet_id: String,
    pub bank: String,
    pub address: String,
    pub tier: String,
    /// Minor units.
    pub balance: u64,
    /// Paid to the wallet and held by the bank for review (not in `balance`).
    pub held: u64,
    pub frozen: bool,
    /// Payments above the balance are topped up from the linked deposit
    /// account.
    pub auto_topup: bool,
    /// Whether a deposit account is linked (fund and defund need one).
    pub linked_account: bool,
    pub limits: Limits,
    pub paid_today: u64,
    pub left_today: u64,
}

/// Exactly one of `to` (with `amount`), `request_id`, or `uri` (with
/// `amount` if the URI has none).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// The payee's address (`cbdc1…`).
    #[schema(max_length = 200)]
    pub to: Option<String>,
    /// Minor units, at least 1.
    #[schema(minimum = 1, maximum = 9223372036854775807_u64)]
    pub amount: Option<u64>,
    /// A payment request's id (`rq_…`).
    #[schema(max_length = 64)]
    pub request_id: Option<String>,
    /// A `cbdc:` payment URI (PROTOCOL.md §23).
    #[schema(max_length = 1024)]
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    /// Minor units, at least 1.
    #[schema(minimum = 1, maximum = 9223372036854775807_u64)]
    pub amount: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// On the ledger, its receipt checked by the bank.
    Final,
    /// The bank keeps trying (the ledger could not be reached, or a chain
    /// alarm holds finality): ask again by its id.
    Pending,
    /// The ledger refused it; nothing moved.
    Failed,
    /// Refused by the bank before the ledger; nothing moved.
    Refused,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    /// The bank's id of the payment (`GET …/payments/{payment_id}`).
    pub payment_id: i64,
    /// `pay`, `fund` or `defund`.
    pub kind: String,
    pub amount: u64,
    pub to: Option<String>,
    pub state: PaymentState,
    pub tx_id: Option<String>,
    /// The ledger's receipt, checked by the bank.
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
    pub pending_reason: Option<String>,
    /// `same_bank` or `other_bank`, for a payment.
    pub payee: Option<String>,
    /// Reverse waterfall: what was funded from the deposit account first.
    pub topped_up: Option<u64>,
    /// The payment request this paid.
    pub request_id: Option<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPaymentRequest {
    /// Minor units, at least 1.
    #[schema(minimum = 1, maximum = 9223372036854775807_u64)]
    pub amount: u64,
    /// Shown to the payer: 1 to 140 characters, no control characters.
    #[schema(min_length = 1, max_length = 140)]
    pub reference: Option<String>,
    /// Seconds until it expires: 60 to 604,800 (7 days); 900 if not given.
    #[schema(minimum = 60, maximum = 604800)]
    pub expires_in_s: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Open,
    /// A payer's payment is in flight.
    Paying,
    Paid,
    Cancelled,
    /// Open, and past its expiry.
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentRequestView {
    /// `rq_` and 32 hex characters.
    pub request_id: String,
    /// The payee's address.
    pub address: String,
    pub amount: u64,
    pub reference: Option<String>,
    pub state: RequestState,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub paid_ms: Option<i64>,
    /// The `cbdc:` URI to show as a QR code.
    pub uri: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentRequestsPage {
    pub requests: Vec<PaymentRequestView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppCreated {
    pub app_id: String,
    pub name: String,
    /// Shown once: send it as `X-Cbdc-App-Key`.
    pub app_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppView {
    pub app_id: String,
    pub name: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// How many tokens stopped working.
    pub revoked: usize,
}
