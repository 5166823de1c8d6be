import Database
import ServiceKit

/// The `progress` schema, in order. Applied migrations never change: add a new one.
public enum ProgressMigrations {
    public static let all: [Migration] = [
        Outbox.migration(version: 1),
        Tombstones.migration(version: 2),
        AggregateVersions.migration(version: 3),
        Entitlements.migration(version: 4),
        Migration(
            version: 5, name: "outline projection and learner progress",
            sql: """
                -- The published outline, from content.course.outline_changed.v1 (newest version).
                CREATE TABLE outline_state (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    version bigint NOT NULL DEFAULT 0
                );
                INSERT INTO outline_state DEFAULT VALUES;
                CREATE TABLE outline_modules (
                    module_id uuid PRIMARY KEY,
                    title text NOT NULL,
                    position integer NOT NULL UNIQUE CHECK (position >= 1)
                );
                CREATE TABLE outline_lessons (
                    lesson_id uuid PRIMARY KEY,
                    module_id uuid NOT NULL REFERENCES outline_modules (module_id) ON DELETE CASCADE,
                    title text NOT NULL,
                    position integer NOT NULL CHECK (position >= 1),
                    is_free boolean NOT NULL,
                    duration_seconds integer,
                    UNIQUE (module_id, position)
                );

                -- Each learner's rows. Row-level security keys them on the request's learner
                -- (`syllabus.user_id`, set per transaction); event handlers work in the system
                -- scope (`syllabus.scope`). With neither set, no row is visible or writable.
                CREATE TABLE lesson_progress (
                    user_id uuid NOT NULL,
                    lesson_id uuid NOT NULL,
                    module_id uuid NOT NULL,
                    is_free boolean NOT NULL,
                    started_at timestamptz,
                    last_started_at timestamptz,
                    completed_at timestamptz,
                    PRIMARY KEY (user_id, lesson_id)
                );
                CREATE INDEX lesson_progress_module ON lesson_progress (user_id, module_id);
                CREATE TABLE module_progress (
                    user_id uuid NOT NULL,
                    module_id uuid NOT NULL,
                    completed boolean NOT NULL DEFAULT false,
                    ever_completed boolean NOT NULL DEFAULT false,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (user_id, module_id)
                );
                -- One row per learner, locked first by every change to the learner's progress. Its
                -- event_sequence numbers every event about the learner: the events' subject is the
                -- learner, and their sequence rises with each one.
                CREATE TABLE course_progress (
                    user_id uuid PRIMARY KEY,
                    completed boolean NOT NULL DEFAULT false,
                    ever_completed boolean NOT NULL DEFAULT false,
                    event_sequence bigint NOT NULL DEFAULT 0 CHECK (event_sequence >= 0),
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                """ + RowSecurity.policiesSQL(["lesson_progress", "module_progress", "course_progress"])),
        Migration(
            version: 6, name: "learning plan task progress",
            sql: """
                -- Each learner's plans' tasks, from content.plan.generated.v1 (newest version), and
                -- the learner's progress on them; all under the same row-level security.
                CREATE TABLE plan_versions (
                    plan_id uuid PRIMARY KEY,
                    user_id uuid NOT NULL,
                    version bigint NOT NULL
                );
                CREATE TABLE plan_tasks (
                    task_id uuid PRIMARY KEY,
                    plan_id uuid NOT NULL REFERENCES plan_versions (plan_id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    module_id uuid NOT NULL,
                    module_order integer NOT NULL CHECK (module_order >= 1),
                    task_order integer NOT NULL CHECK (task_order >= 1),
                    estimated_minutes integer NOT NULL CHECK (estimated_minutes >= 0)
                );
                CREATE INDEX plan_tasks_plan ON plan_tasks (plan_id, module_order, task_order);
                CREATE TABLE task_progress (
                    user_id uuid NOT NULL,
                    task_id uuid NOT NULL REFERENCES plan_tasks (task_id) ON DELETE CASCADE,
                    status text NOT NULL CHECK (status IN ('not_started', 'in_progress', 'completed')),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (user_id, task_id)
                );
                """ + RowSecurity.policiesSQL(["plan_versions", "plan_tasks", "task_progress"])),
        Migration(
            version: 7, name: "learning plan events",
            sql: """
                -- Numbers the events about each plan (task status changes, completion), and keeps
                -- whether the plan is complete so its completion is announced once per transition.
                ALTER TABLE plan_versions ADD COLUMN event_sequence bigint NOT NULL DEFAULT 0 CHECK (event_sequence >= 0);
                ALTER TABLE plan_versions ADD COLUMN completed boolean NOT NULL DEFAULT false;
                """),
        AccessRevocations.migration(version: 8),
        Outbox.relayMigration(version: 9),
        Migration(
            version: 10, name: "outline changes reconciled in batches",
            sql: """
                -- Learners whose roll-ups a new outline may change, waiting to be brought in line
                -- with it (a few at a time, so the outline is never held across all of them), with
                -- the moment of the earliest change they wait for.
                CREATE TABLE outline_reconcile (
                    user_id uuid PRIMARY KEY,
                    changed_at timestamptz NOT NULL
                );
                -- Who has progress in the lessons and modules an outline change touched.
                CREATE INDEX lesson_progress_done_lesson ON lesson_progress (lesson_id) WHERE completed_at IS NOT NULL;
                CREATE INDEX module_progress_module ON module_progress (module_id);
                """),
        AccessRevocations.notificationMigration(version: 11),
    ]
}
