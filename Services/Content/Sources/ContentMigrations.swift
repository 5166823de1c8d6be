import Database
import ServiceKit

/// The `content` schema, in order. Applied migrations never change: add a new one.
public enum ContentMigrations {
    public static let all: [Migration] = [
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
        Migration(
            version: 6, name: "learning plans",
            sql: """
                -- Each learner's plans. Rows carry the learner, and row-level security keys them on
                -- the request's learner (`syllabus.user_id`) or the system scope (`syllabus.scope`),
                -- as in progress: with neither, nothing is visible.
                CREATE TABLE learning_plans (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL,
                    topic text NOT NULL CHECK (length(topic) BETWEEN 1 AND 200),
                    skill_level text NOT NULL CHECK (skill_level IN ('beginner', 'intermediate', 'advanced')),
                    weekly_hours integer NOT NULL CHECK (weekly_hours BETWEEN 1 AND 80),
                    learning_style text NOT NULL CHECK (learning_style IN ('reading', 'video', 'practice', 'mixed')),
                    notes text CHECK (length(notes) <= 2000),
                    start_date date,
                    deadline_date date CHECK (deadline_date IS NULL OR start_date IS NULL OR deadline_date > start_date),
                    generation_status text NOT NULL DEFAULT 'generating' CHECK (generation_status IN ('generating', 'ready', 'failed')),
                    archived_at timestamptz,
                    -- Raised by every generation outcome and the deletion: the events' sequence.
                    version bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX learning_plans_user ON learning_plans (user_id, archived_at, generation_status);
                CREATE TABLE plan_modules (
                    id uuid PRIMARY KEY,
                    plan_id uuid NOT NULL REFERENCES learning_plans (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    title text NOT NULL,
                    description text NOT NULL DEFAULT '',
                    position integer NOT NULL CHECK (position >= 1),
                    estimated_minutes integer NOT NULL CHECK (estimated_minutes >= 0),
                    UNIQUE (plan_id, position)
                );
                CREATE TABLE plan_tasks (
                    id uuid PRIMARY KEY,
                    module_id uuid NOT NULL REFERENCES plan_modules (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    title text NOT NULL,
                    description text NOT NULL DEFAULT '',
                    position integer NOT NULL CHECK (position >= 1),
                    estimated_minutes integer NOT NULL CHECK (estimated_minutes >= 0),
                    UNIQUE (module_id, position)
                );
                CREATE TABLE task_resources (
                    task_id uuid NOT NULL REFERENCES plan_tasks (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    position integer NOT NULL CHECK (position >= 1),
                    type text NOT NULL CHECK (type IN ('youtube', 'article', 'course', 'doc', 'other')),
                    title text NOT NULL,
                    url text NOT NULL,
                    notes text,
                    PRIMARY KEY (task_id, position)
                );
                -- Generation jobs, drained by workers on any replica (FOR UPDATE SKIP LOCKED).
                CREATE TABLE job_queue (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL,
                    plan_id uuid NOT NULL REFERENCES learning_plans (id) ON DELETE CASCADE,
                    type text NOT NULL CHECK (type IN ('plan_generation', 'plan_regeneration')),
                    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
                    priority integer NOT NULL DEFAULT 0,
                    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
                    scheduled_for timestamptz NOT NULL DEFAULT now(),
                    last_error text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX job_queue_due ON job_queue (status, scheduled_for, priority);
                CREATE TABLE generation_attempts (
                    id uuid PRIMARY KEY,
                    plan_id uuid NOT NULL REFERENCES learning_plans (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    attempt integer NOT NULL CHECK (attempt >= 1),
                    outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
                    classification text CHECK (classification IN ('validation', 'provider_error', 'rate_limit', 'timeout', 'capped')),
                    message text,
                    duration_ms integer NOT NULL CHECK (duration_ms >= 0),
                    provider text NOT NULL,
                    model text NOT NULL,
                    prompt_tokens integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
                    completion_tokens integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
                    cost_cents integer NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE TABLE usage_metrics (
                    user_id uuid NOT NULL,
                    month date NOT NULL,
                    plans_created integer NOT NULL DEFAULT 0 CHECK (plans_created >= 0),
                    regenerations integer NOT NULL DEFAULT 0 CHECK (regenerations >= 0),
                    exports integer NOT NULL DEFAULT 0 CHECK (exports >= 0),
                    PRIMARY KEY (user_id, month)
                );
                CREATE TABLE ai_usage_events (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL,
                    plan_id uuid,
                    provider text NOT NULL,
                    model text NOT NULL,
                    prompt_tokens integer NOT NULL CHECK (prompt_tokens >= 0),
                    completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
                    cost_cents integer NOT NULL CHECK (cost_cents >= 0),
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX ai_usage_events_user ON ai_usage_events (user_id, created_at);
                """ + RowSecurity.policiesSQL(["learning_plans", "plan_modules", "plan_tasks", "task_resources", "job_queue", "generation_attempts", "usage_metrics", "ai_usage_events"])),
        Migration(
            version: 7, name: "plan schedules, calendar feeds and integrations",
            sql: """
                -- The learner's time zone, from identity's profile events (newest by sequence).
                CREATE TABLE learner_profiles (
                    user_id uuid PRIMARY KEY,
                    time_zone text,
                    version bigint NOT NULL CHECK (version >= 0)
                );
                -- A plan's iCalendar feed: only the token's SHA-256 is kept, so the URL cannot be
                -- read back from the database; a new one replaces the old, deleting revokes it.
                CREATE TABLE calendar_feeds (
                    token_hash bytea PRIMARY KEY,
                    plan_id uuid NOT NULL UNIQUE REFERENCES learning_plans (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    last_fetched_at timestamptz
                );
                -- OAuth tokens, one per (learner, provider), sealed with AES-256-GCM (nonce,
                -- ciphertext and tag) under the key named by key_id, bound to their row.
                CREATE TABLE integration_tokens (
                    user_id uuid NOT NULL,
                    provider text NOT NULL CHECK (provider IN ('notion', 'google_calendar')),
                    key_id text NOT NULL,
                    access_token bytea NOT NULL,
                    refresh_token bytea,
                    expires_at timestamptz,
                    account text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (user_id, provider)
                );
                -- The Google Calendar event of each synced task, so a sync updates rather than
                -- duplicates. Not tied to plan_tasks: a task a regeneration removed still has an
                -- event to delete at the next sync.
                CREATE TABLE task_calendar_events (
                    task_id uuid PRIMARY KEY,
                    plan_id uuid NOT NULL REFERENCES learning_plans (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    calendar_id text NOT NULL,
                    event_id text NOT NULL,
                    fingerprint text NOT NULL,
                    synced_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX task_calendar_events_plan ON task_calendar_events (plan_id);
                CREATE TABLE plan_exports (
                    id uuid PRIMARY KEY,
                    plan_id uuid NOT NULL REFERENCES learning_plans (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    destination text NOT NULL CHECK (destination IN ('notion', 'google_calendar')),
                    item_count integer NOT NULL CHECK (item_count >= 0),
                    url text,
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                """ + RowSecurity.policiesSQL(["learner_profiles", "calendar_feeds", "integration_tokens", "task_calendar_events", "plan_exports"])),
        Migration(
            version: 8, name: "plan generation limits",
            sql: """
                -- Every generation queued in a month — a new plan, a regeneration, a retry — counted
                -- against the tier's monthly generations. This month's so far are counted in.
                ALTER TABLE usage_metrics ADD COLUMN generations integer NOT NULL DEFAULT 0 CHECK (generations >= 0);
                SELECT set_config('syllabus.scope', 'system', true);
                UPDATE usage_metrics SET generations = plans_created + regenerations;
                -- What the provider has cost each UTC day, across learners (one row a day, added to
                -- in the transaction that stores each generation), for the daily spend ceiling.
                CREATE TABLE provider_spend (
                    day date PRIMARY KEY,
                    cost_cents bigint NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
                    generations integer NOT NULL DEFAULT 0 CHECK (generations >= 0),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                -- Lengths of what callers and providers choose, bounded where they are stored
                -- (NOT VALID: enforced on every new or changed row, earlier rows left as they are).
                ALTER TABLE task_calendar_events ADD CONSTRAINT task_calendar_events_calendar_id_length
                    CHECK (octet_length(calendar_id) BETWEEN 1 AND 255) NOT VALID;
                ALTER TABLE task_calendar_events ADD CONSTRAINT task_calendar_events_event_id_length
                    CHECK (octet_length(event_id) BETWEEN 1 AND 1024) NOT VALID;
                ALTER TABLE integration_tokens ADD CONSTRAINT integration_tokens_account_length CHECK (length(account) <= 200) NOT VALID;
                ALTER TABLE plan_exports ADD CONSTRAINT plan_exports_url_length CHECK (length(url) <= 2000) NOT VALID;
                ALTER TABLE plan_modules ADD CONSTRAINT plan_modules_text_length
                    CHECK (length(title) <= 1000 AND length(description) <= 4000) NOT VALID;
                ALTER TABLE plan_tasks ADD CONSTRAINT plan_tasks_text_length
                    CHECK (length(title) <= 1000 AND length(description) <= 4000) NOT VALID;
                ALTER TABLE task_resources ADD CONSTRAINT task_resources_text_length
                    CHECK (length(title) <= 1000 AND length(url) <= 4096 AND length(notes) <= 1000) NOT VALID;
                """),
        AccessRevocations.migration(version: 9),
        Outbox.relayMigration(version: 10),
        Migration(
            version: 11, name: "outline revision",
            sql: """
                -- Raised by every change learners may see (authoring, video webhooks), which all lock
                -- the outline first: each replica keeps the published outline in memory by it.
                ALTER TABLE outline ADD COLUMN revision bigint NOT NULL DEFAULT 0;
                """),
        Migration(
            version: 12, name: "outline announced once per burst",
            sql: """
                -- When the outline's announcement falls due (a quiet spell after the burst's last
                -- change, at most a few seconds after its first), and when the burst began.
                ALTER TABLE outline ADD COLUMN announce_due_at timestamptz, ADD COLUMN burst_started_at timestamptz;
                """),
        AccessRevocations.notificationMigration(version: 13),
    ]
}
