import Database
import ServiceKit

/// The `content` schema, in order. Applied migrations never change: add a new one.
enum ContentMigrations {
    static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
        AggregateVersions.migration(version: 3),
        Entitlements.migration(version: 4),
        Migration(
            version: 5, name: "course structure",
            sql: """
                -- Positions are 1-based and gap-free. The unique constraints are deferrable so that
                -- a reorder can move every row in one transaction and be checked at its end.
                CREATE TABLE modules (
                    id uuid PRIMARY KEY,
                    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
                    description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
                    position integer NOT NULL CHECK (position >= 1),
                    published boolean NOT NULL DEFAULT false,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT modules_position_unique UNIQUE (position) DEFERRABLE INITIALLY IMMEDIATE
                );
                CREATE TABLE lessons (
                    id uuid PRIMARY KEY,
                    module_id uuid NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
                    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
                    position integer NOT NULL CHECK (position >= 1),
                    published boolean NOT NULL DEFAULT false,
                    is_free boolean NOT NULL DEFAULT false,
                    body jsonb NOT NULL,
                    duration_seconds integer CHECK (duration_seconds >= 0),
                    video_status text NOT NULL DEFAULT 'none' CHECK (video_status IN ('none', 'uploading', 'ready', 'errored')),
                    mux_upload_id text,
                    mux_asset_id text,
                    mux_playback_id text,
                    video_error text,
                    video_version bigint NOT NULL DEFAULT 0 CHECK (video_version >= 0),
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT lessons_position_unique UNIQUE (module_id, position) DEFERRABLE INITIALLY IMMEDIATE
                );
                CREATE TABLE assets (
                    id uuid PRIMARY KEY,
                    lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
                    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
                    url text NOT NULL,
                    content_type text NOT NULL,
                    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX assets_lesson ON assets (lesson_id, created_at);

                -- The published outline as last announced, and its version: one row, locked by
                -- every authoring change, so changes are serialised and announced in order.
                CREATE TABLE outline (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    version bigint NOT NULL DEFAULT 0,
                    modules jsonb NOT NULL DEFAULT '[]',
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                INSERT INTO outline DEFAULT VALUES;

                -- Which modules each learner has complete, from progress's events.
                CREATE TABLE module_completions (
                    user_id uuid NOT NULL,
                    module_id uuid NOT NULL,
                    completed boolean NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (user_id, module_id)
                );

                -- Mux webhook deliveries already handled (Mux retries until it gets a 2xx).
                CREATE TABLE mux_webhook_events (
                    id text PRIMARY KEY,
                    type text NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now()
                );
                """),
    ]
}
