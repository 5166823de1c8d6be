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
    ]
}
