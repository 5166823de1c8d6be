import Database
import ServiceKit

/// The `identity` schema, in order. Applied migrations never change: add a new one.
enum IdentityMigrations {
    static let all: [Migration] = [
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
    ]
}
