#!/usr/bin/env python3
"""`make bench`, growth curves: how each cost grows with the work, on the running bench stack.
For each figure a small table: the points, and the growth from one point to the next divided by
how much the work grew (1.0 is linear; below it, better than linear).

- the outline read and a completion with 10, 100 and 1,000 lessons in the course;
- authoring those lessons one request after another while 10,000 learners hold progress in the
  module they go into, and one learner completes and undoes a lesson meanwhile: how long their
  completions wait, how many outline events it causes, and when progress has caught up;
- analytics' funnel and counts over 10k, 100k and 1M events (generated in SQL);
- the mail dispatcher draining 1,000 and 10,000 pending mails;
- a learner's plan with about 10, 100 and 1,000 tasks: reading it, setting a task's status.

Usage: bench-growth.py <syllabus.env> <port base>   (SYLLABUS_ADMIN_EMAIL / _PASSWORD: an admin)
"""

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

SECONDS = int(os.environ.get("BENCH_GROWTH_SECONDS", "4"))
spec = importlib.util.spec_from_file_location("http_bench", os.path.join(os.path.dirname(__file__), "http-bench.py"))
http_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(http_bench)
call, wrk, env_file, wait_for = http_bench.call, http_bench.wrk, http_bench.env_file, http_bench.wait_for


def sql(url, text):
    """Runs SQL as the stack's administrator; the first column of each row."""
    run = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", text], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"psql failed: {run.stderr}")
    return [line.split("|")[0] for line in run.stdout.splitlines() if line]


def timed(action, repeat):
    """p50 and max milliseconds of `repeat` sequential calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def curve(title, unit, points, columns):
    """Prints a table: each point's work, its figures, and the growth of `columns[0]` per growth of work."""
    print(f"**{title}**")
    print()
    print(f"| {unit} | " + " | ".join(columns) + " | growth per growth of work |")
    print("|" + " --- |" * (len(columns) + 2))
    previous = None
    for work, figures in points:
        growth = "" if previous is None else f"{(figures[0] / previous[1][0]) / (work / previous[0]):.2f}"
        print(f"| {work:,} | " + " | ".join(f"{f:,.1f}" for f in figures) + f" | {growth} |")
        previous = (work, figures)
    print()


class Loop(threading.Thread):
    """A learner completing and undoing a lesson in a closed loop: each request's latency."""

    def __init__(self, progress, lesson, token):
        super().__init__(daemon=True)
        self.progress, self.lesson, self.token = progress, lesson, token
        self.latencies, self.running = [], True

    def run(self):
        while self.running:
            for method in ("PUT", "DELETE"):
                started = time.perf_counter()
                call(method, f"{self.progress}/v1/progress/lessons/{self.lesson}", token=self.token)
                self.latencies.append((time.perf_counter() - started) * 1000)

    def stop(self):
        self.running = False
        self.join()
        return self.latencies


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main():
    env_path, base = sys.argv[1], int(sys.argv[2])
    env = env_file(env_path)
    db = env["ADMIN_DATABASE_URL"]
    url = {s: f"http://127.0.0.1:{base + n}" for n, s in enumerate(["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"], 1)}
    admin = call("POST", f"{url['identity']}/v1/auth/login", {"email": os.environ["SYLLABUS_ADMIN_EMAIL"], "password": os.environ["SYLLABUS_ADMIN_PASSWORD"]})["accessToken"]
    learner = call("POST", f"{url['identity']}/v1/auth/register", {
        "email": f"growth-{uuid.uuid4().hex[:10]}@example.com", "password": "correct horse battery staple", "name": "Growth"})
    token, user = learner["accessToken"], learner["user"]["id"]

    # The plan first, on a quiet stack: after the 10k learners' authoring and the 1M analytics
    # events, the database is still busy settling them (vacuum, roll-ups) and would time that.
    plan_curves(url, db, token, user)
    outline_curves(url, db, admin, token)
    analytics_curves(url, db, admin)
    mail_curve(url, db, user)


def content_version(db):
    return int(sql(db, "SELECT version FROM content.outline")[0])


def progress_version(db):
    return int(sql(db, "SELECT version FROM progress.outline_state")[0])


def outline_curves(url, db, admin, token):
    course = call("GET", f"{url['content']}/v1/course", token=token)
    module = course["modules"][0]["id"]
    lessons = sum(len(m["lessons"]) for m in course["modules"])
    free = next(l["id"] for l in course["modules"][0]["lessons"] if l["isFree"])
    read_points, complete_points, authoring = [], [], []
    body = {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "A lesson."}]}]}
    learners_added = False
    for target in (10, 100, 1000):
        if target > lessons:
            if target >= 100 and not learners_added:
                # Ten thousand learners with progress in the module the lessons go into.
                sql(db, f"""
                    INSERT INTO progress.course_progress (user_id) SELECT gen_random_uuid() FROM generate_series(1, 10000);
                    INSERT INTO progress.lesson_progress (user_id, lesson_id, module_id, is_free, completed_at)
                    SELECT c.user_id, '{free}', '{module}', true, now() FROM progress.course_progress c
                    WHERE NOT EXISTS (SELECT 1 FROM progress.lesson_progress l WHERE l.user_id = c.user_id);
                    INSERT INTO progress.module_progress (user_id, module_id) SELECT user_id, '{module}' FROM progress.lesson_progress
                    WHERE lesson_id = '{free}' ON CONFLICT DO NOTHING;
                    ANALYZE progress.lesson_progress, progress.module_progress, progress.course_progress;""")
                learners_added = True
            loop = Loop(url["progress"], free, token) if learners_added else None
            before = Loop(url["progress"], free, token) if learners_added else None
            if before:
                before.start()
                time.sleep(2)
                quiet = before.stop()
            events_before = progress_version(db)
            if loop:
                loop.start()
            started = time.perf_counter()
            for n in range(lessons, target):
                created = call("POST", f"{url['content']}/v1/content/admin/modules/{module}/lessons",
                               {"title": f"Growth lesson {n + 1}", "body": body, "isFree": True, "durationSeconds": 300}, token=admin)
                call("POST", f"{url['content']}/v1/content/admin/lessons/{created['id']}/publish", token=admin)
            authored = time.perf_counter() - started
            wait_for("progress to learn the outline", lambda: progress_version(db) == content_version(db) and
                     int(sql(db, "SELECT count(*) FROM content.outline WHERE announce_due_at IS NULL")[0]) == 1, timeout=120)
            wait_for("progress to reconcile its learners", lambda: sql(db, "SELECT count(*) FROM progress.outline_reconcile")[0] == "0", timeout=600)
            settled = time.perf_counter() - started - authored
            if loop:
                during = loop.stop()
                authoring.append((target - lessons, len(during), percentile(quiet, 0.5), percentile(quiet, 0.99), percentile(during, 0.5),
                                  percentile(during, 0.99), max(during), authored, settled, progress_version(db) - events_before))
            lessons = target
        # The learner's outline read and a completion, one connection each.
        script = os.path.join(os.environ.get("TMPDIR", "/tmp"), "growth-read.lua")
        with open(script, "w") as f:
            f.write(f'wrk.headers["authorization"] = "Bearer {token}"\n')
        read = wrk(f"{url['content']}/v1/course", 1, script)
        toggle = os.path.join(os.environ.get("TMPDIR", "/tmp"), "growth-toggle.lua")
        with open(toggle, "w") as f:
            f.write(f'local n = 0\nfunction request()\n  n = n + 1\n  return wrk.format(n % 2 == 1 and "PUT" or "DELETE", "/v1/progress/lessons/{free}", '
                    f'{{["authorization"] = "Bearer {token}"}})\nend\n')
        completion = wrk(url["progress"], 1, toggle)
        read_points.append((lessons, [read["p50"], read["p99"], read["rate"]]))
        complete_points.append((lessons, [completion["p50"], completion["p99"], completion["rate"]]))
    curve("`GET /v1/course`, one connection", "lessons", read_points, ["p50 ms", "p99 ms", "req/s"])
    curve("complete/undo a lesson, one connection", "lessons", complete_points, ["p50 ms", "p99 ms", "req/s"])
    print("**Authoring with 10,000 learners holding progress in the module written to** (one learner completes and undoes a lesson meanwhile)")
    print()
    print("| lessons added | completions during | completion p50 / p99 before, ms | completion p50 / p99 / max during, ms | authoring, s | progress settled after, s | outline events |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for added, count, q50, q99, d50, d99, dmax, authored, settled, events in authoring:
        print(f"| {added:,} | {count:,} | {q50:.1f} / {q99:.1f} | {d50:.1f} / {d99:.1f} / {dmax:.1f} | {authored:.1f} | {settled:.1f} | {events} |")
    print()


def analytics_curves(url, db, admin):
    """Events generated in SQL: users a twentieth of the events, over 90 days, a product's mix."""
    names = ["signup_completed", "lesson_started", "lesson_started", "lesson_started", "lesson_completed", "lesson_completed",
             "lesson_completed", "module_completed", "paywall_viewed", "subscription_started"]
    funnel_points, count_points = [], []
    total = 0
    now = time.time()
    window = {"from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30 * 86400)), "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
    for size in (10_000, 100_000, 1_000_000):
        users = size // 20
        sql(db, f"""
            INSERT INTO analytics.events (id, event, user_id, source, source_event_id, created_at)
            SELECT gen_random_uuid(), (ARRAY{names})[1 + floor(random() * {len(names)})::int],
                   ('00000000-0000-4000-8000-' || lpad(to_hex(floor(random() * {users})::bigint), 12, '0'))::uuid,
                   'server', 'growth:' || gen_random_uuid(), now() - random() * interval '90 days'
            FROM generate_series(1, {size - total});""")
        sql(db, "VACUUM ANALYZE analytics.events")
        total = size
        funnel = urllib.parse.urlencode({"steps": "signup_completed,lesson_completed,subscription_started", **window})
        counts = urllib.parse.urlencode({"events": "lesson_started,lesson_completed,signup_completed", "interval": "day", **window})
        funnel_ms = timed(lambda: call("GET", f"{url['analytics']}/v1/analytics/admin/funnel?{funnel}", token=admin), 10)
        counts_ms = timed(lambda: call("GET", f"{url['analytics']}/v1/analytics/admin/counts?{counts}", token=admin), 10)
        funnel_points.append((size, list(funnel_ms)))
        count_points.append((size, list(counts_ms)))
    curve("analytics: a three-step funnel over 30 days (10 requests)", "events", funnel_points, ["p50 ms", "max ms"])
    curve("analytics: counts of three events by day over 30 days (10 requests)", "events", count_points, ["p50 ms", "max ms"])


def mail_curve(url, db, user):
    """Pending mails to a registered learner, inserted at once: how fast the dispatcher drains them."""
    wait_for("notifications to know the learner", lambda: sql(db, f"SELECT count(*) FROM notifications.email_queue WHERE user_id = '{user}'")[0] != "0")
    row = subprocess.run(["psql", "-X", "-At", db, "-c", f"SELECT template, data::text FROM notifications.email_queue WHERE user_id = '{user}' ORDER BY created_at LIMIT 1"],
                         capture_output=True, text=True, check=True).stdout.strip().split("|", 1)
    template, data = row[0], row[1]
    points = []
    for size in (1_000, 10_000):
        batch = uuid.uuid4().hex[:8]
        sql(db, f"""
            INSERT INTO notifications.email_queue (id, user_id, template, dedupe_key, scheduled_for, data)
            SELECT gen_random_uuid(), '{user}', '{template}', 'growth:{batch}:' || n, now(), '{data.replace("'", "''")}'::jsonb
            FROM generate_series(1, {size}) n;
            NOTIFY email_queue;""")
        started = time.perf_counter()
        wait_for("the mails to be dispatched", lambda: sql(db, f"SELECT count(*) FROM notifications.email_queue WHERE dedupe_key LIKE 'growth:{batch}:%' AND status = 'PENDING'")[0] == "0",
                 timeout=900)
        seconds = time.perf_counter() - started
        outcome = dict(r.split(":") for r in sql(db, f"SELECT status || ':' || count(*) FROM notifications.email_queue WHERE dedupe_key LIKE 'growth:{batch}:%' GROUP BY status"))
        points.append((size, [seconds * 1000 / size, size / seconds, float(outcome.get("SENT", 0))]))
    curve("mail dispatcher: pending mails drained", "pending mails", points, ["ms per mail", "mails/s", "sent"])


def plan_curves(url, db, token, user):
    """One learner's plan grown to about 10, 100 and 1,000 tasks (rows added to its first module in
    content and in progress alike): reading it, and setting a task's status."""
    plan = call("POST", f"{url['content']}/v1/plans", {"topic": "Growth", "skillLevel": "beginner", "weeklyHours": 5, "learningStyle": "mixed"}, token=token)
    ready = wait_for("the plan to be generated", lambda: (lambda p: p if p.get("generationStatus") == "ready" else None)(
        call("GET", f"{url['content']}/v1/plans/{plan['id']}", token=token)))
    task = ready["modules"][0]["tasks"][0]["id"]
    wait_for("progress to hold the plan", lambda: call("GET", f"{url['progress']}/v1/progress/plans/{plan['id']}", token=token, allow_missing=True))
    module = ready["modules"][0]["id"]
    tasks = sum(len(m["tasks"]) for m in ready["modules"])
    read_points, set_points = [], []
    for target in (tasks, 100, 1000):
        if target > tasks:
            sql(db, f"""
                CREATE TEMP TABLE added AS SELECT gen_random_uuid() AS id, n FROM generate_series(1, {target - tasks}) n;
                INSERT INTO content.plan_tasks (id, module_id, user_id, title, description, position, estimated_minutes)
                SELECT id, '{module}', '{user}', 'Task ' || n, 'Added', 1000 + n + {tasks}, 30 FROM added;
                INSERT INTO progress.plan_tasks (task_id, plan_id, user_id, module_id, module_order, task_order, estimated_minutes)
                SELECT id, '{plan['id']}', '{user}', '{module}', 1, 1000 + n + {tasks}, 30 FROM added;""")
            tasks = target
        read = timed(lambda: call("GET", f"{url['content']}/v1/plans/{plan['id']}", token=token), 20)
        states = iter(["completed", "not_started"] * 20)
        status = timed(lambda: call("PUT", f"{url['progress']}/v1/progress/tasks/{task}", {"status": next(states)}, token=token), 20)
        read_points.append((tasks, list(read)))
        set_points.append((tasks, list(status)))
    curve("`GET /v1/plans/{id}` (20 requests)", "tasks", read_points, ["p50 ms", "max ms"])
    curve("setting a task's status, with the plan's new percentage (20 requests)", "tasks", set_points, ["p50 ms", "max ms"])


if __name__ == "__main__":
    main()
