-- The outcome of a request with an idempotency key, as the use case stored it (JSON written by
-- the service layer: the answer, or the refusal). It replaces response_status and
-- response_body, which held an HTTP answer and are only read for keys stored before this
-- migration.
ALTER TABLE idempotency_keys ADD COLUMN outcome TEXT;
