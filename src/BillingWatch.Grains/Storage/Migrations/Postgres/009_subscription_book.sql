-- The subscription book: each subscription of a tenant, per mode, as its events leave it. Written by the
-- tenant's detection only; lapse_due_at is indexed so that a check reads only the subscriptions due.
CREATE TABLE IF NOT EXISTS subscriptions
(
    tenant_id              TEXT    NOT NULL,
    livemode               BOOLEAN NOT NULL,
    id                     TEXT    COLLATE "C" NOT NULL, -- bytewise order, as in SQLite, for cursors
    customer               TEXT    NULL,
    status                 TEXT    NOT NULL,
    currency               TEXT    NULL,
    monthly_recurring      BIGINT  NOT NULL DEFAULT 0, -- minor units a month
    price_id               TEXT    NULL,
    quantity               BIGINT  NOT NULL DEFAULT 0,
    billing_interval       TEXT    NULL,
    interval_count         INTEGER NOT NULL DEFAULT 1,
    current_period_start   BIGINT  NULL, -- unix seconds, like every time below
    current_period_end     BIGINT  NULL,
    trial_end              BIGINT  NULL,
    cancel_at              BIGINT  NULL,
    cancel_at_period_end   BOOLEAN NOT NULL DEFAULT FALSE,
    canceled_at            BIGINT  NULL,
    state_at               BIGINT  NOT NULL,
    last_invoice_at        BIGINT  NULL,
    last_paid_invoice      TEXT    NULL,
    last_paid_at           BIGINT  NULL,
    failed_attempts        INTEGER NOT NULL DEFAULT 0,
    last_failed_at         BIGINT  NULL,
    billed_from            BIGINT  NOT NULL,
    last_renewal_at        BIGINT  NULL,
    last_renewal_invoice   TEXT    NULL,
    last_renewal_event     TEXT    NULL,
    last_renewal_reason    TEXT    NULL,
    lapse_judged_for       BIGINT  NOT NULL DEFAULT 0,
    lapse_due_at           BIGINT  NULL,
    updated_at             BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, livemode, id)
);
CREATE INDEX IF NOT EXISTS ix_subscriptions_due ON subscriptions (tenant_id, livemode, lapse_due_at) WHERE lapse_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_subscriptions_customer ON subscriptions (tenant_id, livemode, customer);
