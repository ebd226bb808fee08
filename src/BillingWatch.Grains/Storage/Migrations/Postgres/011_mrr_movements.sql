-- Revenue metrics (docs/METRICS.md). Every change of a subscription's counted MRR is a movement, written by
-- the subscription book in the transaction that changes the subscription; mrr_totals holds the running sum
-- per currency, so MRR at any time is the total minus the movements after it (no rescans of history).
CREATE TABLE IF NOT EXISTS mrr_movements
(
    tenant_id        text     NOT NULL,
    livemode         boolean  NOT NULL,
    at               bigint   NOT NULL, -- unix seconds, event time of the change
    subscription_id  text     NOT NULL,
    customer         text     NULL,
    currency         text     NOT NULL,
    kind             text     NOT NULL, -- new, expansion, contraction, churn, reactivation, existing
    delta            bigint   NOT NULL, -- minor units a month, signed
    subscriber_delta integer  NOT NULL  -- +1 when it starts counting, -1 when it stops, else 0
);
CREATE INDEX IF NOT EXISTS ix_mrr_movements_at ON mrr_movements (tenant_id, livemode, at);

CREATE TABLE IF NOT EXISTS mrr_totals
(
    tenant_id   text    NOT NULL,
    livemode    boolean NOT NULL,
    currency    text    NOT NULL,
    mrr         bigint  NOT NULL,
    subscribers integer NOT NULL,
    PRIMARY KEY (tenant_id, livemode, currency)
);

ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS first_counted_at bigint NULL;
