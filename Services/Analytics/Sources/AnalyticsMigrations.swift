import Database
import ServiceKit

/// The `analytics` schema, in order. Applied migrations never change: add a new one.
public enum AnalyticsMigrations {
    public static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
        Migration(
            version: 3, name: "product events and subscription history",
            sql: """
                -- Product events, from the bus (server) and from apps (client). `source_event_id`
                -- makes each one count once, however often it is delivered or sent.
                CREATE TABLE events (
                    id uuid PRIMARY KEY,
                    event text NOT NULL,
                    user_id uuid,
                    session_id text,
                    properties jsonb NOT NULL DEFAULT '{}',
                    source text NOT NULL CHECK (source IN ('server', 'client')),
                    source_event_id text NOT NULL UNIQUE,
                    created_at timestamptz NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX events_event_created ON events (event, created_at);
                CREATE INDEX events_user_created ON events (user_id, created_at) WHERE user_id IS NOT NULL;
                CREATE INDEX events_anonymous_session ON events (session_id) WHERE user_id IS NULL;
                CREATE INDEX events_created_brin ON events USING brin (created_at);

                -- Every state billing announced for each subscription, so MRR can be told for any
                -- moment: the state in force at t is the newest (by sequence) announced by t.
                CREATE TABLE subscription_states (
                    subscription_id text NOT NULL,
                    sequence bigint NOT NULL,
                    valid_from timestamptz NOT NULL,
                    status text NOT NULL,
                    billing_interval text,
                    amount bigint CHECK (amount >= 0),
                    currency text,
                    PRIMARY KEY (subscription_id, sequence)
                );
                CREATE INDEX subscription_states_time ON subscription_states (valid_from);

                -- Client events accepted per session and minute (rate limit).
                CREATE TABLE session_rates (
                    session_id text NOT NULL,
                    window_start timestamptz NOT NULL,
                    count integer NOT NULL,
                    PRIMARY KEY (session_id, window_start)
                );
                """),
        AccessRevocations.migration(version: 4),
        Migration(
            version: 5, name: "client events per address",
            sql: """
                -- Client events accepted per client address and minute (rate limit), beside the
                -- per-session count: a caller chooses its session ids, not its address.
                CREATE TABLE address_rates (
                    address text NOT NULL CHECK (length(address) <= 64),
                    window_start timestamptz NOT NULL,
                    count integer NOT NULL,
                    PRIMARY KEY (address, window_start)
                );
                """),
        Outbox.relayMigration(version: 6),
        Migration(
            version: 7, name: "reports that stay fast as events grow",
            sql: """
                -- A funnel's steps are read from indexes alone: the first step by event and time,
                -- each later one by event and user, in user order (a merge join, not a hash of
                -- every event of the step).
                DROP INDEX events_event_created;
                CREATE INDEX events_event_created ON events (event, created_at) INCLUDE (user_id);
                CREATE INDEX events_event_user_created ON events (event, user_id, created_at) WHERE user_id IS NOT NULL;

                -- How many of each event in each UTC hour, kept by the events table's own triggers
                -- (each statement adds or removes its rows' counts in one upsert), so a count over
                -- a window reads hours, not events; only the partial hours at its edges read events.
                CREATE TABLE event_counts (
                    event text NOT NULL,
                    hour timestamptz NOT NULL,
                    n bigint NOT NULL CHECK (n >= 0),
                    PRIMARY KEY (event, hour)
                );
                INSERT INTO event_counts (event, hour, n)
                SELECT event, date_trunc('hour', created_at, 'UTC'), count(*) FROM events GROUP BY 1, 2;

                CREATE FUNCTION count_inserted_events() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                BEGIN
                    INSERT INTO event_counts (event, hour, n)
                    SELECT event, date_trunc('hour', created_at, 'UTC'), count(*) FROM inserted GROUP BY 1, 2
                    ON CONFLICT (event, hour) DO UPDATE SET n = event_counts.n + excluded.n;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER events_counted AFTER INSERT ON events
                    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_events();

                CREATE FUNCTION uncount_deleted_events() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                BEGIN
                    UPDATE event_counts c SET n = c.n - d.n
                    FROM (SELECT event, date_trunc('hour', created_at, 'UTC') AS hour, count(*) AS n FROM deleted GROUP BY 1, 2) d
                    WHERE c.event = d.event AND c.hour = d.hour;
                    DELETE FROM event_counts WHERE n = 0;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER events_uncounted AFTER DELETE ON events
                    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION uncount_deleted_events();
                """),
        AccessRevocations.notificationMigration(version: 8),
        Migration(
            version: 9, name: "event counts without shared locks",
            sql: """
                -- Writers no longer update the hourly rows themselves: two transactions inserting
                -- events of the same hours in different orders locked those rows in different orders
                -- and deadlocked. Each inserting or deleting statement now appends its counts (negative
                -- for deletions) to `event_count_changes`, which takes no lock another writer waits
                -- for; `compact_event_counts()` folds them into `event_counts` now and then, one
                -- compaction at a time, its rows locked in key order. A count reads both.
                CREATE TABLE event_count_changes (
                    event text NOT NULL,
                    hour timestamptz NOT NULL,
                    n bigint NOT NULL
                );
                CREATE INDEX event_count_changes_key ON event_count_changes (event, hour);
                -- A folded deletion is a negative change; the sum stays at or above zero, but the
                -- check would be made on the change before it meets its row.
                ALTER TABLE event_counts DROP CONSTRAINT event_counts_n_check;

                CREATE OR REPLACE FUNCTION count_inserted_events() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                BEGIN
                    INSERT INTO event_count_changes (event, hour, n)
                    SELECT event, date_trunc('hour', created_at, 'UTC'), count(*) FROM inserted GROUP BY 1, 2;
                    RETURN NULL;
                END $$;

                CREATE OR REPLACE FUNCTION uncount_deleted_events() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                BEGIN
                    INSERT INTO event_count_changes (event, hour, n)
                    SELECT event, date_trunc('hour', created_at, 'UTC'), -count(*) FROM deleted GROUP BY 1, 2;
                    RETURN NULL;
                END $$;

                CREATE FUNCTION compact_event_counts() RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                DECLARE folded bigint;
                BEGIN
                    -- One compaction at a time; the others have nothing to do meanwhile.
                    IF NOT pg_try_advisory_xact_lock(hashtext('compact_event_counts')) THEN
                        RETURN 0;
                    END IF;
                    WITH taken AS (DELETE FROM event_count_changes RETURNING event, hour, n),
                         summed AS (SELECT event, hour, sum(n) AS n FROM taken GROUP BY 1, 2),
                         folded AS (
                             INSERT INTO event_counts AS c (event, hour, n)
                             SELECT event, hour, n FROM summed ORDER BY event, hour
                             ON CONFLICT (event, hour) DO UPDATE SET n = c.n + excluded.n
                             RETURNING 1)
                    SELECT count(*) INTO folded FROM folded;
                    DELETE FROM event_counts WHERE n = 0;
                    RETURN folded;
                END $$;
                """),
    ]
}
