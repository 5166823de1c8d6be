#!/usr/bin/env python3
"""`make bench-http`: HTTP paths of the running bench stack, each beside a baseline measured in the
same run, on the same servers: a read path against a bare route of the same process (wrk), a
write path against pgbench running the same statements at the same concurrency, and the services'
resident memory idle and under load. Prints a Markdown table.

Usage: http-bench.py <syllabus.env> <port base> <pid dir>
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import uuid

SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "8"))


def env_file(path):
    values = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def wrk(url, connections, script=None):
    """Requests/s, p50 ms, p99 ms and non-2xx count of one wrk run."""
    args = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{SECONDS}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout

    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rate": rate, "p50": latency(50), "p99": latency(99), "errors": int(errors.group(1)) if errors else 0}


def pgbench(url, clients, scripts):
    # Extended protocol: each :variable is a parameter, as the service sends it.
    args = ["pgbench", "-n", "-M", "extended", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(SECONDS)]
    for script in scripts:
        args += ["-f", script]
    run = subprocess.run(args + [url], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    out = run.stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {"rate": tps, "avg": latency, "errors": int(failed.group(1)) if failed else 0}


def rss_mb(pid_dir, service):
    pid = open(os.path.join(pid_dir, f"{service}.pid")).read().strip()
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    env_path, base, pid_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    env = env_file(env_path)
    port = {"identity": base + 1, "content": base + 3, "progress": base + 4}
    url = {name: f"http://127.0.0.1:{p}" for name, p in port.items()}
    admin_db = env["ADMIN_DATABASE_URL"]
    work = tempfile.mkdtemp(prefix="http-bench-")

    # Eight learners, each with a token; a free lesson of the seeded course to complete and undo.
    learners = []
    for n in range(8):
        answer = call("POST", f"{url['identity']}/v1/auth/register", {
            "email": f"bench-{uuid.uuid4().hex[:10]}@example.com", "password": "correct horse battery staple", "name": f"Bench {n}"})
        learners.append({"id": answer["user"]["id"], "token": answer["accessToken"]})
    course = call("GET", f"{url['content']}/v1/course", token=learners[0]["token"])
    module, lesson = next((m, l) for m in course["modules"] for l in m["lessons"] if l["isFree"])
    lessons = len([l for m in course["modules"] for l in m["lessons"]])

    idle = {s: rss_mb(pid_dir, s) for s in ("identity", "content", "progress")}
    rows = []

    def read_row(label, service, path, connections=16):
        bare = wrk(f"{url[service]}/health/live", connections)
        script = os.path.join(work, "read.lua")
        with open(script, "w") as f:
            f.write(f'wrk.headers["authorization"] = "Bearer {learners[0]["token"]}"\n')
        measured = wrk(f"{url[service]}{path}", connections, script)
        rows.append((label, f"{bare['rate']:,.0f} req/s `GET /health/live` (p99 {bare['p99']:.1f} ms)",
                     f"{measured['rate']:,.0f} req/s, p50 {measured['p50']:.1f} ms, p99 {measured['p99']:.1f} ms, {measured['errors']} errors",
                     measured["rate"] / bare["rate"]))

    read_row(f"`GET /v1/course`, {lessons} lessons, 16 connections", "content", "/v1/course")
    read_row("`GET /v1/progress`, 16 connections", "progress", "/v1/progress")

    # Complete/undo one free lesson, alternating, eight learners on eight connections.
    toggle = os.path.join(work, "toggle.lua")
    with open(toggle, "w") as f:
        f.write("local tokens = {" + ", ".join(f'"{l["token"]}"' for l in learners) + "}\n")
        f.write("local next_token = 0\n")
        f.write("function setup(thread)\n  next_token = next_token + 1\n  thread:set(\"token\", tokens[next_token])\nend\n")
        f.write("local n = 0\n")
        f.write("function request()\n  n = n + 1\n  local method = (n % 2 == 1) and \"PUT\" or \"DELETE\"\n")
        f.write(f'  return wrk.format(method, "/v1/progress/lessons/{lesson["id"]}", {{["authorization"] = "Bearer " .. token}})\nend\n')
    # pgbench runs the statements the path runs (as logged by Postgres for one request), as
    # progress's own role under its row-level security, each client as its own learner; its
    # outbox rows go to a copy of the table, so no relay publishes them.
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin_db, "-c", f"""
        DROP TABLE IF EXISTS public.http_bench_learners, public.http_bench_outbox;
        CREATE TABLE public.http_bench_learners (n int PRIMARY KEY, user_id uuid NOT NULL);
        INSERT INTO public.http_bench_learners VALUES {", ".join(f"({n}, '{l['id']}')" for n, l in enumerate(learners))};
        CREATE TABLE public.http_bench_outbox (LIKE progress.outbox INCLUDING DEFAULTS);
        GRANT SELECT ON public.http_bench_learners TO progress;
        GRANT INSERT ON public.http_bench_outbox TO progress;
        GRANT USAGE ON SCHEMA public TO progress;
    """], check=True)
    body = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/syllabus/progress", "type": "org.syllabus.progress.lesson.completed.v1",
                       "subject": learners[0]["id"], "time": "2026-01-01T00:00:00Z", "datacontenttype": "application/json",
                       "data": {"userId": learners[0]["id"], "lessonId": lesson["id"], "moduleId": module["id"], "completedAt": "2026-01-01T00:00:00Z"}})
    common_head = f"""SELECT user_id AS uid FROM public.http_bench_learners WHERE n = :client_id % 8 \\gset
SELECT EXISTS (SELECT 1 FROM progress.user_tombstones WHERE user_id = :uid) AS deleted, EXISTS (SELECT 1 FROM progress.access_not_before WHERE user_id = :uid AND not_before > now()) AS stale;
BEGIN;
SET LOCAL ROLE progress;
SET LOCAL search_path = progress;
SELECT set_config('syllabus.user_id', :uid, true), set_config('syllabus.scope', '', true);
SELECT version FROM outline_state FOR SHARE;
INSERT INTO course_progress (user_id) VALUES (:uid) ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id;
SELECT coalesce((SELECT has_access FROM entitlements WHERE user_id = :uid), false) AS has_access, (SELECT string_agg(module_id::text, ',') FROM module_progress WHERE user_id = :uid AND completed) AS modules;
"""
    common_tail = f"""SELECT lesson_id FROM lesson_progress WHERE user_id = :uid AND completed_at IS NOT NULL AND lesson_id = ANY(ARRAY['{lesson["id"]}']::uuid[]);
INSERT INTO module_progress (user_id, module_id) VALUES (:uid, '{module["id"]}') ON CONFLICT (user_id, module_id) DO UPDATE SET user_id = excluded.user_id RETURNING completed, ever_completed;
SELECT module_id FROM module_progress WHERE user_id = :uid AND completed;
SELECT completed, ever_completed FROM course_progress WHERE user_id = :uid FOR UPDATE;
UPDATE course_progress SET event_sequence = event_sequence + 1 WHERE user_id = :uid RETURNING event_sequence;
INSERT INTO public.http_bench_outbox (event_id, routing_key, aggregate_id, sequence, body, occurred_at) VALUES (gen_random_uuid(), 'progress.lesson.completed.v1', :uid, 1, '{body}', now());
COMMIT;
"""
    complete = os.path.join(work, "complete.sql")
    undo = os.path.join(work, "undo.sql")
    with open(complete, "w") as f:
        f.write(common_head + f"""INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free, completed_at) VALUES (:uid, '{lesson["id"]}', '{module["id"]}', true, now()) ON CONFLICT (user_id, lesson_id) DO UPDATE SET completed_at = excluded.completed_at, module_id = excluded.module_id, is_free = excluded.is_free WHERE lesson_progress.completed_at IS NULL RETURNING lesson_id;
""" + common_tail)
    with open(undo, "w") as f:
        f.write(common_head + f"""UPDATE lesson_progress SET completed_at = NULL WHERE user_id = :uid AND lesson_id = '{lesson["id"]}' AND completed_at IS NOT NULL RETURNING is_free;
""" + common_tail)

    for clients in (8, 1):
        baseline = pgbench(admin_db, clients, [complete, undo])
        measured = wrk(url["progress"], clients, toggle)
        rows.append((f"complete/undo a lesson, {clients} learner{'s' if clients > 1 else ''} on {clients} connection{'s' if clients > 1 else ''}",
                     f"{baseline['rate']:,.0f} TPS pgbench, the same statements, {clients} client(s) (avg {baseline['avg']:.1f} ms)",
                     f"{measured['rate']:,.0f} req/s, p50 {measured['p50']:.1f} ms, p99 {measured['p99']:.1f} ms, {measured['errors']} errors",
                     measured["rate"] / baseline["rate"]))
    loaded = {s: rss_mb(pid_dir, s) for s in ("identity", "content", "progress")}
    subprocess.run(["psql", "-q", admin_db, "-c", "DROP TABLE IF EXISTS public.http_bench_learners, public.http_bench_outbox"], check=True)

    print("| path | baseline (same run) | measured | ratio |")
    print("| --- | --- | --- | --- |")
    for label, baseline, measured, ratio in rows:
        print(f"| {label} | {baseline} | {measured} | {ratio:.2f} |")
    print()
    print("| resident memory, MB | " + " | ".join(idle) + " |")
    print("| --- | --- | --- | --- |")
    print("| idle | " + " | ".join(f"{v:.0f}" for v in idle.values()) + " |")
    print("| after the load | " + " | ".join(f"{v:.0f}" for v in loaded.values()) + " |")


if __name__ == "__main__":
    main()
