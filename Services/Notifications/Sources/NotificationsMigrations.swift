import Database
import ServiceKit

/// The `notifications` schema, in order. Applied migrations never change: add a new one.
public enum NotificationsMigrations {
    public static let all: [Migration] = [
        Outbox.migration(version: 1),
        Migration(
            version: 2, name: "recipients, email queue and log",
            sql: """
                -- What notifications knows of each user, learned from events.
                CREATE TABLE recipients (
                    user_id uuid PRIMARY KEY,
                    email text NOT NULL,
                    name text NOT NULL,
                    role text NOT NULL DEFAULT 'USER',
                    marketing_opt_out boolean NOT NULL DEFAULT false,
                    registered_at timestamptz NOT NULL,
                    deleted_at timestamptz,
                    sequence bigint NOT NULL DEFAULT 0,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );

                CREATE TABLE email_queue (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL,
                    template text NOT NULL,
                    dedupe_key text NOT NULL UNIQUE,
                    scheduled_for timestamptz NOT NULL,
                    status text NOT NULL DEFAULT 'PENDING'
                        CHECK (status IN ('PENDING', 'SENT', 'SKIPPED', 'CANCELLED', 'FAILED')),
                    data jsonb NOT NULL DEFAULT '{}',
                    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    processed_at timestamptz,
                    reason text,
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX email_queue_due ON email_queue (status, scheduled_for);
                CREATE INDEX email_queue_user ON email_queue (user_id);

                CREATE TABLE email_log (
                    id bigserial PRIMARY KEY,
                    queue_id uuid NOT NULL REFERENCES email_queue (id),
                    user_id uuid NOT NULL,
                    template text NOT NULL,
                    status text NOT NULL CHECK (status IN ('SENT', 'SKIPPED', 'FAILED')),
                    detail text,
                    transport text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX email_log_user ON email_log (user_id, created_at);
                """),
        Migration(
            version: 3, name: "recipient activity",
            sql: """
                ALTER TABLE recipients ADD COLUMN last_activity_at timestamptz;
                """),
        Tombstones.migration(version: 4),
        AggregateVersions.migration(version: 5),
        Entitlements.migration(version: 6),
        Migration(
            version: 7, name: "lifecycle facts",
            sql: """
                -- What the lifecycle rules need to decide a send, learned from billing and progress.
                -- A row can exist before identity's registration arrives (events come in any order).
                ALTER TABLE recipients
                    ADD COLUMN free_lesson_started_at timestamptz,
                    ADD COLUMN free_lesson_completed_at timestamptz,
                    ADD COLUMN subscription_id text,
                    ADD COLUMN subscription_status text,
                    ADD COLUMN subscription_interval text,
                    ADD COLUMN current_period_end timestamptz,
                    ADD COLUMN cancel_at_period_end boolean NOT NULL DEFAULT false,
                    ADD COLUMN payment_failed_at timestamptz,
                    ADD COLUMN last_paid_at timestamptz,
                    ADD COLUMN consent_version bigint NOT NULL DEFAULT 0;
                ALTER TABLE email_queue ADD COLUMN kind text NOT NULL DEFAULT 'transactional'
                    CHECK (kind IN ('transactional', 'marketing'));
                ALTER TABLE email_queue ADD COLUMN outcomes integer NOT NULL DEFAULT 0 CHECK (outcomes >= 0);
                CREATE INDEX email_queue_pending_user ON email_queue (user_id, template) WHERE status = 'PENDING';
                CREATE INDEX recipients_admins ON recipients (role) WHERE role = 'ADMIN';
                """),
        AccessRevocations.migration(version: 8),
        Migration(
            version: 9, name: "email claims",
            sql: """
                -- A worker claims due mail in a short transaction of its own and sends it with none
                -- open: `claimed_by` is that claim (one per pass), `claimed_until` when another
                -- worker may take the mail over (a crashed or stalled worker's claim lapses).
                ALTER TABLE email_queue
                    ADD COLUMN claimed_by uuid,
                    ADD COLUMN claimed_until timestamptz,
                    ADD CONSTRAINT email_queue_claim CHECK ((claimed_by IS NULL) = (claimed_until IS NULL));
                """),
        Outbox.relayMigration(version: 10),
        AccessRevocations.notificationMigration(version: 11),
        Migration(
            version: 12, name: "email trace context",
            sql: """
                -- The trace a queued mail was caused in (W3C traceparent), so that sending it shows
                -- in the same trace. Nullable: mail queued untraced, or by a previous release.
                ALTER TABLE email_queue ADD COLUMN traceparent text;
                """),
        Migration(
            version: 13, name: "recipient field versions",
            sql: """
                -- A recipient's profile (email, name, marketing choice) and role each carry the
                -- sequence of the user's event that last set them, so that each is guarded on its
                -- own: events of one user may arrive in any order (two replicas, retries), and an
                -- older event must not overwrite a newer one, nor a newer one be refused because
                -- another kind of event went further. `sequence` stays the highest of all.
                ALTER TABLE recipients
                    ADD COLUMN profile_sequence bigint NOT NULL DEFAULT 0,
                    ADD COLUMN role_sequence bigint NOT NULL DEFAULT 0;
                UPDATE recipients SET profile_sequence = sequence, role_sequence = sequence;
                """),
        Migration(
            version: 14, name: "recipient converted",
            sql: """
                -- When the user first had access: mail meant to convert them is pointless from
                -- then on, whatever came after. Set by any entitlement that grants access, in
                -- whatever order those arrive; a previous release ignores it.
                ALTER TABLE recipients ADD COLUMN converted_at timestamptz;
                UPDATE recipients r SET converted_at = e.updated_at FROM entitlements e WHERE e.user_id = r.user_id AND e.has_access;
                """),
        Migration(
            version: 15, name: "mail retention indexes",
            sql: """
                -- Finished mail past its retention, and its log rows, found without full scans.
                CREATE INDEX email_queue_finished ON email_queue ((coalesce(processed_at, created_at))) WHERE status <> 'PENDING';
                CREATE INDEX email_log_queue ON email_log (queue_id);
                """),
    ]
}
