-- Front ends route webhook tokens and API keys by their SHA-256 (hex) through the directory, so an unknown
-- token or key costs one indexed read and no grain activation. Tenants written before this migration get
-- their hashes from the start-up migration.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS webhook_token_hash TEXT;
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS api_key_hash TEXT;
CREATE INDEX IF NOT EXISTS ix_tenants_webhook_token_hash ON tenants (webhook_token_hash);
CREATE INDEX IF NOT EXISTS ix_tenants_api_key_hash ON tenants (api_key_hash);

-- Deleted tenants whose events, anomalies and delivery log are still to be purged (in the background).
CREATE TABLE IF NOT EXISTS tenant_deletions
(
    tenant_id  TEXT    NOT NULL PRIMARY KEY,
    deleted_at BIGINT NOT NULL, -- unix milliseconds
    purged_at  BIGINT            -- unix milliseconds; null while the purge is pending
);

-- Maintenance markers (e.g. that secrets written before encryption have been encrypted).
CREATE TABLE IF NOT EXISTS maintenance
(
    name    TEXT    NOT NULL PRIMARY KEY,
    done_at BIGINT NOT NULL -- unix milliseconds
);
