-- Orleans' ADO.NET providers (clustering, reminders, grain storage; invariant Npgsql) read their SQL
-- from OrleansQuery by key and bind parameters by name (@DeploymentId, ...). This file is the
-- project's own schema fulfilling that contract; the providers read result columns by name, which
-- Npgsql matches case-insensitively, so every result column is aliased to the contract's name.
-- Nullable parameters are cast so that PostgreSQL never has to guess the type of an untyped NULL.
CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  text NOT NULL PRIMARY KEY,
    QueryText text NOT NULL
);

-- Membership: one version row per cluster (optimistic concurrency for the whole table) and one row per
-- silo incarnation (address, port, generation).
CREATE TABLE IF NOT EXISTS orleans_membership_version
(
    deployment_id text        NOT NULL PRIMARY KEY,
    version       integer     NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orleans_membership
(
    deployment_id   text        NOT NULL REFERENCES orleans_membership_version (deployment_id),
    address         text        NOT NULL,
    port            integer     NOT NULL,
    generation      integer     NOT NULL,
    silo_name       text        NOT NULL,
    host_name       text        NOT NULL,
    status          integer     NOT NULL,
    proxy_port      integer     NULL,
    suspect_times   text        NULL,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

-- Reminders: grain_hash holds the grain's uniform hash as an unsigned 32-bit number (Orleans binds it
-- as a signed int), so ring ranges compare the way the ring does.
CREATE TABLE IF NOT EXISTS orleans_reminders
(
    service_id    text        NOT NULL,
    grain_id      text        NOT NULL,
    reminder_name text        NOT NULL,
    start_time    timestamptz NOT NULL,
    period_ms     bigint      NOT NULL,
    grain_hash    bigint      NOT NULL,
    version       integer     NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

CREATE INDEX IF NOT EXISTS ix_orleans_reminders_hash ON orleans_reminders (service_id, grain_hash);

-- Grain state. The key includes the grain type; every BillingWatch grain type also has its own state name.
CREATE TABLE IF NOT EXISTS orleans_grain_state
(
    service_id        text        NOT NULL,
    grain_type        text        NOT NULL,
    grain_id_n0       bigint      NOT NULL,
    grain_id_n1       bigint      NOT NULL,
    grain_id_ext      text        NOT NULL,
    grain_id_hash     integer     NOT NULL,
    grain_type_hash   integer     NOT NULL,
    payload           bytea       NULL,
    version           integer     NOT NULL,
    modified_at       timestamptz NOT NULL,
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
);

-- ---------------------------------------------------------------- clustering
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id) VALUES (@DeploymentId)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1)
SELECT COUNT(*) > 0 FROM created;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- Inserting a silo row and bumping the table version is one compare-and-swap on the version row.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('InsertMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version
    SET version = version + 1, changed_at = now()
    WHERE deployment_id = @DeploymentId AND version = @Version
      AND NOT EXISTS (SELECT 1 FROM orleans_membership
                      WHERE deployment_id = @DeploymentId AND address = @Address
                        AND port = @Port AND generation = @Generation)
    RETURNING deployment_id),
inserted AS (
    INSERT INTO orleans_membership
        (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port,
         start_time, i_am_alive_time)
    SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort,
           @StartTime, @IAmAliveTime
    FROM bumped
    ON CONFLICT DO NOTHING
    RETURNING 1)
SELECT COUNT(*) > 0 FROM inserted;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpdateMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version
    SET version = version + 1, changed_at = now()
    WHERE deployment_id = @DeploymentId AND version = @Version
      AND EXISTS (SELECT 1 FROM orleans_membership
                  WHERE deployment_id = @DeploymentId AND address = @Address
                    AND port = @Port AND generation = @Generation)
    RETURNING deployment_id),
updated AS (
    UPDATE orleans_membership m
    SET status = @Status, suspect_times = CAST(@SuspectTimes AS text), i_am_alive_time = @IAmAliveTime
    FROM bumped
    WHERE m.deployment_id = bumped.deployment_id AND m.address = @Address
      AND m.port = @Port AND m.generation = @Generation
    RETURNING 1)
SELECT COUNT(*) > 0 FROM updated;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_membership
SET i_am_alive_time = @IAmAliveTime
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- The version row is returned even when no silo row matches (outer join), as the provider expects.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('MembershipReadRowKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime,
       v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m
       ON m.deployment_id = v.deployment_id AND m.address = @Address
      AND m.port = @Port AND m.generation = @Generation
WHERE v.deployment_id = @DeploymentId;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('MembershipReadAllKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime,
       v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('GatewaysQueryKey', $q$
SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteMembershipTableEntriesKey', $q$
WITH silos AS (DELETE FROM orleans_membership WHERE deployment_id = @DeploymentId)
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- Only rows of dead silos (status 6) that stopped beating before the cutoff are removed.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId AND i_am_alive_time < @IAmAliveTime AND status = 6;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- ---------------------------------------------------------------- reminders
-- Both range queries decide wrapping themselves from the unsigned bounds, so they are correct whichever
-- of the two the provider picks for a range.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadReminderRowsKey', $q$
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadRangeRows1Key', $q$
WITH bounds AS (SELECT CAST(@BeginHash AS bigint) & 4294967295 AS b, CAST(@EndHash AS bigint) & 4294967295 AS e)
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
FROM orleans_reminders, bounds
WHERE service_id = @ServiceId
  AND CASE WHEN b < e THEN grain_hash > b AND grain_hash <= e ELSE grain_hash > b OR grain_hash <= e END;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText)
SELECT 'ReadRangeRows2Key', QueryText FROM OrleansQuery WHERE QueryKey = 'ReadRangeRows1Key'
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadReminderRowKey', $q$
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period, version AS Version
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpsertReminderRowKey', $q$
INSERT INTO orleans_reminders (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, CAST(@GrainHash AS bigint) & 4294967295, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
    SET start_time = excluded.start_time, period_ms = excluded.period_ms,
        grain_hash = excluded.grain_hash, version = orleans_reminders.version + 1
RETURNING version AS Version;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM orleans_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName AND version = @Version
    RETURNING 1)
SELECT COUNT(*) > 0 FROM deleted;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteReminderRowsKey', $q$
DELETE FROM orleans_reminders WHERE service_id = @ServiceId;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- ---------------------------------------------------------------- grain state
-- Read returns (PayloadBinary, Version). Write inserts version 1 or bumps the version when the expected
-- one matches, and returns one row NewGrainStateVersion, NULL when it did not match (the provider then
-- reports an inconsistent state). Clear keeps the row with a NULL payload and a bumped version.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadFromStorageKey', $q$
SELECT payload AS PayloadBinary, version AS Version
FROM orleans_grain_state
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(CAST(@GrainIdExtensionString AS text), '');
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('WriteToStorageKey', $q$
WITH written AS (
INSERT INTO orleans_grain_state AS s
    (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, grain_id_hash, grain_type_hash,
     payload, version, modified_at)
SELECT @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, COALESCE(CAST(@GrainIdExtensionString AS text), ''),
       @GrainIdHash, @GrainTypeHash, CAST(@PayloadBinary AS bytea), 1, now()
ON CONFLICT (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext) DO UPDATE
    SET payload = excluded.payload, version = s.version + 1, modified_at = excluded.modified_at
    WHERE s.version = CAST(@GrainStateVersion AS integer)
RETURNING version)
SELECT (SELECT version FROM written) AS NewGrainStateVersion;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('ClearStorageKey', $q$
WITH cleared AS (
UPDATE orleans_grain_state
SET payload = NULL, version = version + 1, modified_at = now()
WHERE service_id = @ServiceId AND grain_type = @GrainTypeString
  AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_id_ext = COALESCE(CAST(@GrainIdExtensionString AS text), '')
  AND version = CAST(@GrainStateVersion AS integer)
RETURNING version)
SELECT (SELECT version FROM cleared) AS Version;
$q$) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;
