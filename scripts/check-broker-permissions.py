#!/usr/bin/python3
"""Checks the broker permissions of a running stack, as each user sees them.

    scripts/check-broker-permissions.py <stack dir>/syllabus.env

For every service S, connecting as S:
  - a passive declare of queue S (declared by the admin) succeeds,
  - consuming from its queues succeeds,
  - publishing to exchange S.events and to the default exchange succeeds,
  - publishing to another service's exchange, declaring a queue, and consuming another
    service's queue are refused.
The subscriber user may declare, bind and consume `subscriber.*` queues and may not publish
to a service exchange.

Safe on a stack in use: objects the check needs are created only if missing and removed
afterwards; publishes to the service exchanges happen inside a transaction that is rolled
back, so nothing reaches real consumers. Exit status 0 when every check passes.
"""

import sys
import uuid

import pika
import pika.exceptions

SERVICES = ["identity", "billing", "content", "progress", "notifications"]
ACCESS_REFUSED = 403


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            env[key] = value
    return env


def connect(url):
    params = pika.URLParameters(url)
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
            if error.reply_code == 404:
                return False
            raise

    def ensure_exchange(self, name):
        if not self._exists("exchange", name):
            channel = self.connection.channel()
            channel.exchange_declare(exchange=name, exchange_type="topic", durable=True)
            channel.close()
            self.created_exchanges.append(name)

    def ensure_queue(self, name, quorum=True, scratch=False):
        if self._exists("queue", name):
            if scratch:
                self.created_queues.append(name)  # left over from an interrupted check
            return False
        channel = self.connection.channel()
        arguments = {"x-queue-type": "quorum"} if quorum else None
        channel.queue_declare(queue=name, durable=quorum, arguments=arguments)
        channel.close()
        self.created_queues.append(name)
        return True

    def cleanup(self):
        channel = self.connection.channel()
        for name in self.created_queues:
            channel.queue_delete(queue=name)
        for name in self.created_exchanges:
            channel.exchange_delete(exchange=name)
        channel.close()
        self.connection.close()


def publish_in_rolled_back_tx(connection, exchange, routing_key):
    """Publishes inside a transaction and rolls it back: permission is checked, nothing routed."""
    channel = connection.channel()
    try:
        channel.tx_select()
        channel.basic_publish(exchange=exchange, routing_key=routing_key, body=b"{}")
        channel.tx_rollback()  # the broker's refusal, if any, surfaces here
    finally:
        if channel.is_open:
            channel.close()


def passive_declare(connection, queue):
    channel = connection.channel()
    channel.queue_declare(queue=queue, passive=True)
    channel.close()


def consume_once(connection, queue):
    channel = connection.channel()
    channel.basic_qos(prefetch_count=1)
    tag = channel.basic_consume(queue=queue, on_message_callback=lambda *a: None, auto_ack=False)
    channel.basic_cancel(tag)
    channel.close()


def publish_and_get_back(connection, queue):
    """Publishes to the default exchange with the queue's name and reads the message back."""
    channel = connection.channel()
    channel.confirm_delivery()
    body = uuid.uuid4().hex.encode()
    channel.basic_publish(exchange="", routing_key=queue, body=body, mandatory=True)
    for _ in range(50):
        method, _, received = channel.basic_get(queue=queue, auto_ack=True)
        if method is not None:
            channel.close()
            if received != body:
                raise RuntimeError("got a different message back")
            return
        connection.sleep(0.05)
    channel.close()
    raise RuntimeError("message did not arrive")


def declare_queue(connection, queue):
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=False)
    channel.close()


def check_service(check, env, service, queue_is_ours):
    other = SERVICES[(SERVICES.index(service) + 1) % len(SERVICES)]
    scratch = f"{service}.permission-check"
    conn = connect(env[f"{service.upper()}_AMQP_URL"])
    try:
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
                        lambda: publish_in_rolled_back_tx(conn, f"{service}.events", "permission.check.v0"))
        check.expect_ok(f"{service}: publish to the default exchange (tx)",
                        lambda: publish_in_rolled_back_tx(conn, "", scratch))
        check.expect_ok(f"{service}: publish to the default exchange and read it back",
                        lambda: publish_and_get_back(conn, scratch))
        check.expect_refused(f"{service}: publish to exchange {other}.events",
                             lambda: publish_in_rolled_back_tx(conn, f"{other}.events", "permission.check.v0"))
        check.expect_refused(f"{service}: consume from queue {other}",
                             lambda: consume_once(conn, other))
        check.expect_refused(f"{service}: declare a queue",
                             lambda: declare_queue(conn, f"{service}.not-allowed"))
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
        check.expect_ok(f"subscriber: consume from {queue}", lambda: consume_once(conn, queue))
        check.expect_ok(f"subscriber: delete {queue}", delete)
        check.expect_refused("subscriber: publish to exchange identity.events",
                             lambda: publish_in_rolled_back_tx(conn, "identity.events", "permission.check.v0"))
        check.expect_refused("subscriber: consume from queue billing",
                             lambda: consume_once(conn, "billing"))
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
            fixture.ensure_exchange(f"{service}.events")
            created[service] = fixture.ensure_queue(service, quorum=True)
            fixture.ensure_queue(f"{service}.permission-check", quorum=False, scratch=True)
        for service in SERVICES:
            check_service(check, env, service, created[service])
        check_subscriber(check, env)
    finally:
        fixture.cleanup()
    print(f"{check.passes} passed, {check.failures} failed")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
