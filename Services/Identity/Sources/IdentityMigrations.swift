import Database
import ServiceKit

/// The `identity` schema, in order. Applied migrations never change: add a new one.
public enum IdentityMigrations {
    public static let all: [Migration] = [
        Outbox.migration(version: 1),
        Migration(
            version: 2, name: "users and sessions",
            sql: """
                CREATE TABLE users (
                    id uuid PRIMARY KEY,
                    email text NOT NULL CHECK (length(email) <= 320),
                    password_hash text,
                    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                    role text NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'ADMIN')),
                    email_verified_at timestamptz,
                    marketing_opt_out boolean NOT NULL DEFAULT false,
                    onboarding_complete boolean NOT NULL DEFAULT false,
                    access_override boolean NOT NULL DEFAULT false,
                    last_login_at timestamptz,
                    version bigint NOT NULL DEFAULT 1,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

                CREATE TABLE sessions (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    refresh_token_hash bytea NOT NULL UNIQUE,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz NOT NULL,
                    revoked_at timestamptz
                );
                CREATE INDEX sessions_user ON sessions (user_id);
                """),
        Migration(
            version: 3, name: "profiles, token rotation, one-time tokens, throttling, audit",
            sql: """
                ALTER TABLE users
                    ADD COLUMN time_zone text CHECK (length(time_zone) <= 64),
                    ADD COLUMN user_type text CHECK (length(user_type) <= 64),
                    ADD COLUMN build_goal text CHECK (length(build_goal) <= 2000),
                    ADD COLUMN experience_level text CHECK (length(experience_level) <= 64),
                    ADD COLUMN skill_level text CHECK (length(skill_level) <= 64),
                    ADD COLUMN learning_style text CHECK (length(learning_style) <= 64),
                    ADD COLUMN weekly_hours integer CHECK (weekly_hours BETWEEN 0 AND 168);

                -- Refresh tokens already exchanged: presenting one again means it leaked.
                CREATE TABLE rotated_refresh_tokens (
                    hash bytea PRIMARY KEY,
                    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                    rotated_at timestamptz NOT NULL DEFAULT now()
                );

                -- Single-use links (email verification, password reset), stored as hashes only.
                CREATE TABLE one_time_tokens (
                    hash bytea PRIMARY KEY,
                    purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
                    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    email text NOT NULL,
                    expires_at timestamptz NOT NULL,
                    used_at timestamptz,
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);

                CREATE TABLE login_failures (
                    key text NOT NULL,
                    failed_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX login_failures_key ON login_failures (key, failed_at);

                CREATE TABLE admin_audit (
                    id bigserial PRIMARY KEY,
                    actor_id uuid NOT NULL,
                    action text NOT NULL,
                    target_id uuid,
                    details jsonb NOT NULL DEFAULT '{}',
                    at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX admin_audit_target ON admin_audit (target_id, at);
                """),
        Tombstones.migration(version: 4),
        AggregateVersions.migration(version: 5),
        Migration(
            version: 6, name: "oauth accounts",
            sql: """
                CREATE TABLE accounts (
                    provider text NOT NULL,
                    subject text NOT NULL,
                    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    email text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (provider, subject)
                );
                CREATE INDEX accounts_user ON accounts (user_id);

                -- A sign-in under way: its state and PKCE verifier, single use, ten minutes.
                CREATE TABLE oauth_states (
                    state text PRIMARY KEY,
                    provider text NOT NULL,
                    code_verifier text NOT NULL,
                    expires_at timestamptz NOT NULL
                );
                """),
        Migration(
            version: 7, name: "no link on the public bus",
            sql: """
                -- Reset and verification links used to travel in public events, which subscribers
                -- and the archive keep. The archive cannot be purged selectively, so every link
                -- issued until now stops working, and the outbox forgets the events that carried one.
                UPDATE one_time_tokens SET used_at = now()
                WHERE purpose IN ('verify_email', 'reset_password') AND used_at IS NULL;
                DELETE FROM outbox
                WHERE routing_key IN ('identity.email.verification_requested.v1', 'identity.password.reset_requested.v1');
                """),
        AccessRevocations.migration(version: 8),
        Migration(
            version: 9, name: "attempt counters, pending email changes",
            sql: """
                -- Attempts reserved against a limit: one row per key and fixed window, incremented
                -- atomically before the work (bcrypt, mail) is done. Replaces login_failures.
                CREATE TABLE attempt_counters (
                    key text NOT NULL CHECK (length(key) <= 200),
                    window_start timestamptz NOT NULL,
                    count integer NOT NULL CHECK (count >= 0),
                    expires_at timestamptz NOT NULL,
                    PRIMARY KEY (key, window_start)
                );
                CREATE INDEX attempt_counters_expiry ON attempt_counters (expires_at);
                DROP TABLE login_failures;
                CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
                CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);

                -- A new address waits here until the link sent to it is followed; until then the
                -- account signs in and resets its password with the old one.
                ALTER TABLE users ADD COLUMN pending_email text CHECK (length(pending_email) <= 320);
                -- `revert_email`: the link mailed to the old address, which takes the account back.
                ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
                ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
                    CHECK (purpose IN ('verify_email', 'reset_password', 'revert_email'));
                """),
        Outbox.relayMigration(version: 10),
        AccessRevocations.notificationMigration(version: 11),
        Migration(
            version: 12, name: "pruning indexes",
            sql: """
                -- Housekeeping deletes sessions a day past their expiry and audit entries past their
                -- retention: by these, without reading the whole table each minute.
                CREATE INDEX sessions_expires_at ON sessions (expires_at);
                CREATE INDEX admin_audit_at ON admin_audit (at);
                """),
    ]
}
