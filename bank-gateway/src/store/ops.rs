//! Operations: the durable state machine of every movement of money.
//!
//! `reserve` (limits checked, notes reserved, the payer debited, a deposit
//! debited for a fund) → `record_built` (the signed transaction stored
//! before it is ever sent) → `finalize` (the receipt checked: reserved notes
//! spent, outputs credited, a deposit credited for a defund) or `fail` (the
//! ledger refused it: everything `reserve` did is undone). Each is one
//! database transaction that moves the state from the one it expects, so a
//! restarted gateway or another replica can take any operation up where it
//! stopped and apply each step once.

use cbdc_db::AnyConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::rows::*;
use super::schema::*;
use super::{db_i64, db_u64, now_ms, StoreError};
use crate::config::{TierLimits, Tiers};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A customer pays an address (at this bank or another).
    Pay,
    /// Deposit → wallet, out of the bank's float.
    Fund,
    /// Wallet → deposit, back into the float.
    Defund,
    /// The waterfall: a wallet's excess over its holding limit to its deposit.
    Sweep,
    /// The float's excess over its high threshold, redeemed at the central bank.
    Redeem,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Pay => "pay",
            OpKind::Fund => "fund",
            OpKind::Defund => "defund",
            OpKind::Sweep => "sweep",
            OpKind::Redeem => "redeem",
        }
    }

    pub fn parse(text: &str) -> Option<OpKind> {
        Some(match text {
            "pay" => OpKind::Pay,
            "fund" => OpKind::Fund,
            "defund" => OpKind::Defund,
            "sweep" => OpKind::Sweep,
            "redeem" => OpKind::Redeem,
            _ => return None,
        })
    }
}

/// An operation asked for.
#[derive(Debug, Clone)]
pub struct OpRequest {
    pub kind: OpKind,
    /// The wallet whose notes pay (the float for a fund or a redeem).
    pub wallet_id: i64,
    pub amount: u64,
    /// Where the money goes (`None` for a redeem).
    pub to_address: Option<String>,
    /// The wallet at this bank the money goes to, if any.
    pub payee_wallet_id: Option<i64>,
    /// The deposit account debited (fund) or credited (defund, sweep).
    pub deposit_account_id: Option<i64>,
    /// Scoped by the caller: the same key is the same request.
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub parent_id: Option<i64>,
}

/// Why an operation was refused before it reached the ledger. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
    /// The limit that refused it, and what is left of it.
    pub limit: Option<String>,
    pub remaining: Option<u64>,
}

impl Refusal {
    fn new(code: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            code: code.into(),
            message: message.into(),
            limit: None,
            remaining: None,
        }
    }

    fn limit(limit: &str, remaining: u64, message: impl Into<String>) -> Refusal {
        Refusal {
            code: format!("{limit}_limit"),
            message: message.into(),
            limit: Some(limit.into()),
            remaining: Some(remaining),
        }
    }
}

/// The refusal of a payment that would fit once another payment of the
/// same wallet is final (its change back): not recorded under the
/// idempotency key, since trying again soon may succeed.
pub const NOTES_IN_FLIGHT: &str = "notes_in_flight";

#[derive(Debug)]
pub enum Reserved {
    /// A new operation, reserved; drive it.
    New(OpRow),
    /// The idempotency key's first request (same body): its operation as it is now.
    Existing(OpRow),
    /// The idempotency key was used with another body.
    KeyReused(OpRow),
    /// Refused (and, with an idempotency key, recorded as refused).
    Refused(Refusal, Option<OpRow>),
}

/// An output of a built transaction the bank keeps the opening of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredOutput {
    /// Note id, hex.
    pub note: String,
    /// The wallet at this bank that owns it (`None`: paid away).
    pub wallet_id: Option<i64>,
    pub value: u64,
    /// Blinding, hex (the opening).
    pub blinding: String,
    /// Commitment, hex.
    pub commitment: String,
    pub change: bool,
}

pub fn wallet(conn: &mut AnyConnection, id: i64) -> Result<Option<WalletRow>, StoreError> {
    Ok(wallets::table
        .find(id)
        .select(WalletRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn float_wallet(conn: &mut AnyConnection) -> Result<WalletRow, StoreError> {
    wallets::table
        .filter(wallets::kind.eq(WALLET_FLOAT))
        .select(WalletRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::Corrupt("the float wallet is missing".into()))
}

pub fn wallet_by_address(
    conn: &mut AnyConnection,
    address: &str,
) -> Result<Option<WalletRow>, StoreError> {
    Ok(wallets::table
        .filter(wallets::address.eq(address))
        .select(WalletRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn wallet_by_spend_key(
    conn: &mut AnyConnection,
    key: &[u8],
) -> Result<Option<WalletRow>, StoreError> {
    Ok(wallets::table
        .filter(wallets::spend_key.eq(key))
        .select(WalletRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn customer(conn: &mut AnyConnection, id: i64) -> Result<Option<CustomerRow>, StoreError> {
    Ok(customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn op(conn: &mut AnyConnection, id: i64) -> Result<Option<OpRow>, StoreError> {
    Ok(operations::table
        .find(id)
        .select(OpRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn op_by_tx(conn: &mut AnyConnection, tx_id: &[u8]) -> Result<Option<OpRow>, StoreError> {
    Ok(operations::table
        .filter(operations::tx_id.eq(tx_id))
        .select(OpRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn op_by_key(conn: &mut AnyConnection, key: &str) -> Result<Option<OpRow>, StoreError> {
    Ok(operations::table
        .filter(operations::idempotency_key.eq(key))
        .select(OpRow::as_select())
        .first(conn)
        .optional()?)
}

/// Takes the row lock of each wallet, in id order (so two operations over
/// the same wallets never wait on each other in a cycle).
fn lock_wallets(conn: &mut AnyConnection, ids: &[i64]) -> Result<(), StoreError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        diesel::update(wallets::table.find(id))
            .set(wallets::balance.eq(wallets::balance))
            .execute(conn)?;
    }
    Ok(())
}

/// The tier limits of a customer wallet (`None` for the float).
pub fn wallet_limits(
    conn: &mut AnyConnection,
    wallet: &WalletRow,
    tiers: &Tiers,
) -> Result<Option<(String, TierLimits)>, StoreError> {
    let Some(customer_id) = wallet.customer_id else {
        return Ok(None);
    };
    let customer = customer(conn, customer_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("wallet {} has no customer", wallet.id)))?;
    let limits = tiers.get(&customer.tier).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "customer {} has tier {}, which is not configured",
            customer.id, customer.tier
        ))
    })?;
    Ok(Some((customer.tier, limits)))
}

/// Money on its way into `wallet_id` by open operations (counted against its
/// holding limit).
pub fn pending_in(conn: &mut AnyConnection, wallet_id: i64) -> Result<u64, StoreError> {
    let amounts: Vec<i64> = operations::table
        .filter(operations::payee_wallet_id.eq(wallet_id))
        .filter(operations::state.eq_any(op_state::OPEN))
        .select(operations::amount)
        .load(conn)?;
    sum(&amounts)
}

/// The start of the UTC day `now_ms` falls in.
pub fn day_start_ms(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(86_400_000)
}

/// What `wallet_id` has paid out since the start of today (UTC), counting
/// payments in flight and final, not refused or failed ones.
pub fn paid_today(conn: &mut AnyConnection, wallet_id: i64, now: i64) -> Result<u64, StoreError> {
    let amounts: Vec<i64> = operations::table
        .filter(operations::wallet_id.eq(wallet_id))
        .filter(operations::kind.eq(OpKind::Pay.as_str()))
        .filter(operations::state.eq_any([op_state::RESERVED, op_state::BUILT, op_state::FINAL]))
        .filter(operations::created_ms.ge(day_start_ms(now)))
        .select(operations::amount)
        .load(conn)?;
    sum(&amounts)
}

fn sum(values: &[i64]) -> Result<u64, StoreError> {
    values.iter().try_fold(0u64, |acc, v| {
        acc.checked_add(db_u64(*v, "amount")?)
            .ok_or(StoreError::OutOfRange("sum of amounts"))
    })
}

/// Checks a credit of `amount` into `wallet` against its holding limit:
/// `Ok(None)` if it fits, `Ok(Some(excess))` if it does not.
pub fn holding_excess(
    conn: &mut AnyConnection,
    wallet: &WalletRow,
    tiers: &Tiers,
    amount: u64,
) -> Result<Option<(u64, u64)>, StoreError> {
    let Some((_, limits)) = wallet_limits(conn, wallet, tiers)? else {
        return Ok(None);
    };
    let holding = db_u64(wallet.balance, "balance")?
        .saturating_add(pending_in(conn, wallet.id)?)
        .saturating_add(amount);
    if holding > limits.balance_max {
        let room = limits
            .balance_max
            .saturating_sub(holding.saturating_sub(amount));
        Ok(Some((holding - limits.balance_max, room)))
    } else {
        Ok(None)
    }
}

/// Reserves an operation: checks the idempotency key, the wallets' state,
/// the tier limits and the funds, selects and reserves notes, debits the
/// payer (and a deposit for a fund), and records the operation — all in one
/// database transaction; the caller runs it in [`super::Store::write`].
pub fn reserve(
    conn: &mut AnyConnection,
    request: &OpRequest,
    tiers: &Tiers,
) -> Result<Reserved, StoreError> {
    let now = now_ms();
    let mut lock = vec![request.wallet_id];
    lock.extend(request.payee_wallet_id);
    // The lock first: two requests with one key (scoped to the wallet) wait
    // for each other here, and the second finds the first's row.
    lock_wallets(conn, &lock)?;
    if let Some(key) = &request.idempotency_key {
        if let Some(existing) = op_by_key(conn, key)? {
            return Ok(if existing.request_hash == request.request_hash {
                Reserved::Existing(existing)
            } else {
                Reserved::KeyReused(existing)
            });
        }
    }
    match check(conn, request, tiers, now)? {
        Ok(notes) => {
            let op = insert_op(conn, request, op_state::RESERVED, None, now)?;
            apply_reservation(conn, request, &op, &notes, now)?;
            Ok(Reserved::New(op))
        }
        Err(refusal) if refusal.code == NOTES_IN_FLIGHT => Ok(Reserved::Refused(refusal, None)),
        Err(refusal) => {
            let recorded = match &request.idempotency_key {
                Some(_) => Some(insert_op(
                    conn,
                    request,
                    op_state::REFUSED,
                    Some(&refusal),
                    now,
                )?),
                None => None,
            };
            Ok(Reserved::Refused(refusal, recorded))
        }
    }
}

fn insert_op(
    conn: &mut AnyConnection,
    request: &OpRequest,
    state: &str,
    refusal: Option<&Refusal>,
    now: i64,
) -> Result<OpRow, StoreError> {
    let id: i64 = diesel::insert_into(operations::table)
        .values((
            operations::kind.eq(request.kind.as_str()),
            operations::wallet_id.eq(request.wallet_id),
            operations::amount.eq(db_i64(request.amount, "amount")?),
            operations::to_address.eq(&request.to_address),
            operations::payee_wallet_id.eq(request.payee_wallet_id),
            operations::deposit_account_id.eq(request.deposit_account_id),
            operations::state.eq(state),
            operations::error_code.eq(refusal.map(|r| r.code.clone())),
            operations::error_message
                .eq(refusal.map(|r| serde_json::to_string(r).expect("refusals serialise"))),
            operations::idempotency_key.eq(&request.idempotency_key),
            operations::request_hash.eq(&request.request_hash),
            operations::parent_id.eq(request.parent_id),
            operations::attempts.eq(0),
            operations::created_ms.eq(now),
            operations::updated_ms.eq(now),
        ))
        .returning(operations::id)
        .get_result(conn)?;
    op(conn, id)?.ok_or_else(|| StoreError::Corrupt("an inserted operation vanished".into()))
}

/// The checks of [`reserve`]; `Ok(Ok(notes))` are the notes to reserve.
fn check(
    conn: &mut AnyConnection,
    request: &OpRequest,
    tiers: &Tiers,
    now: i64,
) -> Result<Result<Vec<NoteRow>, Refusal>, StoreError> {
    let payer = wallet(conn, request.wallet_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("no wallet {}", request.wallet_id)))?;
    let amount = request.amount;
    if amount == 0 {
        return Ok(Err(Refusal::new(
            "zero_amount",
            "the amount must be positive",
        )));
    }
    if db_i64(amount, "amount").is_err() {
        return Ok(Err(Refusal::new(
            "amount_too_large",
            "the amount exceeds 2^63 - 1",
        )));
    }
    match request.kind {
        OpKind::Pay | OpKind::Defund => {
            if payer.frozen {
                return Ok(Err(Refusal::new(
                    "wallet_frozen",
                    format!("wallet {} is frozen: it cannot pay or defund", payer.id),
                )));
            }
        }
        OpKind::Fund => {
            let payee_id = request.payee_wallet_id.unwrap_or_default();
            let payee = wallet(conn, payee_id)?
                .ok_or_else(|| StoreError::Corrupt(format!("no wallet {payee_id}")))?;
            if payee.frozen {
                return Ok(Err(Refusal::new(
                    "wallet_frozen",
                    format!("wallet {} is frozen: it cannot be funded", payee.id),
                )));
            }
            if let Some((_, room)) = holding_excess(conn, &payee, tiers, amount)? {
                return Ok(Err(Refusal::limit(
                    "balance",
                    room,
                    format!(
                        "funding {amount} would take wallet {} over its balance limit; {room} \
                         fits",
                        payee.id
                    ),
                )));
            }
            let account = request.deposit_account_id.unwrap_or_default();
            let deposit = deposit_balance(conn, account)?;
            if deposit < amount {
                return Ok(Err(Refusal {
                    code: "insufficient_deposit".into(),
                    message: format!("deposit account {account} holds {deposit}, {amount} needed"),
                    limit: None,
                    remaining: Some(deposit),
                }));
            }
        }
        OpKind::Sweep | OpKind::Redeem => {}
    }
    if request.kind == OpKind::Pay {
        if let Some(refusal) = pay_limits(conn, &payer, request, tiers, now)? {
            return Ok(Err(refusal));
        }
    }
    let balance = db_u64(payer.balance, "balance")?;
    if balance < amount {
        let code = if payer.is_float() {
            "insufficient_float"
        } else {
            "insufficient_funds"
        };
        return Ok(Err(Refusal {
            code: code.into(),
            message: format!("wallet {} holds {balance}, {amount} needed", payer.id),
            limit: None,
            remaining: Some(balance),
        }));
    }
    select_notes(conn, payer.id, amount)
}

/// The limits a payment answers to besides the funds: the payer's tier
/// (per payment, per day) and, at this bank, the payee's state and holding
/// limit. The reverse waterfall asks these before it tops a payment up.
pub fn pay_limits(
    conn: &mut AnyConnection,
    payer: &WalletRow,
    request: &OpRequest,
    tiers: &Tiers,
    now: i64,
) -> Result<Option<Refusal>, StoreError> {
    let amount = request.amount;
    if let Some((tier, limits)) = wallet_limits(conn, payer, tiers)? {
        if amount > limits.per_payment_max {
            return Ok(Some(Refusal::limit(
                "per_payment",
                limits.per_payment_max,
                format!(
                    "{amount} exceeds the {tier} tier's per-payment limit of {}",
                    limits.per_payment_max
                ),
            )));
        }
        let today = paid_today(conn, payer.id, now)?;
        let left = limits.per_day_max.saturating_sub(today);
        if amount > left {
            return Ok(Some(Refusal::limit(
                "per_day",
                left,
                format!(
                    "{amount} exceeds what is left of the {tier} tier's daily limit of {} \
                     today: {left}",
                    limits.per_day_max
                ),
            )));
        }
    }
    if let Some(payee_id) = request.payee_wallet_id {
        let payee = wallet(conn, payee_id)?
            .ok_or_else(|| StoreError::Corrupt(format!("no wallet {payee_id}")))?;
        if payee.frozen {
            return Ok(Some(Refusal::new(
                "payee_frozen",
                "the payee's wallet is frozen and cannot be paid into",
            )));
        }
        if payee.deposit_account_id.is_none() {
            if let Some((_, room)) = holding_excess(conn, &payee, tiers, amount)? {
                return Ok(Some(Refusal::limit(
                    "payee_balance",
                    room,
                    format!(
                        "paying {amount} would take the payee over its balance limit (it \
                         has no linked deposit account to sweep to); {room} fits"
                    ),
                )));
            }
        }
    }
    Ok(None)
}

/// Largest notes first, as few as pay `amount`, at most the core's input limit.
fn select_notes(
    conn: &mut AnyConnection,
    wallet_id: i64,
    amount: u64,
) -> Result<Result<Vec<NoteRow>, Refusal>, StoreError> {
    let candidates: Vec<NoteRow> = notes::table
        .filter(notes::wallet_id.eq(wallet_id))
        .filter(notes::state.eq(note_state::UNSPENT))
        .order((notes::value.desc(), notes::id.asc()))
        .limit(i64::try_from(ledger_core::tx::INPUTS_MAX).unwrap_or(16))
        .select(NoteRow::as_select())
        .load(conn)?;
    let mut chosen = Vec::new();
    let mut total = 0u64;
    for note in candidates {
        if total >= amount {
            break;
        }
        total = total.saturating_add(db_u64(note.value, "note value")?);
        chosen.push(note);
    }
    if total < amount {
        // The balance covers it (checked before), so either the money sits
        // in more notes than one transaction spends, or part of it is in
        // notes another payment of this wallet has reserved and whose
        // change is not back yet.
        let reserved = notes::table
            .filter(notes::wallet_id.eq(wallet_id))
            .filter(notes::state.eq(note_state::RESERVED))
            .count()
            .get_result::<i64>(conn)?;
        if reserved > 0 {
            return Ok(Err(Refusal::new(
                NOTES_IN_FLIGHT,
                "part of this wallet's money is in a payment still in flight; try again in a \
                 moment",
            )));
        }
        return Ok(Err(Refusal::new(
            "too_many_notes",
            format!(
                "paying {amount} needs more than {} notes of this wallet; pay less, or receive \
                 into fewer, larger notes",
                ledger_core::tx::INPUTS_MAX
            ),
        )));
    }
    Ok(Ok(chosen))
}

fn apply_reservation(
    conn: &mut AnyConnection,
    request: &OpRequest,
    op: &OpRow,
    chosen: &[NoteRow],
    now: i64,
) -> Result<(), StoreError> {
    for note in chosen {
        let updated = diesel::update(
            notes::table
                .filter(notes::id.eq(&note.id))
                .filter(notes::state.eq(note_state::UNSPENT)),
        )
        .set((
            notes::state.eq(note_state::RESERVED),
            notes::op_id.eq(op.id),
        ))
        .execute(conn)?;
        if updated != 1 {
            return Err(StoreError::Corrupt(
                "a note selected under the wallet's lock was taken".into(),
            ));
        }
    }
    let kind = match request.kind {
        OpKind::Pay => "payment_out",
        OpKind::Fund => "fund_out",
        OpKind::Defund => "defund",
        OpKind::Sweep => "sweep",
        OpKind::Redeem => "redeem",
    };
    add_to_wallet(
        conn,
        request.wallet_id,
        -db_i64(request.amount, "amount")?,
        kind,
        Some(op.id),
        None,
        now,
    )?;
    if request.kind == OpKind::Fund {
        let account = request.deposit_account_id.unwrap_or_default();
        deposit_add(
            conn,
            account,
            -db_i64(request.amount, "amount")?,
            &format!("fund:{}", op.id),
            now,
        )?;
    }
    Ok(())
}

/// Adds `amount` (signed) to a wallet's balance with a history row.
pub fn add_to_wallet(
    conn: &mut AnyConnection,
    wallet_id: i64,
    amount: i64,
    kind: &str,
    op_id: Option<i64>,
    note_id: Option<&[u8]>,
    now: i64,
) -> Result<i64, StoreError> {
    let balance: i64 = diesel::update(wallets::table.find(wallet_id))
        .set(wallets::balance.eq(wallets::balance + amount))
        .returning(wallets::balance)
        .get_result(conn)?;
    if balance < 0 {
        return Err(StoreError::Corrupt(format!(
            "wallet {wallet_id} would go negative"
        )));
    }
    diesel::insert_into(wallet_entries::table)
        .values((
            wallet_entries::wallet_id.eq(wallet_id),
            wallet_entries::amount.eq(amount),
            wallet_entries::balance_after.eq(balance),
            wallet_entries::kind.eq(kind),
            wallet_entries::op_id.eq(op_id),
            wallet_entries::note_id.eq(note_id),
            wallet_entries::created_ms.eq(now),
        ))
        .execute(conn)?;
    Ok(balance)
}

pub fn deposit_balance(conn: &mut AnyConnection, account: i64) -> Result<u64, StoreError> {
    let balance: Option<i64> = deposit_accounts::table
        .find(account)
        .select(deposit_accounts::balance)
        .first(conn)
        .optional()?;
    db_u64(balance.unwrap_or(0), "deposit balance")
}

/// Adds `amount` (signed) to a deposit account with an entry whose
/// `reference` is unique (so one effect is booked once).
pub fn deposit_add(
    conn: &mut AnyConnection,
    account: i64,
    amount: i64,
    reference: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let balance: i64 = diesel::update(deposit_accounts::table.find(account))
        .set(deposit_accounts::balance.eq(deposit_accounts::balance + amount))
        .returning(deposit_accounts::balance)
        .get_result(conn)?;
    diesel::insert_into(deposit_entries::table)
        .values((
            deposit_entries::account_id.eq(account),
            deposit_entries::amount.eq(amount),
            deposit_entries::balance_after.eq(balance),
            deposit_entries::reference.eq(reference),
            deposit_entries::created_ms.eq(now),
        ))
        .execute(conn)?;
    Ok(balance)
}

/// Stores the built transaction of a reserved operation (before it is ever
/// sent). `false` if another replica stored one first (use that one).
pub fn record_built(
    conn: &mut AnyConnection,
    op_id: i64,
    tx_id: &[u8],
    tx: &[u8],
    outputs: &[StoredOutput],
) -> Result<bool, StoreError> {
    let outputs = serde_json::to_string(outputs).expect("outputs serialise");
    let updated = diesel::update(
        operations::table
            .filter(operations::id.eq(op_id))
            .filter(operations::state.eq(op_state::RESERVED)),
    )
    .set((
        operations::state.eq(op_state::BUILT),
        operations::tx_id.eq(tx_id),
        operations::tx.eq(tx),
        operations::outputs.eq(outputs),
        operations::updated_ms.eq(now_ms()),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Counts an attempt to submit (for the operator's view and back-off).
pub fn count_attempt(conn: &mut AnyConnection, op_id: i64, why: &str) -> Result<(), StoreError> {
    diesel::update(operations::table.find(op_id))
        .set((
            operations::attempts.eq(operations::attempts + 1),
            operations::error_message.eq(why),
            operations::updated_ms.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(())
}

/// What finalising or crediting started that must be driven next (a sweep).
#[derive(Debug, Default)]
pub struct FollowUps {
    pub ops: Vec<i64>,
}

/// Applies a built operation whose receipt was checked: its reserved notes
/// spent, its outputs credited. `None` if it was no longer `built` (another
/// replica finalised it).
pub fn finalize(
    conn: &mut AnyConnection,
    op_id: i64,
    receipt: &str,
    tiers: &Tiers,
) -> Result<Option<FollowUps>, StoreError> {
    let Some(op) = op(conn, op_id)? else {
        return Ok(None);
    };
    // The float too: a credit past a holding limit starts a sweep into it.
    let float_id = float_wallet(conn)?.id;
    let mut lock = vec![op.wallet_id, float_id];
    lock.extend(op.payee_wallet_id);
    lock_wallets(conn, &lock)?;
    let now = now_ms();
    let updated = diesel::update(
        operations::table
            .filter(operations::id.eq(op_id))
            .filter(operations::state.eq(op_state::BUILT)),
    )
    .set((
        operations::state.eq(op_state::FINAL),
        operations::receipt.eq(receipt),
        operations::error_message.eq(None::<String>),
        operations::updated_ms.eq(now),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    let kind = OpKind::parse(&op.kind)
        .ok_or_else(|| StoreError::Corrupt(format!("operation kind {}", op.kind)))?;
    diesel::update(
        notes::table
            .filter(notes::op_id.eq(op_id))
            .filter(notes::state.eq(note_state::RESERVED)),
    )
    .set((notes::state.eq(note_state::SPENT), notes::spent_ms.eq(now)))
    .execute(conn)?;
    let outputs: Vec<StoredOutput> = serde_json::from_str(op.outputs.as_deref().unwrap_or("[]"))
        .map_err(|e| StoreError::Corrupt(format!("operation {op_id} outputs: {e}")))?;
    let tx_id = op.tx_id.clone().unwrap_or_default();
    let mut follow = FollowUps::default();
    for output in outputs {
        let Some(wallet_id) = output.wallet_id else {
            continue;
        };
        let note = NewNote {
            id: hex_bytes(&output.note)?,
            wallet_id,
            value: output.value,
            blinding: hex_bytes(&output.blinding)?,
            commitment: hex_bytes(&output.commitment)?,
            created_tx: tx_id.clone(),
        };
        if output.change {
            insert_note(conn, &note, note_state::UNSPENT, None, now)?;
            continue;
        }
        let entry = match kind {
            OpKind::Pay => "payment_in",
            OpKind::Fund => "fund",
            OpKind::Defund | OpKind::Sweep => "defund_in",
            OpKind::Redeem => "redeem_in",
        };
        if let Some(sweep) = credit(conn, &note, entry, Some(op_id), tiers, now)? {
            follow.ops.push(sweep);
        }
    }
    if matches!(kind, OpKind::Defund | OpKind::Sweep) {
        if let Some(account) = op.deposit_account_id {
            deposit_add(
                conn,
                account,
                op.amount,
                &format!("{}:{op_id}", op.kind),
                now,
            )?;
        }
    }
    Ok(Some(follow))
}

/// Undoes a reserved or built operation the ledger refused (or that could
/// not be built): notes back to unspent, the payer and a fund's deposit
/// credited back. `false` if it was not open any more.
pub fn fail(
    conn: &mut AnyConnection,
    op_id: i64,
    code: &str,
    message: &str,
) -> Result<bool, StoreError> {
    let Some(op) = op(conn, op_id)? else {
        return Ok(false);
    };
    lock_wallets(conn, &[op.wallet_id])?;
    let now = now_ms();
    let updated = diesel::update(
        operations::table
            .filter(operations::id.eq(op_id))
            .filter(operations::state.eq_any(op_state::OPEN)),
    )
    .set((
        operations::state.eq(op_state::FAILED),
        operations::error_code.eq(code),
        operations::error_message.eq(message),
        operations::updated_ms.eq(now),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    diesel::update(
        notes::table
            .filter(notes::op_id.eq(op_id))
            .filter(notes::state.eq(note_state::RESERVED)),
    )
    .set((
        notes::state.eq(note_state::UNSPENT),
        notes::op_id.eq(None::<i64>),
    ))
    .execute(conn)?;
    add_to_wallet(
        conn,
        op.wallet_id,
        op.amount,
        "reversal",
        Some(op_id),
        None,
        now,
    )?;
    if op.kind == OpKind::Fund.as_str() {
        if let Some(account) = op.deposit_account_id {
            deposit_add(
                conn,
                account,
                op.amount,
                &format!("fund-reversal:{op_id}"),
                now,
            )?;
        }
    }
    Ok(true)
}

/// A note the bank learned the opening of.
#[derive(Debug, Clone)]
pub struct NewNote {
    pub id: Vec<u8>,
    pub wallet_id: i64,
    pub value: u64,
    pub blinding: Vec<u8>,
    pub commitment: Vec<u8>,
    pub created_tx: Vec<u8>,
}

/// Inserts a note unless its id is known; whether it was inserted.
fn insert_note(
    conn: &mut AnyConnection,
    note: &NewNote,
    state: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let exists = notes::table
        .find(&note.id)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    diesel::insert_into(notes::table)
        .values((
            notes::id.eq(&note.id),
            notes::wallet_id.eq(note.wallet_id),
            notes::value.eq(db_i64(note.value, "note value")?),
            notes::blinding.eq(&note.blinding),
            notes::commitment.eq(&note.commitment),
            notes::created_tx.eq(&note.created_tx),
            notes::state.eq(state),
            notes::reason.eq(reason),
            notes::credited_ms.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn note_known(conn: &mut AnyConnection, id: &[u8]) -> Result<bool, StoreError> {
    Ok(notes::table.find(id).count().get_result::<i64>(conn)? > 0
        || flagged_notes::table
            .find(id)
            .count()
            .get_result::<i64>(conn)?
            > 0)
}

/// Credits a note paid to one of the bank's wallets, once: a frozen wallet's
/// note is held; one that would take a customer over the holding limit is
/// credited and the excess swept to the linked deposit account (the
/// waterfall) or, without one, held for an operator. Returns the sweep
/// operation started, if any. The caller holds the wallet's lock or takes it
/// here.
pub fn credit(
    conn: &mut AnyConnection,
    note: &NewNote,
    entry: &str,
    op_id: Option<i64>,
    tiers: &Tiers,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let float_id = float_wallet(conn)?.id;
    lock_wallets(conn, &[note.wallet_id, float_id])?;
    if note_known(conn, &note.id)? {
        return Ok(None);
    }
    let wallet = wallet(conn, note.wallet_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("no wallet {}", note.wallet_id)))?;
    if wallet.frozen {
        insert_note(conn, note, note_state::HELD, Some("wallet_frozen"), now)?;
        return Ok(None);
    }
    // An operation being finalised is `final` already, so what is still on
    // its way in is other operations' money.
    let excess = if wallet.is_float() {
        None
    } else {
        holding_excess(conn, &wallet, tiers, note.value)?.map(|(excess, _)| excess)
    };
    match (excess, wallet.deposit_account_id) {
        (Some(_), None) => {
            insert_note(conn, note, note_state::HELD, Some("balance_limit"), now)?;
            Ok(None)
        }
        (excess, account) => {
            insert_note(conn, note, note_state::UNSPENT, None, now)?;
            add_to_wallet(
                conn,
                wallet.id,
                db_i64(note.value, "note value")?,
                entry,
                op_id,
                Some(&note.id),
                now,
            )?;
            let (Some(excess), Some(account)) = (excess, account) else {
                return Ok(None);
            };
            let float = float_wallet(conn)?;
            let sweep = OpRequest {
                kind: OpKind::Sweep,
                wallet_id: wallet.id,
                amount: excess,
                to_address: Some(float.address.clone()),
                payee_wallet_id: Some(float.id),
                deposit_account_id: Some(account),
                idempotency_key: Some(format!("sweep:{}", hex::encode(&note.id))),
                request_hash: None,
                parent_id: op_id,
            };
            match reserve(conn, &sweep, tiers)? {
                Reserved::New(op) => Ok(Some(op.id)),
                Reserved::Existing(op) => Ok(Some(op.id)),
                Reserved::KeyReused(_) => Ok(None),
                Reserved::Refused(refusal, _) => {
                    tracing::warn!(wallet = wallet.id, code = %refusal.code, "sweep refused");
                    Ok(None)
                }
            }
        }
    }
}

/// Releases a held note to its wallet (an operator action), with the same
/// rules as a new credit except that the hold is lifted. Returns the wallet
/// and the sweep started, if any.
pub fn release_held(
    conn: &mut AnyConnection,
    note_id: &[u8],
    tiers: &Tiers,
) -> Result<Result<(i64, Option<i64>), Refusal>, StoreError> {
    let Some(note) = notes::table
        .find(note_id)
        .select(NoteRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(Err(Refusal::new("unknown_note", "no such held note")));
    };
    if note.state != note_state::HELD {
        return Ok(Err(Refusal::new("not_held", "the note is not held")));
    }
    lock_wallets(conn, &[note.wallet_id])?;
    let wallet = wallet(conn, note.wallet_id)?
        .ok_or_else(|| StoreError::Corrupt("held note without wallet".into()))?;
    if wallet.frozen {
        return Ok(Err(Refusal::new(
            "wallet_frozen",
            "the wallet is frozen: unfreeze it before releasing its held notes",
        )));
    }
    let value = db_u64(note.value, "note value")?;
    if wallet.deposit_account_id.is_none() {
        if let Some((_, room)) = holding_excess(conn, &wallet, tiers, value)? {
            return Ok(Err(Refusal::limit(
                "balance",
                room,
                format!(
                    "releasing {value} would take the wallet over its balance limit and it has \
                     no linked deposit account; upgrade its tier or link an account first"
                ),
            )));
        }
    }
    diesel::delete(notes::table.find(note_id)).execute(conn)?;
    let new = NewNote {
        id: note.id,
        wallet_id: note.wallet_id,
        value,
        blinding: note.blinding,
        commitment: note.commitment,
        created_tx: note.created_tx,
    };
    let wallet_id = new.wallet_id;
    let sweep = credit(conn, &new, "released", None, tiers, now_ms())?;
    Ok(Ok((wallet_id, sweep)))
}

pub fn flag_note(
    conn: &mut AnyConnection,
    note_id: &[u8],
    wallet_id: i64,
    tx_id: &[u8],
    reason: &str,
) -> Result<bool, StoreError> {
    if note_known(conn, note_id)? {
        return Ok(false);
    }
    diesel::insert_into(flagged_notes::table)
        .values((
            flagged_notes::note_id.eq(note_id),
            flagged_notes::wallet_id.eq(wallet_id),
            flagged_notes::tx_id.eq(tx_id),
            flagged_notes::reason.eq(reason),
            flagged_notes::flagged_ms.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Operations still in flight whose last step is older than `idle_ms`: what
/// a replica resumes.
pub fn open_ops(
    conn: &mut AnyConnection,
    idle_ms: i64,
    limit: i64,
) -> Result<Vec<OpRow>, StoreError> {
    Ok(operations::table
        .filter(operations::state.eq_any(op_state::OPEN))
        .filter(operations::updated_ms.le(now_ms() - idle_ms))
        .order(operations::id.asc())
        .limit(limit)
        .select(OpRow::as_select())
        .load(conn)?)
}

pub fn reserved_notes(conn: &mut AnyConnection, op_id: i64) -> Result<Vec<NoteRow>, StoreError> {
    Ok(notes::table
        .filter(notes::op_id.eq(op_id))
        .order(notes::id.asc())
        .select(NoteRow::as_select())
        .load(conn)?)
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(text).map_err(|_| StoreError::Corrupt("stored hex".into()))
}
