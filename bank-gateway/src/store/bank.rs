//! Customers, wallets, deposit accounts, the chain as verified, and the
//! operator's lists.

use cbdc_db::AnyConnection;
use diesel::prelude::*;

use super::rows::*;
use super::schema::*;
use super::{db_i64, now_ms, StoreError};

/// A wallet about to be created: its public keys and sealed secrets.
pub struct NewWallet {
    pub address: String,
    pub spend_key: Vec<u8>,
    pub view_key: Vec<u8>,
    pub sealed_keys: Vec<u8>,
    pub kek_id: String,
}

/// Creates the float's wallet row at first start; afterwards checks that
/// the bank's keys are the ones the database was created with.
pub fn ensure_float(
    conn: &mut AnyConnection,
    address: &str,
    spend_key: &[u8],
    view_key: &[u8],
) -> Result<WalletRow, StoreError> {
    if let Some(float) = wallets::table
        .filter(wallets::kind.eq(WALLET_FLOAT))
        .select(WalletRow::as_select())
        .first(conn)
        .optional()?
    {
        if float.spend_key != spend_key || float.view_key != view_key {
            return Err(StoreError::Corrupt(format!(
                "this database belongs to the bank whose float address is {}, not {address}: \
                 start the gateway with that bank's keys",
                float.address
            )));
        }
        return Ok(float);
    }
    diesel::insert_into(wallets::table)
        .values((
            wallets::kind.eq(WALLET_FLOAT),
            wallets::address.eq(address),
            wallets::spend_key.eq(spend_key),
            wallets::view_key.eq(view_key),
            wallets::balance.eq(0i64),
            wallets::frozen.eq(false),
            wallets::auto_topup.eq(false),
            wallets::created_ms.eq(now_ms()),
        ))
        .execute(conn)?;
    super::ops::float_wallet(conn)
}

pub fn customer_by_phone(
    conn: &mut AnyConnection,
    phone: &str,
) -> Result<Option<CustomerRow>, StoreError> {
    Ok(customers::table
        .filter(customers::phone.eq(phone))
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()?)
}

/// Opens a wallet for the customer with this phone number, onboarding the
/// customer at `tier` if new.
pub fn open_wallet(
    conn: &mut AnyConnection,
    phone: &str,
    tier: &str,
    wallet: &NewWallet,
) -> Result<(CustomerRow, WalletRow), StoreError> {
    let now = now_ms();
    let customer = match customer_by_phone(conn, phone)? {
        Some(c) => c,
        None => {
            diesel::insert_into(customers::table)
                .values((
                    customers::phone.eq(phone),
                    customers::tier.eq(tier),
                    customers::created_ms.eq(now),
                ))
                .execute(conn)?;
            customer_by_phone(conn, phone)?
                .ok_or_else(|| StoreError::Corrupt("an inserted customer vanished".into()))?
        }
    };
    let id: i64 = diesel::insert_into(wallets::table)
        .values((
            wallets::customer_id.eq(customer.id),
            wallets::kind.eq(WALLET_CUSTOMER),
            wallets::address.eq(&wallet.address),
            wallets::spend_key.eq(&wallet.spend_key),
            wallets::view_key.eq(&wallet.view_key),
            wallets::sealed_keys.eq(&wallet.sealed_keys),
            wallets::kek_id.eq(&wallet.kek_id),
            wallets::balance.eq(0i64),
            wallets::frozen.eq(false),
            wallets::auto_topup.eq(false),
            wallets::created_ms.eq(now),
        ))
        .returning(wallets::id)
        .get_result(conn)?;
    let wallet = super::ops::wallet(conn, id)?
        .ok_or_else(|| StoreError::Corrupt("an inserted wallet vanished".into()))?;
    Ok((customer, wallet))
}

pub fn customers_page(
    conn: &mut AnyConnection,
    after: i64,
    limit: i64,
) -> Result<Vec<CustomerRow>, StoreError> {
    Ok(customers::table
        .filter(customers::id.gt(after))
        .order(customers::id.asc())
        .limit(limit)
        .select(CustomerRow::as_select())
        .load(conn)?)
}

pub fn customer_wallets(
    conn: &mut AnyConnection,
    customer_id: i64,
) -> Result<Vec<WalletRow>, StoreError> {
    Ok(wallets::table
        .filter(wallets::customer_id.eq(customer_id))
        .order(wallets::id.asc())
        .select(WalletRow::as_select())
        .load(conn)?)
}

pub fn customer_accounts(
    conn: &mut AnyConnection,
    customer_id: i64,
) -> Result<Vec<DepositRow>, StoreError> {
    Ok(deposit_accounts::table
        .filter(deposit_accounts::customer_id.eq(customer_id))
        .order(deposit_accounts::id.asc())
        .select(DepositRow::as_select())
        .load(conn)?)
}

pub fn set_tier(
    conn: &mut AnyConnection,
    customer_id: i64,
    tier: &str,
    national_id: Option<&str>,
) -> Result<bool, StoreError> {
    let updated = diesel::update(customers::table.find(customer_id))
        .set(customers::tier.eq(tier))
        .execute(conn)?;
    if let Some(national_id) = national_id {
        diesel::update(customers::table.find(customer_id))
            .set(customers::national_id.eq(national_id))
            .execute(conn)?;
    }
    Ok(updated == 1)
}

pub fn set_frozen(
    conn: &mut AnyConnection,
    wallet_id: i64,
    frozen: bool,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        wallets::table
            .filter(wallets::id.eq(wallet_id))
            .filter(wallets::kind.eq(WALLET_CUSTOMER)),
    )
    .set(wallets::frozen.eq(frozen))
    .execute(conn)?
        == 1)
}

pub fn set_auto_topup(
    conn: &mut AnyConnection,
    wallet_id: i64,
    on: bool,
) -> Result<bool, StoreError> {
    Ok(diesel::update(wallets::table.find(wallet_id))
        .set(wallets::auto_topup.eq(on))
        .execute(conn)?
        == 1)
}

pub fn link_account(
    conn: &mut AnyConnection,
    wallet_id: i64,
    account_id: Option<i64>,
) -> Result<bool, StoreError> {
    Ok(diesel::update(wallets::table.find(wallet_id))
        .set(wallets::deposit_account_id.eq(account_id))
        .execute(conn)?
        == 1)
}

pub fn open_account(conn: &mut AnyConnection, customer_id: i64) -> Result<DepositRow, StoreError> {
    let id: i64 = diesel::insert_into(deposit_accounts::table)
        .values((
            deposit_accounts::customer_id.eq(customer_id),
            deposit_accounts::balance.eq(0i64),
            deposit_accounts::created_ms.eq(now_ms()),
        ))
        .returning(deposit_accounts::id)
        .get_result(conn)?;
    account(conn, id)?.ok_or_else(|| StoreError::Corrupt("an inserted account vanished".into()))
}

pub fn account(conn: &mut AnyConnection, id: i64) -> Result<Option<DepositRow>, StoreError> {
    Ok(deposit_accounts::table
        .find(id)
        .select(DepositRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn account_entries(
    conn: &mut AnyConnection,
    account_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<DepositEntryRow>, StoreError> {
    Ok(deposit_entries::table
        .filter(deposit_entries::account_id.eq(account_id))
        .filter(deposit_entries::id.gt(after))
        .order(deposit_entries::id.asc())
        .limit(limit)
        .select(DepositEntryRow::as_select())
        .load(conn)?)
}

/// A wallet's history, newest first, before the entry id `before`.
pub fn wallet_history(
    conn: &mut AnyConnection,
    wallet_id: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<EntryRow>, StoreError> {
    Ok(wallet_entries::table
        .filter(wallet_entries::wallet_id.eq(wallet_id))
        .filter(wallet_entries::id.lt(before))
        .order(wallet_entries::id.desc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// A wallet's statement, oldest first, after the entry id `after`.
pub fn wallet_statement(
    conn: &mut AnyConnection,
    wallet_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<EntryRow>, StoreError> {
    Ok(wallet_entries::table
        .filter(wallet_entries::wallet_id.eq(wallet_id))
        .filter(wallet_entries::id.gt(after))
        .order(wallet_entries::id.asc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?)
}

pub fn wallet_ops(
    conn: &mut AnyConnection,
    wallet_id: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<OpRow>, StoreError> {
    Ok(operations::table
        .filter(
            operations::wallet_id
                .eq(wallet_id)
                .or(operations::payee_wallet_id.eq(wallet_id)),
        )
        .filter(operations::id.lt(before))
        .order(operations::id.desc())
        .limit(limit)
        .select(OpRow::as_select())
        .load(conn)?)
}

pub fn flagged(conn: &mut AnyConnection, limit: i64) -> Result<Vec<FlaggedRow>, StoreError> {
    Ok(flagged_notes::table
        .order(flagged_notes::flagged_ms.desc())
        .limit(limit)
        .select(FlaggedRow::as_select())
        .load(conn)?)
}

pub fn held(conn: &mut AnyConnection, limit: i64) -> Result<Vec<NoteRow>, StoreError> {
    Ok(notes::table
        .filter(notes::state.eq(note_state::HELD))
        .order(notes::credited_ms.asc())
        .limit(limit)
        .select(NoteRow::as_select())
        .load(conn)?)
}

/// What is held for an operator in one wallet (in no balance).
pub fn held_total(conn: &mut AnyConnection, wallet_id: i64) -> Result<u64, StoreError> {
    let values: Vec<i64> = notes::table
        .filter(notes::wallet_id.eq(wallet_id))
        .filter(notes::state.eq(note_state::HELD))
        .select(notes::value)
        .load(conn)?;
    values.iter().try_fold(0u64, |sum, v| {
        sum.checked_add(super::db_u64(*v, "note value")?)
            .ok_or(StoreError::OutOfRange("held total"))
    })
}

/// Books a cash deposit into an account once per `reference` (a second
/// booking of one reference changes nothing). `None` if there is no such
/// account.
pub fn cash_deposit(
    conn: &mut AnyConnection,
    account_id: i64,
    amount: u64,
    reference: &str,
) -> Result<Option<DepositRow>, StoreError> {
    if account(conn, account_id)?.is_none() {
        return Ok(None);
    }
    let reference = format!("cash:{reference}");
    let booked = deposit_entries::table
        .filter(deposit_entries::reference.eq(&reference))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !booked {
        super::ops::deposit_add(
            conn,
            account_id,
            db_i64(amount, "amount")?,
            &reference,
            now_ms(),
        )?;
    }
    account(conn, account_id)
}

/// Every note the bank holds now (unspent, reserved or held): what a
/// position proof sums.
pub fn holdings(conn: &mut AnyConnection) -> Result<Vec<NoteRow>, StoreError> {
    Ok(notes::table
        .filter(notes::state.eq_any([note_state::UNSPENT, note_state::RESERVED, note_state::HELD]))
        .order(notes::id.asc())
        .select(NoteRow::as_select())
        .load(conn)?)
}

pub fn all_wallets(conn: &mut AnyConnection) -> Result<Vec<WalletRow>, StoreError> {
    Ok(wallets::table
        .order(wallets::id.asc())
        .select(WalletRow::as_select())
        .load(conn)?)
}

pub fn open_ops_all(conn: &mut AnyConnection) -> Result<Vec<OpRow>, StoreError> {
    Ok(operations::table
        .filter(operations::state.eq_any(op_state::OPEN))
        .select(OpRow::as_select())
        .load(conn)?)
}

// ---------------------------------------------------------------------------
// the chain

pub fn tip(conn: &mut AnyConnection) -> Result<Option<HeaderRow>, StoreError> {
    Ok(chain_headers::table
        .order(chain_headers::height.desc())
        .select(HeaderRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn first_header(conn: &mut AnyConnection) -> Result<Option<HeaderRow>, StoreError> {
    Ok(chain_headers::table
        .order(chain_headers::height.asc())
        .select(HeaderRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn header_at(conn: &mut AnyConnection, height: u64) -> Result<Option<HeaderRow>, StoreError> {
    Ok(chain_headers::table
        .find(db_i64(height, "height")?)
        .select(HeaderRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records a verified header; if one is recorded at its height already,
/// returns that one's hash (a second replica's, or a fork's).
pub fn insert_header(
    conn: &mut AnyConnection,
    height: u64,
    hash: &[u8],
    header: &[u8],
    signature: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    if let Some(existing) = header_at(conn, height)? {
        return Ok(Some(existing.hash));
    }
    let height_db = db_i64(height, "height")?;
    // In a savepoint: a collision with another replica's insert must not
    // abort the surrounding transaction (PostgreSQL would refuse the read
    // that follows).
    let inserted = conn.transaction(|c| {
        diesel::insert_into(chain_headers::table)
            .values((
                chain_headers::height.eq(height_db),
                chain_headers::hash.eq(hash),
                chain_headers::header.eq(header),
                chain_headers::signature.eq(signature),
                chain_headers::seen_ms.eq(now_ms()),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(None),
        Err(e) if cbdc_db::is_unique_violation(&e) => Ok(header_at(conn, height)?.map(|h| h.hash)),
        Err(e) => Err(e.into()),
    }
}

/// Forgets the verified chain (after an operator acknowledged an alarm, the
/// ledger's history from now on is checked afresh from its latest block).
pub fn clear_headers(conn: &mut AnyConnection) -> Result<(), StoreError> {
    diesel::delete(chain_headers::table).execute(conn)?;
    Ok(())
}

pub fn active_alarm(conn: &mut AnyConnection) -> Result<Option<AlarmRow>, StoreError> {
    Ok(chain_alarms::table
        .filter(chain_alarms::acknowledged_ms.is_null())
        .order(chain_alarms::id.asc())
        .select(AlarmRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn alarms(conn: &mut AnyConnection, limit: i64) -> Result<Vec<AlarmRow>, StoreError> {
    Ok(chain_alarms::table
        .order(chain_alarms::id.desc())
        .limit(limit)
        .select(AlarmRow::as_select())
        .load(conn)?)
}

/// Raises an alarm unless one is active already; whether it was raised.
pub fn raise_alarm(
    conn: &mut AnyConnection,
    kind: &str,
    height: u64,
    detail: &str,
) -> Result<bool, StoreError> {
    if active_alarm(conn)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(chain_alarms::table)
        .values((
            chain_alarms::kind.eq(kind),
            chain_alarms::height.eq(db_i64(height, "height")?),
            chain_alarms::detail.eq(detail),
            chain_alarms::raised_ms.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn acknowledge_alarms(conn: &mut AnyConnection, by: &str) -> Result<usize, StoreError> {
    Ok(
        diesel::update(chain_alarms::table.filter(chain_alarms::acknowledged_ms.is_null()))
            .set((
                chain_alarms::acknowledged_ms.eq(now_ms()),
                chain_alarms::acknowledged_by.eq(by),
            ))
            .execute(conn)?,
    )
}
