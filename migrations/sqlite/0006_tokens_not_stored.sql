-- Tokens are no longer stored: a database backup must not hold a spendable token for every
-- voucher. Ed25519 signing is deterministic, so the token is signed again from its fields when
-- it is needed; this column says with which voucher key. The old `token` column stays, emptied
-- at start-up by the service (`Store::scrub_stored_tokens`), until a later migration drops it.
ALTER TABLE vouchers ADD COLUMN token_key_id BLOB;
