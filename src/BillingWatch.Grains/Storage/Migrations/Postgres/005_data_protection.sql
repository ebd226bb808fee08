-- The cluster's Data Protection key ring: every silo and front end encrypts and decrypts secrets at rest
-- (tenant signing secrets, alert targets and signing secrets) with these keys. A database backup without
-- this table (or without the certificate that protects its keys) cannot decrypt those secrets.
CREATE TABLE IF NOT EXISTS data_protection_keys
(
    friendly_name TEXT        NOT NULL PRIMARY KEY,
    xml           TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
