//! Diesel table definitions for the ledger's store.
//!
//! Written by hand to match `migrations/ledger/{postgres,sqlite}` (the two
//! migration sets declare the same columns; `BYTEA` there is `BLOB` here and
//! in SQLite). Every byte column holds raw bytes, never text.

diesel::table! {
    chain_head (id) {
        id -> SmallInt,
        next_height -> BigInt,
        tip_hash -> Binary,
        next_event_seq -> BigInt,
        threshold -> Integer,
        supply_ceiling -> BigInt,
        outstanding -> BigInt,
    }
}

diesel::table! {
    blocks (height) {
        height -> BigInt,
        hash -> Binary,
        prev_hash -> Binary,
        merkle_root -> Binary,
        time_unix_ms -> BigInt,
        tx_count -> Integer,
        header -> Binary,
        signature -> Binary,
    }
}

diesel::table! {
    transactions (id) {
        id -> Binary,
        kind -> Text,
        encoded -> Binary,
        block_height -> BigInt,
        block_index -> Integer,
    }
}

diesel::table! {
    notes (id) {
        id -> Binary,
        owner -> Binary,
        commitment -> Binary,
        memo -> Binary,
        created_by -> Binary,
        output_index -> Integer,
        created_seq -> BigInt,
        spent_by -> Nullable<Binary>,
        spent_seq -> Nullable<BigInt>,
    }
}

diesel::table! {
    kernels (tx_id) {
        tx_id -> Binary,
        excess -> Binary,
    }
}

diesel::table! {
    issuances (tx_id) {
        tx_id -> Binary,
        amount -> BigInt,
        blinding -> Binary,
    }
}

diesel::table! {
    redemptions (tx_id) {
        tx_id -> Binary,
        amount -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        kind -> Text,
        note_id -> Binary,
        owner -> Binary,
        tx_id -> Binary,
    }
}

diesel::table! {
    participants (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        status -> Text,
        spend_public_key -> Binary,
        view_public_key -> Nullable<Binary>,
        created_at_unix_ms -> BigInt,
    }
}

diesel::table! {
    issuance_proposals (id) {
        id -> Binary,
        bank_id -> Text,
        amount -> BigInt,
        proposer_id -> Text,
        state -> Text,
        created_at_unix_ms -> BigInt,
        executed_by -> Nullable<Binary>,
    }
}

diesel::table! {
    issuance_approvals (proposal_id, officer_id) {
        proposal_id -> Binary,
        officer_id -> Text,
        approved_at_unix_ms -> BigInt,
        signature -> Binary,
    }
}

diesel::table! {
    request_nonces (key_id, nonce) {
        key_id -> Binary,
        nonce -> Binary,
        seen_at_unix_ms -> BigInt,
    }
}

diesel::table! {
    audit_runs (id) {
        id -> BigInt,
        trigger -> Text,
        state -> Text,
        started_unix_ms -> BigInt,
        finished_unix_ms -> Nullable<BigInt>,
        height -> Nullable<BigInt>,
        block_hash -> Nullable<Binary>,
        blocks -> Nullable<BigInt>,
        transactions -> Nullable<BigInt>,
        unspent_notes -> Nullable<BigInt>,
        issued -> Nullable<Text>,
        redeemed -> Nullable<Text>,
        outstanding -> Nullable<BigInt>,
        problem -> Nullable<Text>,
    }
}

diesel::joinable!(transactions -> blocks (block_height));
diesel::joinable!(kernels -> transactions (tx_id));
diesel::joinable!(issuances -> transactions (tx_id));
diesel::joinable!(redemptions -> transactions (tx_id));
diesel::joinable!(issuance_approvals -> issuance_proposals (proposal_id));

diesel::allow_tables_to_appear_in_same_query!(
    chain_head,
    blocks,
    transactions,
    notes,
    kernels,
    issuances,
    redemptions,
    events,
    participants,
    issuance_proposals,
    issuance_approvals,
    request_nonces,
    audit_runs,
);
