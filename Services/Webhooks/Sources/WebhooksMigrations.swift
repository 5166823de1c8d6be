import Database
import ServiceKit

/// The `webhooks` schema, in order. Applied migrations never change: add a new one.
public enum WebhooksMigrations {
    public static let all: [Migration] = Outbox.migrations(from: 1) + [
        Migration(
            version: 3, name: "endpoints, their secrets, events and deliveries",
            sql: """
                -- An endpoint admins registered: where to POST, and which event types it wants
                -- (routing keys, `progress.*` prefixes, or `*`). While it is disabled its
                -- deliveries wait; enabling it again delivers them in order.
                CREATE TABLE endpoints (
                    id uuid PRIMARY KEY,
                    url text NOT NULL,
                    description text NOT NULL DEFAULT '',
                    event_types jsonb NOT NULL,
                    enabled boolean NOT NULL DEFAULT true,
                    disabled_reason text,
                    disabled_at timestamptz,
                    disablings integer NOT NULL DEFAULT 0,
                    -- The first failed attempt since the last success.
                    failing_since timestamptz,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );

                -- Signing secrets (`whsec_…`): the current one has no end; a rotated-out one
                -- keeps signing beside it until `expires_at`.
                CREATE TABLE endpoint_secrets (
                    endpoint_id uuid NOT NULL REFERENCES endpoints ON DELETE CASCADE,
                    secret text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz,
                    PRIMARY KEY (endpoint_id, secret)
                );
                CREATE UNIQUE INDEX endpoint_secrets_current ON endpoint_secrets (endpoint_id) WHERE expires_at IS NULL;

                -- Every event delivered, as published (the body POSTed), kept for the retention.
                CREATE TABLE events (
                    id text PRIMARY KEY,
                    routing_key text NOT NULL,
                    aggregate text NOT NULL,
                    occurred_at timestamptz NOT NULL,
                    body text NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX events_received_at ON events (received_at);

                -- One event to one endpoint. Per endpoint and aggregate, a delivery waits while
                -- an earlier one is PENDING; one that exhausts its attempts is FAILED and the
                -- next goes on.
                CREATE TABLE deliveries (
                    id bigserial PRIMARY KEY,
                    endpoint_id uuid NOT NULL REFERENCES endpoints ON DELETE CASCADE,
                    event_id text NOT NULL REFERENCES events ON DELETE CASCADE,
                    aggregate text NOT NULL,
                    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
                    attempts integer NOT NULL DEFAULT 0,
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    created_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz,
                    replay boolean NOT NULL DEFAULT false
                );
                CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING';
                CREATE INDEX deliveries_order ON deliveries (endpoint_id, aggregate, id) WHERE status = 'PENDING';
                CREATE INDEX deliveries_event ON deliveries (event_id);
                CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);

                -- Every attempt, for the delivery log.
                CREATE TABLE attempts (
                    id bigserial PRIMARY KEY,
                    delivery_id bigint NOT NULL REFERENCES deliveries ON DELETE CASCADE,
                    attempted_at timestamptz NOT NULL DEFAULT now(),
                    status_code integer,
                    duration_ms integer NOT NULL,
                    response_excerpt text,
                    error text
                );
                CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
                """),
        // The admins' tokens are refused once their user is deleted or demoted, as everywhere.
        Tombstones.migration(version: 4),
        AccessRevocations.migration(version: 5),
        AccessRevocations.notificationMigration(version: 6),
    ]
}
