-- Stripe sync. Events say how they arrived (0 webhook, 1 import, 2 reconciled: found missing by
-- reconciliation with Stripe's events API; imported stays true for both of the latter) and, for a Connect
-- platform, which connected account they belong to (indexed only where present).
ALTER TABLE events ADD COLUMN IF NOT EXISTS source smallint NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN IF NOT EXISTS account text NULL;
CREATE INDEX IF NOT EXISTS ix_events_account ON events (tenant_id, account, created, seq) WHERE account IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_events_reconciled ON events (tenant_id, created, seq) WHERE source = 2;

-- Where an import session came from: an upload through the API, a Stripe backfill, or a reconciliation.
ALTER TABLE import_sessions ADD COLUMN IF NOT EXISTS origin text NOT NULL DEFAULT 'upload';

-- Tenants with a Stripe connection, so the sync clock visits only them. The connection itself (the key,
-- encrypted) is the tenant's sync grain state.
CREATE TABLE IF NOT EXISTS stripe_connections
(
    tenant_id    text   NOT NULL PRIMARY KEY,
    connected_at bigint NOT NULL -- unix milliseconds
);

-- Connect platforms that fold each connected account separately name the account on its anomalies.
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS account text NULL;
CREATE INDEX IF NOT EXISTS ix_anomalies_account ON anomalies (tenant_id, account, detected_at, id) WHERE account IS NOT NULL;
