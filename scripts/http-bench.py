#!/usr/bin/env python3
"""`make bench-http`: HTTP paths of the running bench stack, each beside a baseline measured in the
same run, on the same servers: a read path against a bare route of the same process (wrk), a
write path against pgbench running the statements Postgres logged for one request of it, at the
same concurrency; and the services' resident memory idle and under load. Prints Markdown tables.

A write's event is relayed and handled by other services on the same two cores, work its pgbench
baseline does not do; complete/undo is also measured with those services paused (SIGSTOP), so the
table shows how much of the gap is the event's downstream and how much the path itself.

Usage: http-bench.py <syllabus.env> <port base> <pid dir> <Postgres log>
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sql_recorder
from base64 import b64encode
from bench_common import env_file

SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "8"))


def call(method, url, body=None, token=None, allow_missing=False):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        if allow_missing and error.code == 404:
            return None
        sys.exit(f"{method} {url} answered {error.code}: {error.read()[:300]!r}")


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


def pgbench(url, clients, scripts, defines):
    """One pgbench process per client, all at once, each with its own variables (`defines[n]`,
    its learner): TPS summed, latency averaged."""
    processes = []
    for client in range(clients):
        # Prepared statements, each :variable a parameter, as the service sends them.
        args = ["pgbench", "-n", "-M", "prepared", "-c", "1", "-T", str(SECONDS)]
        for name, value in defines[client].items():
            args += ["-D", f"{name}={value}"]
        for script in scripts:
            args += ["-f", script]
        processes.append(subprocess.Popen(args + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    tps, latencies, failed = 0.0, [], 0
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            sys.exit(f"pgbench failed:\n{out}\n{err}")
        tps += float(re.search(r"tps = ([\d.]+)", out).group(1))
        latencies.append(float(re.search(r"latency average = ([\d.]+) ms", out).group(1)))
        match = re.search(r"number of failed transactions: (\d+)", out)
        failed += int(match.group(1)) if match else 0
    return {"rate": tps, "avg": sum(latencies) / len(latencies), "errors": failed}


def rss_mb(pid_dir, service):
    pid = open(os.path.join(pid_dir, f"{service}.pid")).read().strip()
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def paused(pid_dir, services, action):
    """`action()` with `services` stopped (SIGSTOP): their queues fill meanwhile."""
    pids = [int(open(os.path.join(pid_dir, f"{s}.pid")).read().strip()) for s in services]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        return action()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def queued_messages(env, services):
    """Messages (ready and unacknowledged) in the services' own queues (not their dead letters,
    not the archive stream), from the management API (whose figures are refreshed every 5 s)."""
    amqp = urllib.parse.urlsplit(env["ADMIN_AMQP_URL"])
    vhost = urllib.parse.unquote(amqp.path[1:]) or "/"
    credentials = f"{urllib.parse.unquote(amqp.username)}:{urllib.parse.unquote(amqp.password)}"
    request = urllib.request.Request(
        f"{env['RABBITMQ_MANAGEMENT_URL']}/api/queues/{urllib.parse.quote(vhost, safe='')}?columns=name,messages",
        headers={"authorization": "Basic " + b64encode(credentials.encode()).decode()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return sum(q.get("messages") or 0 for q in json.load(response) if q["name"] in services)


def wait_for(what, check, timeout=30):
    """Polls `check()` until it returns something truthy (the condition lives in another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def lua_requests(path, requests):
    """A wrk script cycling through `requests` (method, path, token, body), one thread's share each."""
    with open(path, "w") as f:
        f.write("local requests = {\n")
        for method, target, token, body in requests:
            f.write(f"  {{{json.dumps(method)}, {json.dumps(target)}, {json.dumps(token)}, {json.dumps(body or '')}}},\n")
        f.write("}\n")
        f.write("local threads, next_thread = {}, 0\n")
        f.write("function setup(thread)\n  next_thread = next_thread + 1\n  thread:set(\"first\", next_thread)\nend\n")
        f.write("local n = -1\n")
        f.write("function request()\n  n = n + 1\n  local r = requests[((first or 1) - 1 + n) % #requests + 1]\n")
        f.write("  local headers = {[\"authorization\"] = \"Bearer \" .. r[3]}\n")
        f.write("  if r[4] ~= \"\" then headers[\"content-type\"] = \"application/json\" end\n")
        f.write("  return wrk.format(r[1], r[2], headers, r[4] ~= \"\" and r[4] or nil)\nend\n")
    return path


def main():
    env_path, base, pid_dir, pg_log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
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
    wait_for("progress to hold the outline", lambda: call("GET", f"{url['progress']}/v1/progress", token=learners[0]["token"])["lessonsTotal"] == lessons)

    # A learning plan for each learner (generated offline by content); progress learns its tasks.
    plans = []
    for learner in learners:
        plan = call("POST", f"{url['content']}/v1/plans", {
            "topic": "Swift concurrency", "skillLevel": "beginner", "weeklyHours": 5, "learningStyle": "mixed"}, token=learner["token"])
        plans.append(plan["id"])
    for learner, plan in zip(learners, plans):
        ready = wait_for("the plans to be generated", lambda: (lambda p: p if p.get("generationStatus") == "ready" else None)(
            call("GET", f"{url['content']}/v1/plans/{plan}", token=learner["token"])))
        learner["plan"] = plan
        learner["task"] = next(t["id"] for m in ready["modules"] for t in m["tasks"])
        learner["tasks"] = sum(len(m["tasks"]) for m in ready["modules"])
        wait_for("progress to hold the plans", lambda: call("GET", f"{url['progress']}/v1/progress/plans/{plan}", token=learner["token"], allow_missing=True))

    idle = {s: rss_mb(pid_dir, s) for s in ("identity", "content", "progress")}
    rows = []

    def bare(service, connections):
        return wrk(f"{url[service]}/health/live", connections)

    def read_row(label, service, path, connections=16):
        baseline = bare(service, connections)
        script = lua_requests(os.path.join(work, "read.lua"), [("GET", path(l) if callable(path) else path, l["token"], None) for l in learners])
        measured = wrk(url[service], connections, script)
        rows.append((label, f"{baseline['rate']:,.0f} req/s `GET /health/live` (p99 {baseline['p99']:.1f} ms)", described(measured),
                     measured["rate"] / baseline["rate"]))

    read_row(f"`GET /v1/course`, {lessons} lessons, 16 connections", "content", "/v1/course")
    read_row("`GET /v1/progress`, 16 connections", "progress", "/v1/progress")
    read_row(f"`GET /v1/plans/{{id}}`, {learners[0]['tasks']} tasks, 16 connections", "content", lambda l: f"/v1/plans/{l['plan']}")

    # The writes, each beside pgbench running the statements the path runs (recorded from
    # Postgres's log for one request), at the same concurrency, each client its own learner, as
    # the service's own role under row-level security. Outbox rows go to a copy of the table, so
    # no relay publishes them.
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin_db, "-c", f"""
        DROP TABLE IF EXISTS public.http_bench_outbox;
        CREATE TABLE public.http_bench_outbox (LIKE progress.outbox INCLUDING DEFAULTS);
        GRANT USAGE ON SCHEMA public TO progress;
        GRANT INSERT ON public.http_bench_outbox TO progress;
    """], check=True)
    into_copy = [(r"INSERT INTO outbox\b", "INSERT INTO public.http_bench_outbox")]

    def recorded(request, learner):
        """The pgbench commands of one recorded request of `learner` (their ids as variables)."""
        statements = sql_recorder.record(admin_db, pg_log, learner["id"], "progress", request)
        variables = {learner["id"]: "uid", learner["task"]: "tid"}
        return sql_recorder.pgbench_script(statements, variables, replace=into_copy)

    def write_row(label, scripts, requests_per_script, connections, requests, pause=()):
        """wrk cycling through `requests` beside pgbench running `scripts` (one file, in order);
        the services in `pause` stopped while wrk runs."""
        path = os.path.join(work, f"write-{len(rows)}.sql")
        with open(path, "w") as f:
            f.write("".join(scripts))
        defines = [{"uid": l["id"], "tid": l["task"]} for l in learners]
        baseline = pgbench(env["PROGRESS_DATABASE_URL"], connections, [path], defines)
        script = lua_requests(os.path.join(work, f"write-{len(rows)}.lua"), requests)
        measured = paused(pid_dir, pause, lambda: wrk(url["progress"], connections, script))
        if pause:  # what they missed is handled before the next row is measured
            wait_for("the paused services to catch up", lambda: queued_messages(env, pause) == 0, timeout=300)
        rate = baseline["rate"] * requests_per_script
        rows.append((label, f"{rate:,.0f} req/s pgbench, the same statements, {connections} client(s) (avg {baseline['avg'] / requests_per_script:.1f} ms)",
                     described(measured), measured["rate"] / rate))

    # Complete/undo one free lesson, alternating: each connection is one learner.
    first = learners[0]
    lesson_path = f"/v1/progress/lessons/{lesson['id']}"
    complete = recorded(lambda: call("PUT", f"{url['progress']}{lesson_path}", token=first["token"]), first)
    undo = recorded(lambda: call("DELETE", f"{url['progress']}{lesson_path}", token=first["token"]), first)
    start = recorded(lambda: call("POST", f"{url['progress']}{lesson_path}/start", token=first["token"]), first)
    task_path = lambda l: f"/v1/progress/tasks/{l['task']}"
    done = recorded(lambda: call("PUT", f"{url['progress']}{task_path(first)}", {"status": "completed"}, token=first["token"]), first)
    reset = recorded(lambda: call("PUT", f"{url['progress']}{task_path(first)}", {"status": "not_started"}, token=first["token"]), first)
    for script, name in ((complete, "complete"), (undo, "undo"), (start, "start"), (done, "task"), (reset, "task-reset")):
        with open(os.path.join(work, f"recorded-{name}.sql"), "w") as f:
            f.write(script)

    for connections in (8, 1):
        toggles = [(m, lesson_path, l["token"], None) for l in learners[:connections] for m in ("PUT", "DELETE")]
        write_row(f"complete/undo a lesson, {connections} learner(s) on {connections} connection(s)", [complete, undo], 2, connections, toggles)
    toggles = [(m, lesson_path, l["token"], None) for l in learners for m in ("PUT", "DELETE")]
    write_row("complete/undo a lesson, 8 learners on 8 connections, the services its events reach paused "
              "(content, notifications, analytics, webhooks: progress, its relay and the broker still work)",
              [complete, undo], 2, 8, toggles, pause=("content", "notifications", "analytics", "webhooks"))
    write_row("start a lesson (again), 8 learners on 8 connections", [start], 1, 8, [("POST", f"{lesson_path}/start", l["token"], None) for l in learners])
    write_row("set a plan task's status (done, then not started), 8 learners on 8 connections", [done, reset], 2, 8,
              [("PUT", task_path(l), l["token"], json.dumps({"status": s})) for l in learners for s in ("completed", "not_started")])
    register_row(env, url, admin_db, pg_log, work, rows)
    loaded = {s: rss_mb(pid_dir, s) for s in ("identity", "content", "progress")}
    subprocess.run(["psql", "-q", admin_db, "-c", "DROP TABLE IF EXISTS public.http_bench_outbox"], check=True)

    print("| path | baseline (same run) | measured | ratio |")
    print("| --- | --- | --- | --- |")
    for label, baseline, measured, ratio in rows:
        print(f"| {label} | {baseline} | {measured} | {ratio:.2f} |")
    print()
    print(f"The write baselines run the statements Postgres logged for one request of each path (in {work}/recorded-*.sql).")
    print()
    print("| resident memory, MB | " + " | ".join(idle) + " |")
    print("| --- | --- | --- | --- |")
    print("| idle | " + " | ".join(f"{v:.0f}" for v in idle.values()) + " |")
    print("| after the load | " + " | ".join(f"{v:.0f}" for v in loaded.values()) + " |")


def bcrypt_seconds(cost):
    """One bcrypt hash at `cost` on this machine (libxcrypt), the median of five."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    times = []
    for _ in range(5):
        started = time.perf_counter()
        crypt.crypt("correct horse battery staple", f"$2b${cost:02d}$" + uuid.uuid4().hex[:22])
        times.append(time.perf_counter() - started)
    return sorted(times)[2]


def register_row(env, url, admin_db, pg_log, work, rows):
    """Registering: wrk against pgbench of the statements one registration runs, each with fresh
    ids, address and token hashes; bcrypt, which dominates, reported apart."""
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    answer = {}

    def register():
        answer.update(call("POST", f"{url['identity']}/v1/auth/register", {"email": email, "password": "correct horse battery staple", "name": "Bench"}))

    statements = sql_recorder.record(admin_db, pg_log, email, "identity", register)
    user = answer["user"]["id"]
    # Every value a unique index holds is drawn afresh for each transaction (one more round trip
    # than the service, which makes them in process).
    fresh = {user: "rid", email: "email"}
    draws = ["gen_random_uuid() AS rid", "'bench-' || md5(random()::text) || '@example.com' AS email"]
    for sql, params in statements:
        for value in params.values():
            literal = value[1:-1]
            if literal in fresh or value == "NULL":
                continue
            name = f"v{len(fresh)}"
            if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", literal) and "INSERT INTO sessions" in sql:
                draws.append(f"gen_random_uuid() AS {name}")  # the session's id
            elif literal.startswith("\\x"):
                draws.append(f"'\\x' || md5(random()::text) || md5(random()::text) AS {name}")  # a token's hash
            else:
                continue
            fresh[literal] = name
    script = sql_recorder.pgbench_script(statements, fresh, prelude="SELECT " + ", ".join(draws) + " \\gset",
                                         replace=[(r"INSERT INTO outbox\b", "INSERT INTO public.http_bench_identity_outbox")])
    path = os.path.join(work, "recorded-register.sql")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin_db, "-c", """
        DROP TABLE IF EXISTS public.http_bench_identity_outbox;
        CREATE TABLE public.http_bench_identity_outbox (LIKE identity.outbox INCLUDING DEFAULTS);
        GRANT USAGE ON SCHEMA public TO identity;
        GRANT INSERT ON public.http_bench_identity_outbox TO identity;
    """], check=True)
    connections = 2
    baseline = pgbench(env["IDENTITY_DATABASE_URL"], connections, [path], [{} for _ in range(connections)])
    lua = os.path.join(work, "register.lua")
    with open(lua, "w") as f:
        # Each wrk thread has a Lua state of its own: the thread's number keeps their emails apart.
        f.write("local n, prefix, threads = 0, nil, 0\n")
        f.write("function setup(thread) threads = threads + 1; thread:set(\"number\", threads) end\n")
        f.write("function init(args) prefix = string.format(\"%x-%d\", os.time(), number); math.randomseed(os.time() + number) end\n")
        f.write("function request()\n  n = n + 1\n")
        f.write("  local body = '{\"email\":\"bench-' .. prefix .. '-' .. n .. '@example.com\",\"password\":\"correct horse battery staple\",\"name\":\"Bench\"}'\n")
        f.write("  local address = string.format(\"10.%d.%d.%d\", math.random(0, 255), math.random(0, 255), math.random(1, 254))\n")
        f.write("  return wrk.format(\"POST\", \"/v1/auth/register\", {[\"content-type\"] = \"application/json\", [\"x-forwarded-for\"] = address}, body)\nend\n")
    measured = wrk(url["identity"], connections, lua)
    cost = int(env.get("IDENTITY_BCRYPT_COST", "12"))
    hash_seconds = bcrypt_seconds(cost)
    ceiling = 2 / hash_seconds  # two cores, nothing else to do
    subprocess.run(["psql", "-q", admin_db, "-c", "DROP TABLE IF EXISTS public.http_bench_identity_outbox"], check=True)
    rows.append((f"register, {connections} connections (bcrypt cost {cost}: {hash_seconds * 1000:.0f} ms a hash here, at most {ceiling:,.0f}/s on two cores)",
                 f"{baseline['rate']:,.0f} req/s pgbench, the same statements, {connections} clients; bcrypt alone: {ceiling:,.0f}/s",
                 described(measured), measured["rate"] / min(baseline["rate"], ceiling)))


def described(measured):
    return f"{measured['rate']:,.0f} req/s, p50 {measured['p50']:.1f} ms, p99 {measured['p99']:.1f} ms, {measured['errors']} errors"


if __name__ == "__main__":
    main()
