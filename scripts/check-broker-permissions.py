#!/usr/bin/python3
"""Checks the broker permissions of a running stack, as each user sees them.

    scripts/check-broker-permissions.py <stack dir>/syllabus.env

For every service S, connecting as S:
  - a passive declare of queue S (declared by the admin) succeeds;
  - consuming from its own queues succeeds;
  - publishing to its own exchanges S.events and S.retry succeeds, and a message published to
    S.retry reaches the queue bound there (S's retry path works under its permissions);
    identity may publish to identity.private;
  - publishing to the default exchange (amq.default), with another service's queue or its own as
    routing key, is refused: a service reaches queues only through exchanges it owns;
  - publishing to another service's S'.events or S'.retry, and (but for identity) to
    identity.private, is refused;
  - consuming another service's queue, declaring a queue or an exchange, and binding a queue
    (to its own exchange or to identity.private) are refused;
  - reading the events.archive stream succeeds for webhooks (it replays past events from it) and
    is refused for every other service;
  - keeping the archive — consuming its feed events.archive.feed and publishing to
    events.archive.in, the exchange bound to the stream alone — succeeds for webhooks (the
    archiver) and is refused for every other service.
The subscriber user may declare, bind (to a service's .events exchange) and consume
`subscriber.*` queues and read events.archive; it may not publish to any service exchange
(.events, .retry, identity.private), to events.archive.in or to the default exchange, bind to
identity.private, consume a service's queue or the archive's feed, or declare a queue outside
subscriber.*.

Safe on a stack in use: objects the check needs are created only if missing and removed
afterwards; every publish to an exchange real consumers are bound to happens inside a
transaction that is rolled back (a refusal closes the channel, which the rollback surfaces), so
nothing reaches them. The only message actually delivered goes to a scratch queue of the check.
Exit status 0 when every check passes, 1 when any fails.
"""

import sys
import uuid
from pathlib import Path

import pika
import pika.exceptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "python-subscriber"))
from subscriber import connection_parameters  # noqa: E402

SERVICES = ["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"]
PRIVATE_EXCHANGE = "identity.private"  # identity's events for notifications alone
PRIVATE_OWNER = "identity"
ARCHIVE = "events.archive"
ARCHIVE_READERS = {"webhooks"}  # services whose user may read the archive (to replay it)
ARCHIVE_FEED = "events.archive.feed"  # every public event, on its way to the archive
ARCHIVE_EXCHANGE = "events.archive.in"  # bound to the stream alone
ARCHIVER = "webhooks"  # the service that copies the feed into the stream
ACCESS_REFUSED = 403
NOT_FOUND = 404
# A routing key no binding matches: a publish that is wrongly allowed still reaches nobody.
UNROUTED_KEY = "permission.check.v0"


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            # The stack scripts single-quote a value that holds `&` (the shell sources the file).
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1].replace("'\\''", "'")
            env[key] = value
    return env


def connect(url):
    """A connection as the services make it: over TLS, verifying the broker against the URL's
    `cacertfile`, when the URL is amqps (the example subscriber's reading of the URL)."""
    params = connection_parameters(url)
    params.connection_attempts = 3
    params.retry_delay = 1
    params.blocked_connection_timeout = 10
    return pika.BlockingConnection(params)


class Checker:
    def __init__(self):
        self.failures = 0
        self.passes = 0

    def expect_ok(self, label, action):
        try:
            action()
        except Exception as error:  # noqa: BLE001 — reported, counted
            self.failures += 1
            print(f"FAIL  {label}: {error!r}")
            return False
        self.passes += 1
        print(f"ok    {label}")
        return True

    def expect_refused(self, label, action):
        try:
            action()
        except pika.exceptions.ChannelClosedByBroker as error:
            if error.reply_code == ACCESS_REFUSED:
                self.passes += 1
                print(f"ok    {label} (refused: {error.reply_text})")
                return True
            self.failures += 1
            print(f"FAIL  {label}: closed with {error.reply_code} {error.reply_text}")
            return False
        except Exception as error:  # noqa: BLE001
            self.failures += 1
            print(f"FAIL  {label}: {error!r}")
            return False
        self.failures += 1
        print(f"FAIL  {label}: was allowed")
        return False


class Fixture:
    """What the admin declares for the check, remembering what it created."""

    def __init__(self, url):
        self.connection = connect(url)
        self.created_exchanges = []
        self.created_queues = []

    def _exists(self, kind, name):
        channel = self.connection.channel()
        try:
            if kind == "exchange":
                channel.exchange_declare(exchange=name, passive=True)
            else:
                channel.queue_declare(queue=name, passive=True)
            channel.close()
            return True
        except pika.exceptions.ChannelClosedByBroker as error:
            if error.reply_code == NOT_FOUND:
                return False
            raise

    def ensure_exchange(self, name, kind="topic"):
        if not self._exists("exchange", name):
            channel = self.connection.channel()
            channel.exchange_declare(exchange=name, exchange_type=kind, durable=True)
            channel.close()
            self.created_exchanges.append(name)

    def ensure_queue(self, name, kind="quorum", scratch=False):
        """Declares the queue if missing; True if it was created here (so nobody consumes it)."""
        if self._exists("queue", name):
            if scratch:
                self.created_queues.append(name)  # left over from an interrupted check
            return False
        channel = self.connection.channel()
        if kind == "classic":
            channel.queue_declare(queue=name, durable=False)
        else:
            channel.queue_declare(queue=name, durable=True, arguments={"x-queue-type": kind})
        channel.close()
        self.created_queues.append(name)
        return True

    def bind(self, queue, exchange, routing_key):
        channel = self.connection.channel()
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=routing_key)
        channel.close()

    def cleanup(self):
        channel = self.connection.channel()
        for name in self.created_queues:
            channel.queue_delete(queue=name)
        for name in self.created_exchanges:
            channel.exchange_delete(exchange=name)
        channel.close()
        self.connection.close()


def publish_in_rolled_back_tx(connection, exchange, routing_key):
    """Publishes inside a transaction and rolls it back: permission is checked, nothing routed.

    A refused publish closes the channel asynchronously; the rollback is the synchronous call
    that surfaces the broker's 403."""
    channel = connection.channel()
    try:
        channel.tx_select()
        channel.basic_publish(exchange=exchange, routing_key=routing_key, body=b"{}")
        channel.tx_rollback()
    finally:
        if channel.is_open:
            channel.close()


def publish_and_get_back(connection, exchange, routing_key, queue):
    """Publishes with confirms through `exchange` and reads the message back from `queue`."""
    channel = connection.channel()
    try:
        channel.confirm_delivery()
        body = uuid.uuid4().hex.encode()
        channel.basic_publish(exchange=exchange, routing_key=routing_key, body=body, mandatory=True)
        for _ in range(50):
            method, _, received = channel.basic_get(queue=queue, auto_ack=True)
            if method is not None:
                if received != body:
                    raise RuntimeError("got a different message back")
                return
            connection.sleep(0.05)
        raise RuntimeError("message did not arrive")
    finally:
        if channel.is_open:
            channel.close()


def passive_declare(connection, queue):
    channel = connection.channel()
    channel.queue_declare(queue=queue, passive=True)
    channel.close()


def consume_once(connection, queue, arguments=None):
    channel = connection.channel()
    channel.basic_qos(prefetch_count=1)
    tag = channel.basic_consume(queue=queue, on_message_callback=lambda *a: None, auto_ack=False,
                                arguments=arguments)
    channel.basic_cancel(tag)
    channel.close()


def declare_queue(connection, queue):
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=False)
    channel.close()


def declare_exchange(connection, exchange):
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=False)
    channel.close()


def bind(connection, queue, exchange, routing_key):
    channel = connection.channel()
    channel.queue_bind(queue=queue, exchange=exchange, routing_key=routing_key)
    channel.close()


def scratch_queue(service):
    return f"{service}.permission-check"


def check_service(check, env, service, queue_is_ours):
    others = [s for s in SERVICES if s != service]
    scratch = scratch_queue(service)
    conn = connect(env[f"{service.upper()}_AMQP_URL"])
    try:
        # Allowed: its own queues and exchanges.
        check.expect_ok(f"{service}: passive declare of queue {service}",
                        lambda: passive_declare(conn, service))
        if queue_is_ours:
            check.expect_ok(f"{service}: consume from queue {service}",
                            lambda: consume_once(conn, service))
        else:
            # A live queue: consuming could take a real message. The scratch queue below
            # matches the same read permission.
            print(f"skip  {service}: consume from queue {service} (exists already, in use)")
        check.expect_ok(f"{service}: consume from queue {scratch}",
                        lambda: consume_once(conn, scratch))
        check.expect_ok(f"{service}: publish to exchange {service}.events",
                        lambda: publish_in_rolled_back_tx(conn, f"{service}.events", UNROUTED_KEY))
        check.expect_ok(f"{service}: publish to exchange {service}.retry",
                        lambda: publish_in_rolled_back_tx(conn, f"{service}.retry", service))
        check.expect_ok(f"{service}: publish to exchange {service}.retry and read it back",
                        lambda: publish_and_get_back(conn, f"{service}.retry", scratch, scratch))
        # Reading a stream takes nothing from it: safe on a live archive too.
        if service in ARCHIVE_READERS:
            check.expect_ok(f"{service}: read {ARCHIVE} (from the next event on)",
                            lambda: consume_once(conn, ARCHIVE, {"x-stream-offset": "next"}))
        else:
            check.expect_refused(f"{service}: read {ARCHIVE}",
                                 lambda: consume_once(conn, ARCHIVE, {"x-stream-offset": "next"}))
        # The feed has a single active consumer: a second one waits, and a cancelled one
        # returns what it held, so consuming it once takes nothing either.
        if service == ARCHIVER:
            check.expect_ok(f"{service}: consume from queue {ARCHIVE_FEED}",
                            lambda: consume_once(conn, ARCHIVE_FEED))
            check.expect_ok(f"{service}: publish to exchange {ARCHIVE_EXCHANGE}",
                            lambda: publish_in_rolled_back_tx(conn, ARCHIVE_EXCHANGE, UNROUTED_KEY))
        else:
            check.expect_refused(f"{service}: consume from queue {ARCHIVE_FEED}",
                                 lambda: consume_once(conn, ARCHIVE_FEED))
            check.expect_refused(f"{service}: publish to exchange {ARCHIVE_EXCHANGE}",
                                 lambda: publish_in_rolled_back_tx(conn, ARCHIVE_EXCHANGE, UNROUTED_KEY))
        if service == PRIVATE_OWNER:
            check.expect_ok(f"{service}: publish to exchange {PRIVATE_EXCHANGE}",
                            lambda: publish_in_rolled_back_tx(conn, PRIVATE_EXCHANGE, UNROUTED_KEY))
        else:
            check.expect_refused(f"{service}: publish to exchange {PRIVATE_EXCHANGE}",
                                 lambda: publish_in_rolled_back_tx(conn, PRIVATE_EXCHANGE, UNROUTED_KEY))

        # Refused: the default exchange, whatever the routing key.
        for key in [service, scratch] + others:
            check.expect_refused(f"{service}: publish to amq.default with routing key {key}",
                                 lambda key=key: publish_in_rolled_back_tx(conn, "", key))
        check.expect_refused(f"{service}: publish to exchange amq.default by name",
                             lambda: publish_in_rolled_back_tx(conn, "amq.default", service))

        # Refused: other services' exchanges and queues.
        for other in others:
            check.expect_refused(f"{service}: publish to exchange {other}.events",
                                 lambda other=other: publish_in_rolled_back_tx(conn, f"{other}.events", UNROUTED_KEY))
            check.expect_refused(f"{service}: publish to exchange {other}.retry (key {other})",
                                 lambda other=other: publish_in_rolled_back_tx(conn, f"{other}.retry", other))
            check.expect_refused(f"{service}: consume from queue {other}",
                                 lambda other=other: consume_once(conn, other))

        # Refused: changing the topology.
        check.expect_refused(f"{service}: declare a queue",
                             lambda: declare_queue(conn, f"{service}.not-allowed"))
        check.expect_refused(f"{service}: declare an exchange",
                             lambda: declare_exchange(conn, f"{service}.not-allowed"))
        check.expect_refused(f"{service}: bind {scratch} to {service}.events",
                             lambda: bind(conn, scratch, f"{service}.events", UNROUTED_KEY))
        check.expect_refused(f"{service}: bind {scratch} to {PRIVATE_EXCHANGE}",
                             lambda: bind(conn, scratch, PRIVATE_EXCHANGE, UNROUTED_KEY))
    finally:
        conn.close()


def check_subscriber(check, env):
    queue = f"subscriber.permission-check.{uuid.uuid4().hex[:8]}"
    conn = connect(env["SUBSCRIBER_AMQP_URL"])
    try:
        def declare_and_bind():
            channel = conn.channel()
            channel.queue_declare(queue=queue, durable=False)
            channel.queue_bind(queue=queue, exchange="identity.events", routing_key="identity.#")
            channel.close()

        def delete():
            channel = conn.channel()
            channel.queue_delete(queue=queue)
            channel.close()

        check.expect_ok(f"subscriber: declare {queue} and bind it to identity.events", declare_and_bind)
        for service in SERVICES[1:]:
            check.expect_ok(f"subscriber: bind {queue} to {service}.events",
                            lambda service=service: bind(conn, queue, f"{service}.events", f"{service}.#"))
        check.expect_ok(f"subscriber: consume from {queue}", lambda: consume_once(conn, queue))
        check.expect_refused(f"subscriber: bind {queue} to {PRIVATE_EXCHANGE}",
                             lambda: bind(conn, queue, PRIVATE_EXCHANGE, "#"))
        check.expect_refused(f"subscriber: bind {queue} to identity.retry",
                             lambda: bind(conn, queue, "identity.retry", "identity"))
        check.expect_ok(f"subscriber: delete {queue}", delete)
        # Reading a stream takes nothing from it: safe on a live archive too.
        check.expect_ok(f"subscriber: read {ARCHIVE} (from the next event on)",
                        lambda: consume_once(conn, ARCHIVE, {"x-stream-offset": "next"}))

        for service in SERVICES:
            check.expect_refused(f"subscriber: publish to exchange {service}.events",
                                 lambda service=service: publish_in_rolled_back_tx(conn, f"{service}.events", UNROUTED_KEY))
            check.expect_refused(f"subscriber: publish to exchange {service}.retry",
                                 lambda service=service: publish_in_rolled_back_tx(conn, f"{service}.retry", service))
            check.expect_refused(f"subscriber: consume from queue {service}",
                                 lambda service=service: consume_once(conn, service))
            check.expect_refused(f"subscriber: publish to amq.default with routing key {service}",
                                 lambda service=service: publish_in_rolled_back_tx(conn, "", service))
        check.expect_refused(f"subscriber: publish to exchange {PRIVATE_EXCHANGE}",
                             lambda: publish_in_rolled_back_tx(conn, PRIVATE_EXCHANGE, UNROUTED_KEY))
        check.expect_refused(f"subscriber: publish to exchange {ARCHIVE_EXCHANGE}",
                             lambda: publish_in_rolled_back_tx(conn, ARCHIVE_EXCHANGE, UNROUTED_KEY))
        check.expect_refused(f"subscriber: consume from queue {ARCHIVE_FEED}",
                             lambda: consume_once(conn, ARCHIVE_FEED))
        check.expect_refused("subscriber: declare a queue outside subscriber.*",
                             lambda: declare_queue(conn, "identity.not-allowed"))
    finally:
        conn.close()


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} <path to syllabus.env>", file=sys.stderr)
        return 2
    env = read_env(sys.argv[1])
    check = Checker()
    fixture = Fixture(env["ADMIN_AMQP_URL"])
    try:
        created = {}
        for service in SERVICES:
            fixture.ensure_exchange(f"{service}.events", "topic")
            fixture.ensure_exchange(f"{service}.retry", "direct")
            created[service] = fixture.ensure_queue(service, "quorum")
            scratch = scratch_queue(service)
            fixture.ensure_queue(scratch, "classic", scratch=True)
            # Deleted with the scratch queue at the end.
            fixture.bind(scratch, f"{service}.retry", scratch)
        fixture.ensure_exchange(PRIVATE_EXCHANGE, "topic")
        fixture.ensure_queue(ARCHIVE, "stream")
        fixture.ensure_exchange(ARCHIVE_EXCHANGE, "fanout")
        fixture.ensure_queue(ARCHIVE_FEED, "quorum")
        for service in SERVICES:
            check_service(check, env, service, created[service])
        check_subscriber(check, env)
    except Exception as error:  # noqa: BLE001 — a broken fixture is a failed check, not a pass
        check.failures += 1
        print(f"FAIL  the check itself: {error!r}")
    finally:
        try:
            fixture.cleanup()
        except Exception as error:  # noqa: BLE001
            check.failures += 1
            print(f"FAIL  cleaning up: {error!r}")
    print(f"{check.passes} passed, {check.failures} failed")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
