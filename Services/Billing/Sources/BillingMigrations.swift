import Database
import ServiceKit

/// The `billing` schema, in order. Applied migrations never change: add a new one.
public enum BillingMigrations {
    public static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
        Migration(
            version: 3, name: "customers, subscriptions, stripe events, entitlements",
            sql: """
                -- Billing's own link from a user to their Stripe customer.
                CREATE TABLE customers (
                    user_id uuid PRIMARY KEY,
                    stripe_customer_id text NOT NULL UNIQUE,
                    created_at timestamptz NOT NULL DEFAULT now()
                );

                -- One subscription per user; a subscription outlives its user's deletion, detached
                -- (user_id NULL), as a financial record.
                CREATE TABLE subscriptions (
                    id uuid PRIMARY KEY,
                    user_id uuid UNIQUE,
                    stripe_customer_id text NOT NULL,
                    stripe_subscription_id text NOT NULL UNIQUE,
                    status text NOT NULL CHECK (status IN ('ACTIVE', 'TRIALING', 'PAST_DUE', 'UNPAID', 'CANCELED', 'INCOMPLETE')),
                    tier text CHECK (tier IN ('starter', 'pro')),
                    billing_interval text CHECK (billing_interval IN ('MONTHLY', 'ANNUAL')),
                    price_id text,
                    amount bigint CHECK (amount >= 0),
                    currency text,
                    current_period_start timestamptz,
                    current_period_end timestamptz,
                    cancel_at_period_end boolean NOT NULL DEFAULT false,
                    cancelled_at timestamptz,
                    payment_failed_at timestamptz,
                    -- Stripe's `created` of the newest subscription event applied: older ones are stale.
                    stripe_event_created bigint NOT NULL,
                    cancel_requested_at timestamptz,
                    cancel_sent_at timestamptz,
                    version bigint NOT NULL DEFAULT 1,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX subscriptions_customer ON subscriptions (stripe_customer_id);
                CREATE INDEX subscriptions_cancel ON subscriptions (cancel_requested_at) WHERE cancel_sent_at IS NULL;

                -- Every Stripe event, once: a redelivery finds its id and changes nothing.
                CREATE TABLE stripe_events (
                    id text PRIMARY KEY,
                    type text NOT NULL,
                    created bigint NOT NULL,
                    livemode boolean NOT NULL,
                    outcome text NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now(),
                    payload jsonb NOT NULL
                );

                -- What billing decided, per user: the one place `hasAccess` and tier live.
                CREATE TABLE entitlements (
                    user_id uuid PRIMARY KEY,
                    access_override boolean NOT NULL DEFAULT false,
                    has_access boolean NOT NULL DEFAULT false,
                    tier text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'starter', 'pro')),
                    published boolean NOT NULL DEFAULT false,
                    version bigint NOT NULL DEFAULT 0,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                """),
        AggregateVersions.migration(version: 4),
        Migration(
            version: 5, name: "subscriptions to re-read from Stripe",
            sql: """
                -- Two events of the same second: which is newer cannot be told, so the subscription
                -- is read again from Stripe (when an API key is configured).
                ALTER TABLE subscriptions ADD COLUMN refresh_requested_at timestamptz;
                CREATE INDEX subscriptions_refresh ON subscriptions (refresh_requested_at) WHERE refresh_requested_at IS NOT NULL;
                """),
        AccessRevocations.migration(version: 6),
        Outbox.relayMigration(version: 7),
        AccessRevocations.notificationMigration(version: 8),
        Migration(
            version: 9, name: "stripe payload retention index",
            sql: """
                -- The payloads still to empty after their retention, found without a full scan.
                CREATE INDEX stripe_events_payload_kept ON stripe_events (received_at) WHERE payload <> '{}';
                """),
    ]
}
