//! Diesel table definitions, written by hand to match
//! `migrations/wallet-api/{postgres,sqlite}`.

diesel::table! {
    api_state (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    apps (id) {
        id -> Text,
        name -> Text,
        key_hash -> Binary,
        created_ms -> BigInt,
        revoked_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    wallets (id) {
        id -> Text,
        app_id -> Text,
        bank_id -> Text,
        gateway_wallet_id -> BigInt,
        address -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    wallet_tokens (hash) {
        hash -> Binary,
        wallet_id -> Text,
        app_id -> Text,
        created_ms -> BigInt,
        expires_ms -> BigInt,
        revoked_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_keys (wallet_id, key) {
        wallet_id -> Text,
        key -> Text,
        request_hash -> Binary,
        created_ms -> BigInt,
    }
}

diesel::table! {
    payment_requests (id) {
        id -> Text,
        wallet_id -> Text,
        address -> Text,
        amount -> BigInt,
        reference -> Nullable<Text>,
        created_ms -> BigInt,
        expires_ms -> BigInt,
        state -> Text,
        payer_wallet_id -> Nullable<Text>,
        payer_key -> Nullable<Text>,
        claimed_ms -> Nullable<BigInt>,
        payment_id -> Nullable<BigInt>,
        paid_ms -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    api_state,
    apps,
    wallets,
    wallet_tokens,
    idempotency_keys,
    payment_requests,
);
