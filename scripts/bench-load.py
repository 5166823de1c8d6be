#!/usr/bin/env python3
"""`make bench-http`, last part: the whole system under load. Learners (BENCH_LOAD_LEARNERS, 50),
each subscribed through a signed Stripe webhook to billing, walk the course at once for
BENCH_LOAD_SECONDS (20), each in a closed loop: read the outline (content), complete the next
lesson (progress), read their progress; now and then undo a lesson and complete it again; after
BENCH_LOAD_EVENTS_SHARE of the lessons (0.3) send client events (analytics). After the last module
a learner undoes every lesson, waits until content has locked the later modules again, and starts
over. Identity, billing and notifications work beside them on what the bus brings.

The key figure is how long after the 200 of a completion that completes a module the next module
opens in content (progress outbox → RabbitMQ → content's consumer): a thread per learner polls
`GET /v1/course` every BENCH_LOAD_POLL_MS (5) from that 200 until the module and its lessons show
`unlocked: true`. Prints Markdown tables: requests/s, p50, p99 and errors per route; the unlock
delays (with bounds, and split at content's consumer transaction); the messages waiting in each
service's queue; CPU per process during the load; each service's resident memory idle before and
after. Any error, or an unlock not seen within BENCH_LOAD_UNLOCK_TIMEOUT seconds (30), fails the
run (exit status 1) after the tables are printed.

Learners reach identity and analytics as if through a gateway, each from an address of its own
(`X-Forwarded-For`): the stack must trust 127.0.0.1 as a proxy (`IDENTITY_TRUSTED_PROXIES`,
`ANALYTICS_TRUSTED_PROXIES`), else every learner would share one address's limits.

Usage: bench-load.py <syllabus.env> <port base> <pid dir>
"""

import concurrent.futures
import hashlib
import hmac
import http.client
import ipaddress
import json
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from base64 import b64encode
from datetime import datetime, timezone

from bench_common import env_file

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "20"))
LEARNERS = int(os.environ.get("BENCH_LOAD_LEARNERS", "50"))
POLL_INTERVAL = float(os.environ.get("BENCH_LOAD_POLL_MS", "5")) / 1000
UNLOCK_TIMEOUT = float(os.environ.get("BENCH_LOAD_UNLOCK_TIMEOUT", "30"))
DRAIN_TIMEOUT = float(os.environ.get("BENCH_LOAD_DRAIN_TIMEOUT", "120"))
SETUP_TIMEOUT = 60.0
# The mix: after a lesson that does not end its module, how often it is undone and completed
# again; after any lesson, how often client events are sent (BENCH_LOAD_EVENTS_SHARE; at most one
# batch every ANALYTICS_GAP seconds per learner: 1 to 3 events, well under the 120 a session may
# send a minute).
UNDO_SHARE = 0.2
ANALYTICS_SHARE = float(os.environ.get("BENCH_LOAD_EVENTS_SHARE", "0.3"))
ANALYTICS_GAP = 2.0

SERVICES = ("identity", "billing", "content", "progress", "notifications", "analytics", "webhooks")
OFFSETS = {s: n + 1 for n, s in enumerate(SERVICES)}
PASSWORD = "correct horse battery staple"

COURSE = ("content", "GET /v1/course")
COMPLETE = ("progress", "PUT /v1/progress/lessons/{id}")
PROGRESS = ("progress", "GET /v1/progress")
UNDO = ("progress", "DELETE /v1/progress/lessons/{id}")
EVENTS = ("analytics", "POST /v1/analytics/events")
ROUTES = (COURSE, COMPLETE, PROGRESS, UNDO, EVENTS)
POLL = ("content", "GET /v1/course (unlock polls)")
FREE = set()  # the course's free lessons, filled in at set-up


class LoadError(Exception):
    pass


class StateError(LoadError):
    """The learner's progress is no longer what the loop believes: it starts again from nothing."""


def trusts_loopback(value):
    for entry in (value or "").split(","):
        entry = entry.strip()
        if entry:
            try:
                if ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
    return False


def percentile(values, q):
    """Nearest rank; values sorted."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(q * len(values)) - 1)]


class Client:
    """Keep-alive connections to the services, for one thread."""

    def __init__(self, base):
        self.base = base
        self.connections = {}
        self.reconnects = 0
        self.sent = None

    def _connection(self, service):
        connection = self.connections.get(service)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.base + OFFSETS[service], timeout=30)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections[service] = connection
        return connection

    def request(self, service, method, path, body=None, token=None, headers=None):
        """(status, decoded JSON or None, raw text, time sent, time answered) — perf_counter times."""
        data = body.encode() if isinstance(body, str) else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"accept": "application/json"}
        if data is not None:
            all_headers["content-type"] = "application/json"
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        for attempt in (1, 2):
            reused = service in self.connections
            self.sent = time.perf_counter()
            try:
                connection = self._connection(service)
            except OSError as error:
                self.connections.pop(service, None)
                raise LoadError(f"connecting to {service}: {error!r}") from error
            sent = self.sent = time.perf_counter()
            try:
                connection.request(method, path, body=data, headers=all_headers)
                response = connection.getresponse()
                raw = response.read()
                answered = time.perf_counter()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                connection.close()
                del self.connections[service]
                # A kept-alive connection the server closed while idle: once more on a new one.
                if reused and attempt == 1:
                    self.reconnects += 1
                    continue
                raise LoadError(f"{method} {path} on {service}: {error!r}") from error
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                del self.connections[service]
                raise LoadError(f"{method} {path} on {service}: {error!r}") from error
            if response.will_close:
                connection.close()
                del self.connections[service]
            text = raw.decode("utf-8", "replace")
            try:
                decoded = json.loads(text) if text else None
            except ValueError:
                decoded = None
            return response.status, decoded, text, sent, answered
        raise AssertionError("unreachable")


class Stats:
    """Latencies and errors per route, each with the time its request was sent; kept by one thread."""

    def __init__(self):
        self.latencies = {}
        self.errors = {}
        self.samples = []

    def ok(self, route, sent, answered):
        self.latencies.setdefault(route, []).append((sent, (answered - sent) * 1000))

    def error(self, route, sent, message):
        self.errors.setdefault(route, []).append(sent)
        if len(self.samples) < 5:
            self.samples.append(f"{route[1]}: {message}")

    def merge(self, other):
        for route, values in other.latencies.items():
            self.latencies.setdefault(route, []).extend(values)
        for route, values in other.errors.items():
            self.errors.setdefault(route, []).extend(values)
        self.samples.extend(other.samples[: max(0, 20 - len(self.samples))])


class Watch:
    """A state of the learner's outline in content awaited from `start` (a perf_counter time)."""

    def __init__(self, kind, predicate, start, module=None):
        self.kind = kind
        self.predicate = predicate
        self.start = start
        self.module = module  # for an unlock: the module whose completion opens the next
        self.last_closed_sent = None
        self.result = None  # (upper ms, lower ms) once seen
        self.walls = None  # wall-clock times of `start` and of the first answer showing it

    def wall(self, perf):
        """A perf_counter time as wall-clock time (to compare with Postgres's now())."""
        return time.time() - (time.perf_counter() - perf)


class Poller(threading.Thread):
    """Polls content as one learner while that learner has watches, every POLL_INTERVAL."""

    def __init__(self, learner):
        super().__init__(daemon=True, name=f"poller-{learner.n}")
        self.learner = learner
        self.client = Client(learner.base)
        self.stats = Stats()
        self.condition = threading.Condition()
        self.watches = []
        self.finished = []
        self.closed = False

    def watch(self, kind, predicate, start, module=None):
        with self.condition:
            self.watches.append(Watch(kind, predicate, start, module))
            self.condition.notify_all()

    def wait_idle(self, timeout):
        with self.condition:
            return self.condition.wait_for(lambda: not self.watches, timeout)

    def close(self):
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def run(self):
        while True:
            with self.condition:
                self.condition.wait_for(lambda: self.watches or self.closed)
                if not self.watches:
                    return
                active = list(self.watches)
            try:
                status, body, text, sent, answered = self.client.request(
                    "content", "GET", "/v1/course", token=self.learner.token)
            except LoadError as error:
                self.stats.error(POLL, self.client.sent, str(error))
                status, body, sent, answered = None, None, time.perf_counter(), time.perf_counter()
            if status == 200 and isinstance(body, dict) and isinstance(body.get("modules"), list):
                self.stats.ok(POLL, sent, answered)
            elif status is not None:
                self.stats.error(POLL, sent, f"{status} {text[:200]}")
                body = None
            done = []
            for watch in active:
                if sent < watch.start:
                    continue  # sent before the change it waits for: proves nothing
                if body is not None and watch.predicate(body):
                    lower = (watch.last_closed_sent - watch.start) * 1000 if watch.last_closed_sent else 0.0
                    watch.result = ((answered - watch.start) * 1000, lower)
                    watch.walls = (watch.wall(watch.start), watch.wall(answered))
                    done.append(watch)
                elif answered - watch.start > UNLOCK_TIMEOUT:
                    self.stats.error(POLL, watch.start, f"{watch.kind}: not seen in content within {UNLOCK_TIMEOUT:.0f} s")
                    done.append(watch)
                elif body is not None:
                    watch.last_closed_sent = sent
            with self.condition:
                for watch in done:
                    self.watches.remove(watch)
                    self.finished.append(watch)
                if not self.watches:
                    self.condition.notify_all()
                    continue
            pause = sent + POLL_INTERVAL - time.perf_counter()
            if pause > 0:
                time.sleep(pause)


def module_open(module_id):
    def predicate(course):
        for module in course["modules"]:
            if module["id"] == module_id:
                return module["unlocked"] and all(lesson["unlocked"] for lesson in module["lessons"])
        return False
    return predicate


def all_but_first_locked(course):
    return all(not m["unlocked"] and not any(l["unlocked"] for l in m["lessons"]) for m in course["modules"][1:])


class Learner(threading.Thread):
    def __init__(self, n, base, address, outline, stop):
        super().__init__(daemon=True, name=f"learner-{n}")
        self.n = n
        self.base = base
        self.address = address
        self.outline = outline  # [(module id, [lesson ids])]
        self.stop = stop
        self.client = Client(base)
        self.stats = Stats()
        self.random = random.Random(n)
        self.session = uuid.uuid4().hex
        self.last_events = -ANALYTICS_GAP
        self.id = None
        self.token = None
        self.poller = None
        self.cycles = 0
        self.gave_up = False
        self.lessons_completed = 0

    # Setup (not measured).

    def register(self):
        status, body, text, _, _ = self.client.request("identity", "POST", "/v1/auth/register", {
            "email": f"load-{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD, "name": f"Load {self.n}"},
            headers={"x-forwarded-for": self.address})
        if status != 201:
            raise LoadError(f"register: {status} {text[:300]}")
        self.id, self.token = body["user"]["id"], body["accessToken"]

    def subscribe(self, secret):
        now = int(time.time())
        key = uuid.uuid4().hex[:14]
        subscription = {
            "id": f"sub_load{key}", "object": "subscription", "customer": f"cus_load{key}", "status": "active",
            "cancel_at_period_end": False, "canceled_at": None, "metadata": {"userId": self.id},
            "items": {"object": "list", "data": [{"id": f"si_load{key}", "price": {"id": "price_pro_monthly"},
                                                  "current_period_start": now, "current_period_end": now + 2_592_000}]}}
        event = json.dumps({"id": f"evt_load{key}", "object": "event", "api_version": "2025-03-31.basil",
                            "type": "customer.subscription.created", "created": now, "livemode": False,
                            "data": {"object": subscription}})
        mac = hmac.new(secret.encode(), f"{now}.{event}".encode(), hashlib.sha256).hexdigest()
        status, body, text, _, _ = self.client.request(
            "billing", "POST", "/v1/billing/webhooks/stripe", event, headers={"stripe-signature": f"t={now},v1={mac}"})
        if status != 200 or (body or {}).get("outcome") != "applied":
            raise LoadError(f"Stripe webhook: {status} {text[:300]}")

    def await_access(self):
        deadline = time.monotonic() + SETUP_TIMEOUT
        while True:
            status, body, text, _, _ = self.client.request("content", "GET", "/v1/course", token=self.token)
            if status != 200:
                raise LoadError(f"GET /v1/course: {status} {text[:300]}")
            if body.get("hasAccess"):
                break
            if time.monotonic() > deadline:
                raise LoadError(f"content has not granted access within {SETUP_TIMEOUT:.0f} s")
            time.sleep(0.02)
        paid = next(l for _, lessons in self.outline for l in lessons if l not in FREE)
        while True:
            status, body, text, _, _ = self.client.request(
                "progress", "POST", f"/v1/progress/lessons/{paid}/start", token=self.token)
            if status == 200:
                return
            if status != 403 or time.monotonic() > deadline:
                raise LoadError(f"progress refuses a paid lesson: {status} {text[:300]}")
            time.sleep(0.02)

    # The loop.

    def call(self, route, method, path, expected, body=None, headers=None):
        """The answer of a request; a failure is counted, and raised (a StateError when it writes progress)."""
        failure = StateError if route in (COMPLETE, UNDO) else LoadError
        try:
            status, answer, text, sent, answered = self.client.request(
                route[0], method, path, body, token=self.token, headers=headers)
        except LoadError as error:
            self.stats.error(route, self.client.sent, str(error))
            raise failure(str(error)) from error
        if status != expected:
            self.stats.error(route, sent, f"{status} {text[:300]}")
            raise failure(f"{route[1]}: {status} {text[:300]}")
        return answer, sent, answered

    def check(self, route, condition, what, answer, failure=LoadError):
        if not condition:
            self.stats.error(route, self.client.sent, f"{what}: {json.dumps(answer)[:300]}")
            raise failure(f"{route[1]}: {what}")

    def complete(self, lesson, completes_module, completes_course, next_module):
        answer, sent, answered = self.call(COMPLETE, "PUT", f"/v1/progress/lessons/{lesson}", 200)
        self.check(COMPLETE, answer.get("lessonCompleted") is True
                   and answer.get("moduleCompleted") is completes_module
                   and answer.get("courseCompleted") is completes_course
                   and answer.get("nextModuleId") == (next_module if completes_module else None),
                   "unexpected completion", answer, StateError)
        self.stats.ok(COMPLETE, sent, answered)
        self.lessons_completed += 1
        return answered

    def undo(self, lesson):
        answer, sent, answered = self.call(UNDO, "DELETE", f"/v1/progress/lessons/{lesson}", 200)
        self.check(UNDO, answer.get("lessonCompleted") is False and answer.get("moduleCompleted") is False,
                   "unexpected undo", answer, StateError)
        self.stats.ok(UNDO, sent, answered)
        self.lessons_completed -= 1
        return answered

    def read_course(self):
        answer, sent, answered = self.call(COURSE, "GET", "/v1/course", 200)
        self.check(COURSE, answer.get("hasAccess") is True
                   and [m["id"] for m in answer.get("modules", [])] == [m for m, _ in self.outline],
                   "not the outline of the setup", answer)
        self.stats.ok(COURSE, sent, answered)

    def read_progress(self):
        answer, sent, answered = self.call(PROGRESS, "GET", "/v1/progress", 200)
        self.check(PROGRESS, answer.get("lessonsCompleted") == self.lessons_completed,
                   f"lessonsCompleted is not {self.lessons_completed}", answer, StateError)
        self.stats.ok(PROGRESS, sent, answered)

    def send_events(self):
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        choices = [
            {"event": "paywall_viewed", "properties": {"placement": "lesson_end"}},
            {"event": "subscription_plan_selected", "properties": {"tier": "pro", "interval": "ANNUAL"}},
            {"event": "signup_started"},
        ]
        events = [dict(self.random.choice(choices), id=str(uuid.uuid4()), timestamp=now)
                  for _ in range(self.random.randint(1, 3))]
        answer, sent, answered = self.call(EVENTS, "POST", "/v1/analytics/events", 202,
                                           {"sessionId": self.session, "events": events},
                                           headers={"x-forwarded-for": self.address})
        self.check(EVENTS, answer.get("accepted") == len(events) and answer.get("userId") == self.id,
                   "not every event accepted as the learner's", answer)
        self.stats.ok(EVENTS, sent, answered)

    def walk(self):
        """One pass through the course, lesson by lesson, then every lesson undone."""
        modules = self.outline
        for m, (module, lessons) in enumerate(modules):
            next_module = modules[m + 1][0] if m + 1 < len(modules) else None
            for n, lesson in enumerate(lessons):
                if self.stop.is_set():
                    return False
                last = n == len(lessons) - 1
                self.tolerant(self.read_course)
                answered = self.complete(lesson, last, last and next_module is None, next_module)
                if last and next_module:
                    self.poller.watch("unlock", module_open(next_module), answered, module)
                self.tolerant(self.read_progress)
                if self.random.random() < ANALYTICS_SHARE and time.monotonic() - self.last_events >= ANALYTICS_GAP:
                    self.last_events = time.monotonic()
                    self.tolerant(self.send_events)
                if not last and self.random.random() < UNDO_SHARE:
                    self.undo(lesson)
                    self.complete(lesson, False, False, next_module)
        self.reset()
        self.cycles += 1
        return True

    @staticmethod
    def tolerant(step):
        """A read or client events: a failure is counted and the walk goes on."""
        try:
            step()
        except StateError:
            raise
        except LoadError:
            pass

    def reset(self):
        """Every lesson undone, last first; back when content has locked every module but the first."""
        if not self.poller.wait_idle(UNLOCK_TIMEOUT + 5):
            raise LoadError("unlocks still awaited")
        for m in range(len(self.outline) - 1, -1, -1):
            for lesson in reversed(self.outline[m][1]):
                answer, sent, answered = self.call(UNDO, "DELETE", f"/v1/progress/lessons/{lesson}", 200)
                reopens = lesson == self.outline[m][1][-1]
                self.check(UNDO, answer.get("lessonCompleted") is False and answer.get("moduleCompleted") is False,
                           "unexpected undo", answer, StateError)
                self.stats.ok(UNDO, sent, answered)
                self.lessons_completed -= 1
                if m == 0 and reopens:
                    self.poller.watch("relock", all_but_first_locked, answered)
        if not self.poller.wait_idle(UNLOCK_TIMEOUT + 5):
            raise LoadError("relock still awaited")

    def resync(self):
        """After a failed write: every lesson undone, whatever each answer says; back when content
        has locked every module but the first (not counted as a relock)."""
        self.poller.wait_idle(UNLOCK_TIMEOUT + 5)
        answered = None
        for _, lessons in reversed(self.outline):
            for lesson in reversed(lessons):
                _, sent, answered = self.call(UNDO, "DELETE", f"/v1/progress/lessons/{lesson}", 200)
                self.stats.ok(UNDO, sent, answered)
        self.lessons_completed = 0
        self.poller.watch("resync", all_but_first_locked, answered)
        if not self.poller.wait_idle(UNLOCK_TIMEOUT + 5):
            raise LoadError("relock still awaited")

    def run(self):
        self.poller.start()
        try:
            while not self.stop.is_set():
                try:
                    if not self.walk():
                        break
                except StateError as error:
                    print(f"learner {self.n} starts again after: {error}", file=sys.stderr)
                    self.resync()
        except LoadError as error:
            print(f"learner {self.n} stopped: {error}", file=sys.stderr)
            self.gave_up = True
        finally:
            self.poller.wait_idle(UNLOCK_TIMEOUT + 5)
            self.poller.close()



def pids(pid_dir):
    return {s: int(open(os.path.join(pid_dir, f"{s}.pid")).read().strip()) for s in SERVICES}


def proc_status(pid, field):
    """A size from /proc/<pid>/status in MB; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def mb(value):
    return "exited" if value is None else f"{value:.0f}"


def cpu_ticks(pid, children=False):
    """utime + stime of a process (and, with children, of its reaped children); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def child_pids(parent):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry))
            except OSError:
                pass
    return found


class CPU:
    """CPU time of the services, the stack's Postgres and RabbitMQ, this process and the machine."""

    def __init__(self, service_pids, env):
        self.groups = {s: [p] for s, p in service_pids.items()}
        stack = env.get("SYLLABUS_STACK_DIR", "")
        try:
            self.postmaster = int(open(os.path.join(stack, "pg", "data", "postmaster.pid")).readline())
        except (OSError, ValueError):
            self.postmaster = None
        profile = env.get("SYLLABUS_PROFILE", "")
        try:
            self.broker = int(open(os.path.join(stack, "rabbitmq", f"syllabus-{profile}@localhost.pid")).read().strip())
        except (OSError, ValueError):
            self.broker = None

    def snapshot(self):
        ticks = {}
        for name, members in self.groups.items():
            ticks[name] = sum(cpu_ticks(p) for p in members)
        if self.postmaster:
            ticks["postgres"] = cpu_ticks(self.postmaster, children=True) + sum(
                cpu_ticks(p) for p in child_pids(self.postmaster) if os.path.exists(f"/proc/{p}"))
        if self.broker:
            ticks["rabbitmq"] = cpu_ticks(self.broker, children=True)
        ticks["load generator"] = cpu_ticks(os.getpid())
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        ticks["machine"] = sum(values[:8]) - values[3] - values[4]
        ticks["machine total"] = sum(values[:8])
        return time.monotonic(), ticks

    @staticmethod
    def shares(before, after):
        """% of one core each, over the interval between two snapshots."""
        seconds = after[0] - before[0]
        hz = os.sysconf("SC_CLK_TCK")
        result = {k: (after[1][k] - before[1][k]) / hz / seconds * 100 for k in before[1] if k != "machine total"}
        known = sum(v for k, v in result.items() if k != "machine")
        result["other processes"] = result["machine"] - known
        return result


class Broker(threading.Thread):
    """Messages (ready and unacknowledged) in each service's queue, from the management API every
    second. The broker refreshes these statistics every 5 s: short peaks may not show."""

    def __init__(self, env):
        super().__init__(daemon=True, name="broker")
        amqp = urllib.parse.urlsplit(env["ADMIN_AMQP_URL"])
        vhost = urllib.parse.unquote(amqp.path[1:]) or "/"
        self.url = f"{env['RABBITMQ_MANAGEMENT_URL']}/api/queues/{urllib.parse.quote(vhost, safe='')}?columns=name,messages"
        credentials = f"{urllib.parse.unquote(amqp.username)}:{urllib.parse.unquote(amqp.password)}"
        self.authorization = "Basic " + b64encode(credentials.encode()).decode()
        self.peak = {s: 0 for s in SERVICES}
        self.misses = 0
        self.halt = threading.Event()

    def depths(self):
        request = urllib.request.Request(self.url, headers={"authorization": self.authorization})
        with urllib.request.urlopen(request, timeout=10) as response:
            queues = {q["name"]: q.get("messages") or 0 for q in json.load(response)}
        return {s: queues.get(s, 0) for s in SERVICES}

    def sample(self):
        """The depths now, also kept as peaks; None when the management API did not answer."""
        try:
            depths = self.depths()
        except (OSError, ValueError):
            self.misses += 1
            return None
        for service, depth in depths.items():
            self.peak[service] = max(self.peak[service], depth)
        return depths

    def run(self):
        while not self.halt.wait(1):
            self.sample()

    def drained(self, since, timeout):
        """Seconds from `since` (monotonic) until every service's queue shows empty, or None."""
        depths = {s: 0 for s in SERVICES}
        while True:
            answered = self.sample()
            now = time.monotonic()
            if answered is not None:
                depths = answered
                if not any(depths.values()):
                    return now - since, depths
            if now - since > timeout:
                return None, depths
            time.sleep(1)


def consumer_split(env, learners):
    """For each learner's newest unlock of each module still completed in content: (ms from the
    completion's 200 to the start of content's consumer transaction that applied it, ms from that
    start to the first answer showing the next module open). content.module_completions keeps the
    time of that transaction (now()) for the newest state only."""
    newest = {}
    for learner in learners:
        for watch in learner.poller.finished:
            if watch.kind == "unlock" and watch.walls:
                newest[(learner.id, watch.module)] = watch.walls
    if not newest or "ADMIN_DATABASE_URL" not in env:
        return []
    ids = ",".join(f"'{learner.id}'" for learner in learners)
    run = subprocess.run(["psql", "-X", "-At", "-F", " ", env["ADMIN_DATABASE_URL"], "-c",
                          "SELECT user_id, module_id, extract(epoch FROM updated_at) FROM content.module_completions "
                          f"WHERE completed AND user_id IN ({ids})"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"bench-load: reading content.module_completions failed: {run.stderr.strip()}")
    split = []
    for line in run.stdout.splitlines():
        user, module, started = line.split()
        if (user, module) in newest:
            completed_at, opened_at = newest[(user, module)]
            started = float(started)
            # A transaction from before this completion, or after its module opened, applied another event.
            if completed_at - 1 <= started <= opened_at:
                split.append(((started - completed_at) * 1000, (opened_at - started) * 1000))
    return split


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    env_path, base, pid_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    env = env_file(env_path)
    if LEARNERS < 1 or SECONDS <= 0:
        sys.exit("BENCH_LOAD_LEARNERS and BENCH_LOAD_SECONDS must be positive")
    for variable in ("IDENTITY_TRUSTED_PROXIES", "ANALYTICS_TRUSTED_PROXIES"):
        if not trusts_loopback(env.get(variable)):
            sys.exit(f"bench-load: {variable} must include 127.0.0.1 in {env_path} (learners come through "
                     "X-Forwarded-For, each from its own address)")
    secret = env["BILLING_STRIPE_WEBHOOK_SECRET"]
    sys.setswitchinterval(0.0005)
    service_pids = pids(pid_dir)
    cpu = CPU(service_pids, env)
    idle = {s: proc_status(p, "VmRSS") for s, p in service_pids.items()}
    if None in idle.values():
        sys.exit(f"bench-load: not running: {', '.join(s for s in SERVICES if idle[s] is None)} (pid files in {pid_dir})")

    # Learners, each from an address of its own in a /16 picked for this run.
    net = random.Random().randrange(1, 255)
    stop = threading.Event()
    learners = [Learner(n, base, f"10.{net}.{n // 250}.{n % 250 + 1}", None, stop) for n in range(LEARNERS)]
    setup_started = time.monotonic()
    learners[0].register()
    course = learners[0].client.request("content", "GET", "/v1/course", token=learners[0].token)[1]
    outline = [(m["id"], [l["id"] for l in m["lessons"]]) for m in course["modules"]]
    FREE.update(l["id"] for m in course["modules"] for l in m["lessons"] if l["isFree"])
    if len(outline) < 2:
        sys.exit("bench-load: the course needs at least two published modules (CONTENT_DEMO_COURSE=true seeds three)")
    for learner in learners:
        learner.outline = outline

    def prepare(learner):
        if learner.token is None:
            learner.register()
        learner.subscribe(secret)
        learner.await_access()

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        for future in [pool.submit(prepare, learner) for learner in learners]:
            future.result()
    setup_seconds = time.monotonic() - setup_started

    # The load.
    for learner in learners:
        learner.poller = Poller(learner)
    broker = Broker(env) if "RABBITMQ_MANAGEMENT_URL" in env and "ADMIN_AMQP_URL" in env else None
    if broker:
        at_start = broker.depths()
        broker.start()
    before = cpu.snapshot()
    started = time.perf_counter()
    for learner in learners:
        learner.start()
    time.sleep(SECONDS)
    stop.set()
    ended = time.monotonic()
    loaded = cpu.snapshot()
    for learner in learners:
        learner.join()
    for learner in learners:
        learner.poller.join(UNLOCK_TIMEOUT + 10)
    shares = CPU.shares(before, loaded)
    drain = None
    if broker:
        broker.halt.set()
        broker.join()
        drain, left = broker.drained(ended, DRAIN_TIMEOUT)
    time.sleep(3)
    after = {s: proc_status(p, "VmRSS") for s, p in service_pids.items()}
    peak = {s: proc_status(p, "VmHWM") for s, p in service_pids.items()}
    split = consumer_split(env, learners)

    # What was sent within the window counts, however late its answer came.
    deadline = started + SECONDS
    stats = Stats()
    unlocks, relocks = [], []
    reconnects = 0
    for learner in learners:
        stats.merge(learner.stats)
        stats.merge(learner.poller.stats)
        reconnects += learner.client.reconnects + learner.poller.client.reconnects
        for watch in learner.poller.finished:
            if watch.result and watch.start < deadline:
                if watch.kind == "unlock":
                    unlocks.append(watch.result)
                elif watch.kind == "relock":
                    relocks.append(watch.result)
    stopped = sum(1 for learner in learners if learner.gave_up or learner.is_alive() or learner.poller.is_alive())

    lessons = sum(len(l) for _, l in outline)
    print(f"{LEARNERS} learners, each in a closed loop for {SECONDS:g} s over a course of {len(outline)} modules, "
          f"{lessons} lessons (set-up: {setup_seconds:.1f} s to register and subscribe them); "
          f"{sum(l.cycles for l in learners)} passes through the whole course.")
    print()
    print("| route | requests | req/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")

    def row(label, routes):
        values = sorted(ms for r in routes for sent, ms in stats.latencies.get(r, []) if sent < deadline)
        errors = sum(1 for r in routes for sent in stats.errors.get(r, []) if sent < deadline)
        if values:
            latency = f"{percentile(values, 0.5):.1f} | {percentile(values, 0.99):.1f}"
        else:
            latency = "– | –"
        print(f"| {label} | {len(values) + errors:,} | {(len(values) + errors) / SECONDS:,.0f} | {latency} | {errors} |")

    for route in ROUTES:
        row(f"`{route[1]}` ({route[0]})", [route])
    row("**every learner request**", ROUTES)
    row(f"`GET /v1/course` ({POLL[0]}), unlock polls every {POLL_INTERVAL * 1000:g} ms", [POLL])
    print()
    print("p50 and p99 are of the answers that succeeded; a request counts when it was sent within the "
          f"{SECONDS:g} s, whenever it was answered.")
    print()

    print("| after the completion's 200 (progress → outbox → RabbitMQ → content) | count | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")

    def delay_row(label, values):
        values = sorted(values)
        if values:
            print(f"| {label} | {len(values)} | {percentile(values, 0.5):.1f} | {percentile(values, 0.99):.1f} | {values[-1]:.1f} |")
        else:
            print(f"| {label} | 0 | – | – | – |")

    delay_row("**next module open in content**: first answer showing it open, received", [u for u, _ in unlocks])
    delay_row("next module open, lower bound: last answer showing it locked, sent", [l for _, l in unlocks])
    delay_row("of which: from the 200 to the start of content's consumer transaction that applied it "
              "(only the newest unlock per learner and module: mostly the run's last seconds)",
              [a for a, _ in split])
    delay_row("of which: from that transaction's start to the first answer showing the module open", [b for _, b in split])
    delay_row("after the undo that reopens module 1: every later module locked again, received", [u for u, _ in relocks])
    print()

    if broker:
        print("| messages in each service's queue (ready + unacknowledged) | " + " | ".join(SERVICES) + " |")
        print("| --- |" + " ---: |" * len(SERVICES))
        print("| when the load started | " + " | ".join(f"{at_start[s]:,}" for s in SERVICES) + " |")
        print("| most seen during the load (the broker refreshes them every 5 s) | "
              + " | ".join(f"{broker.peak[s]:,}" for s in SERVICES) + " |")
        print("| when the wait for them to drain ended | " + " | ".join(f"{left[s]:,}" for s in SERVICES) + " |")
        print()
        if drain is None:
            print(f"**The queues did not drain within {DRAIN_TIMEOUT:.0f} s of the load's end.**")
        else:
            print(f"Every service's queue was empty {drain:.0f} s after the load ended (within the broker's 5 s refresh).")
        if broker.misses:
            print(f"The management API did not answer {broker.misses} of the samples.")
        print()

    names = list(SERVICES) + [k for k in ("postgres", "rabbitmq") if k in shares] + ["load generator", "other processes"]
    print("| CPU during the load, % of one core | " + " | ".join(names) + f" | machine ({os.cpu_count()} cores) |")
    print("| --- |" + " ---: |" * (len(names) + 1))
    print("| average | " + " | ".join(f"{shares[n]:.0f}" for n in names) + f" | {shares['machine']:.0f} |")
    print()
    print("| resident memory, MB | " + " | ".join(SERVICES) + " |")
    print("| --- |" + " ---: |" * len(SERVICES))
    print("| idle before | " + " | ".join(mb(idle[s]) for s in SERVICES) + " |")
    print(f"| after the load ({'idle: the queues drained, then 3 s' if drain is not None else 'the wait for the queues, then 3 s'}) | " + " | ".join(mb(after[s]) for s in SERVICES) + " |")
    print("| peak since start (VmHWM) | " + " | ".join(mb(peak[s]) for s in SERVICES) + " |")
    if reconnects:
        print()
        print(f"{reconnects} kept-alive connections closed by a service while idle were opened again.")

    failures = sum(len(errors) for errors in stats.errors.values())
    late = sum(1 for errors in stats.errors.values() for sent in errors if sent >= deadline)
    if late:
        print()
        print(f"**{late} more errors on requests sent after the {SECONDS:g} s** (the end of a step begun within them; not in the table).")
    exited = [s for s in SERVICES if after[s] is None]
    if exited:
        print()
        print(f"**Exited during the run: {', '.join(exited)}.**")
    if failures or stopped or not unlocks or exited:
        for sample in stats.samples:
            print(f"bench-load: {sample}", file=sys.stderr)
        if stopped:
            print(f"bench-load: {stopped} learners gave up or did not finish", file=sys.stderr)
        if not unlocks:
            print("bench-load: no unlock was measured", file=sys.stderr)
        sys.exit(f"bench-load: {failures} errors")


if __name__ == "__main__":
    try:
        main()
    except LoadError as error:
        sys.exit(f"bench-load: {error}")
