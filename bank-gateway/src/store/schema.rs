//! Diesel table definitions, written by hand to match
//! `migrations/bank-gateway/{postgres,sqlite}`.

diesel::table! {
    gateway_state (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    chain_headers (height) {
        height -> BigInt,
        hash -> Binary,
        header -> Binary,
        signature -> Binary,
        seen_ms -> BigInt,
    }
}

diesel::table! {
    chain_alarms (id) {
        id -> BigInt,
        kind -> Text,
        height -> BigInt,
        detail -> Text,
        raised_ms -> BigInt,
        acknowledged_ms -> Nullable<BigInt>,
        acknowledged_by -> Nullable<Text>,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        phone -> Text,
        national_id -> Nullable<Text>,
        tier -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    deposit_accounts (id) {
        id -> BigInt,
        customer_id -> BigInt,
        balance -> BigInt,
        created_ms -> BigInt,
    }
}

diesel::table! {
    deposit_entries (id) {
        id -> BigInt,
        account_id -> BigInt,
        amount -> BigInt,
        balance_after -> BigInt,
        reference -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    wallets (id) {
        id -> BigInt,
        customer_id -> Nullable<BigInt>,
        kind -> Text,
        address -> Text,
        spend_key -> Binary,
        view_key -> Binary,
        sealed_keys -> Nullable<Binary>,
        kek_id -> Nullable<Text>,
        balance -> BigInt,
        frozen -> Bool,
        deposit_account_id -> Nullable<BigInt>,
        auto_topup -> Bool,
        created_ms -> BigInt,
    }
}

diesel::table! {
    notes (id) {
        id -> Binary,
        wallet_id -> BigInt,
        value -> BigInt,
        blinding -> Binary,
        commitment -> Binary,
        created_tx -> Binary,
        state -> Text,
        op_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        credited_ms -> BigInt,
        spent_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    operations (id) {
        id -> BigInt,
        kind -> Text,
        wallet_id -> BigInt,
        amount -> BigInt,
        to_address -> Nullable<Text>,
        payee_wallet_id -> Nullable<BigInt>,
        deposit_account_id -> Nullable<BigInt>,
        state -> Text,
        tx_id -> Nullable<Binary>,
        tx -> Nullable<Binary>,
        outputs -> Nullable<Text>,
        receipt -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        request_hash -> Nullable<Binary>,
        parent_id -> Nullable<BigInt>,
        attempts -> Integer,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    wallet_entries (id) {
        id -> BigInt,
        wallet_id -> BigInt,
        amount -> BigInt,
        balance_after -> BigInt,
        kind -> Text,
        op_id -> Nullable<BigInt>,
        note_id -> Nullable<Binary>,
        created_ms -> BigInt,
    }
}

diesel::table! {
    flagged_notes (note_id) {
        note_id -> Binary,
        wallet_id -> BigInt,
        tx_id -> Binary,
        reason -> Text,
        flagged_ms -> BigInt,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_ms -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    customers,
    deposit_accounts,
    deposit_entries,
    wallets,
    notes,
    operations,
    wallet_entries,
    flagged_notes,
);
