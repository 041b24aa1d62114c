DROP TABLE payment_requests;
DROP TABLE idempotency_keys;
DROP TABLE wallet_tokens;
DROP TABLE wallets;
DROP TABLE apps;
DROP TABLE api_state;
