-- The subscription book: each subscription of a tenant, per mode, as its events leave it. Written by the
-- tenant's detection only; lapse_due_at is indexed so that a check reads only the subscriptions due.
CREATE TABLE IF NOT EXISTS subscriptions
(
    tenant_id              TEXT    NOT NULL,
    livemode               INTEGER NOT NULL,
    id                     TEXT    NOT NULL,
    customer               TEXT    NULL,
    status                 TEXT    NOT NULL,
    currency               TEXT    NULL,
    monthly_recurring      INTEGER NOT NULL DEFAULT 0, -- minor units a month
    price_id               TEXT    NULL,
    quantity               INTEGER NOT NULL DEFAULT 0,
    billing_interval       TEXT    NULL,
    interval_count         INTEGER NOT NULL DEFAULT 1,
    current_period_start   INTEGER NULL, -- unix seconds, like every time below
    current_period_end     INTEGER NULL,
    trial_end              INTEGER NULL,
    cancel_at              INTEGER NULL,
    cancel_at_period_end   INTEGER NOT NULL DEFAULT 0,
    canceled_at            INTEGER NULL,
    state_at               INTEGER NOT NULL,
    last_invoice_at        INTEGER NULL,
    last_paid_invoice      TEXT    NULL,
    last_paid_at           INTEGER NULL,
    failed_attempts        INTEGER NOT NULL DEFAULT 0,
    last_failed_at         INTEGER NULL,
    billed_from            INTEGER NOT NULL,
    last_renewal_at        INTEGER NULL,
    last_renewal_invoice   TEXT    NULL,
    last_renewal_event     TEXT    NULL,
    last_renewal_reason    TEXT    NULL,
    lapse_judged_for       INTEGER NOT NULL DEFAULT 0,
    lapse_due_at           INTEGER NULL,
    updated_at             INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, livemode, id)
);
CREATE INDEX IF NOT EXISTS ix_subscriptions_due ON subscriptions (tenant_id, livemode, lapse_due_at) WHERE lapse_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_subscriptions_customer ON subscriptions (tenant_id, livemode, customer);
