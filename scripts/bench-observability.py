#!/usr/bin/env python3
"""What metrics, access logs and tracing cost on the HTTP paths: the services of the bench stack
are restarted in each mode by scripts/bench-http.sh, and this measures the same two paths each
time (a read, `GET /v1/course`, and a write that publishes events, complete/undo a lesson), then
prints one table whose ratios are against the run with everything off.

Usage: bench-observability.py measure <mode> <syllabus.env> <port base>  (one JSON line on stdout)
       bench-observability.py table <results.jsonl>
"""

import importlib.util
import json
import os
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
spec = importlib.util.spec_from_file_location("http_bench", os.path.join(HERE, "http-bench.py"))
http_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(http_bench)

MODES = {
    "off": "metrics, access log and tracing off",
    "metrics": "metrics and access log on (the default)",
    "tracing": "metrics, access log and tracing on (every span exported over OTLP)",
}


def measure(mode, env_path, base):
    call, wrk, lua_requests, wait_for = http_bench.call, http_bench.wrk, http_bench.lua_requests, http_bench.wait_for
    url = {"identity": f"http://127.0.0.1:{base + 1}", "content": f"http://127.0.0.1:{base + 3}", "progress": f"http://127.0.0.1:{base + 4}"}
    work = tempfile.mkdtemp(prefix="bench-observability-")
    learners = []
    for n in range(8):
        answer = call("POST", f"{url['identity']}/v1/auth/register", {
            "email": f"obs-{uuid.uuid4().hex[:10]}@example.com", "password": "correct horse battery staple", "name": f"Observed {n}"})
        learners.append({"id": answer["user"]["id"], "token": answer["accessToken"]})
    course = call("GET", f"{url['content']}/v1/course", token=learners[0]["token"])
    lesson = next(l for m in course["modules"] for l in m["lessons"] if l["isFree"])
    lessons = len([l for m in course["modules"] for l in m["lessons"]])
    wait_for("progress to hold the outline", lambda: call("GET", f"{url['progress']}/v1/progress", token=learners[0]["token"])["lessonsTotal"] == lessons)
    read = lua_requests(os.path.join(work, "read.lua"), [("GET", "/v1/course", l["token"], None) for l in learners])
    course_figures = wrk(url["content"], 16, read)
    path = f"/v1/progress/lessons/{lesson['id']}"
    toggles = lua_requests(os.path.join(work, "write.lua"), [(m, path, l["token"], None) for l in learners for m in ("PUT", "DELETE")])
    write_figures = wrk(url["progress"], 8, toggles)
    print(json.dumps({"mode": mode, "course": course_figures, "write": write_figures}))


def table(path):
    runs = {}
    for line in open(path):
        line = line.strip()
        if line:
            run = json.loads(line)
            runs[run["mode"]] = run
    off = runs["off"]
    print("| path | mode | measured | against all off |")
    print("| --- | --- | --- | --- |")
    for key, label in (("course", "`GET /v1/course`, 16 connections"), ("write", "complete/undo a lesson, 8 learners on 8 connections")):
        for mode, description in MODES.items():
            if mode not in runs:
                continue
            figures = runs[mode][key]
            errors = f", {figures['errors']} errors" if figures["errors"] else ""
            print(f"| {label} | {description} | {figures['rate']:,.0f} req/s, p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms{errors} "
                  f"| {figures['rate'] / off[key]['rate']:.2f} |")


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
