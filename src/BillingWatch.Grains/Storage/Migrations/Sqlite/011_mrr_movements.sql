-- Revenue metrics (docs/METRICS.md). Every change of a subscription's counted MRR is a movement, written by
-- the subscription book in the transaction that changes the subscription; mrr_totals holds the running sum
-- per currency, so MRR at any time is the total minus the movements after it (no rescans of history).
CREATE TABLE IF NOT EXISTS mrr_movements
(
    tenant_id        TEXT    NOT NULL,
    livemode         INTEGER NOT NULL,
    at               INTEGER NOT NULL, -- unix seconds, event time of the change
    subscription_id  TEXT    NOT NULL,
    customer         TEXT    NULL,
    currency         TEXT    NOT NULL,
    kind             TEXT    NOT NULL, -- new, expansion, contraction, churn, reactivation, existing
    delta            INTEGER NOT NULL, -- minor units a month, signed
    subscriber_delta INTEGER NOT NULL  -- +1 when it starts counting, -1 when it stops, else 0
);
CREATE INDEX IF NOT EXISTS ix_mrr_movements_at ON mrr_movements (tenant_id, livemode, at);

CREATE TABLE IF NOT EXISTS mrr_totals
(
    tenant_id   TEXT    NOT NULL,
    livemode    INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    mrr         INTEGER NOT NULL,
    subscribers INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, livemode, currency)
);

-- Whether a subscription was ever counted: its next start is a reactivation, not a new subscription.
ALTER TABLE subscriptions ADD COLUMN first_counted_at INTEGER NULL;
