import Database
import Foundation
import MessageBus
import Testing
import TestSupport

/// Each service can touch only what is its own, in Postgres and in RabbitMQ; outside systems
/// subscribe as `subscriber` and can never publish.
@Suite struct LeastPrivilegeTests {
    static let services = ["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"]

    /// A table in the service's schema, made by its owner (as a migration would). Other schemas
    /// need none: without USAGE on a schema, nothing in it can be named at all.
    static func probe(_ service: String) async throws {
        let owner = DatabasePool(url: try TestEnvironment.value("\(service.uppercased())_MIGRATION_DATABASE_URL"), size: 1, logger: TestEnvironment.logger)
        defer { owner.shutdown() }
        try await owner.execute("CREATE TABLE IF NOT EXISTS \(identifier: service).privilege_probe (id int)")
    }

    @Test(arguments: services)
    func aServiceRoleIsRefusedEveryOtherSchema(service: String) async throws {
        try await Self.probe(service)
        let pool = DatabasePool(url: try TestEnvironment.value("\(service.uppercased())_DATABASE_URL"), size: 1, logger: TestEnvironment.logger)
        defer { pool.shutdown() }
        // Its own schema works: the owner's tables are granted to the runtime role by default.
        try await pool.execute("INSERT INTO \(identifier: service).privilege_probe (id) VALUES (1)")
        for other in Self.services where other != service {
            do {
                _ = try await pool.query("SELECT count(*) FROM \(identifier: other).privilege_probe")
                Issue.record("\(service) could read \(other).outbox")
            } catch let error as DatabaseError {
                #expect(error.sqlState == .insufficientPrivilege, "\(service) on \(other): \(error)")
            }
        }
        // The runtime role is not the owner: no DDL, even in its own schema.
        do {
            try await pool.execute("CREATE TABLE \(identifier: service).intruder (id int)")
            Issue.record("\(service)'s runtime role could create a table")
        } catch let error as DatabaseError {
            #expect(error.sqlState == .insufficientPrivilege)
        }
        do {
            try await pool.execute("CREATE TABLE public.intruder (id int)")
            Issue.record("\(service) could create a table in public")
        } catch let error as DatabaseError {
            #expect(error.sqlState == .insufficientPrivilege)
        }
    }

    @Test(arguments: services)
    func aServiceUserPublishesOnlyToItsOwnExchangeAndReadsOnlyItsOwnQueues(service: String) async throws {
        let url = try TestEnvironment.value("\(service.uppercased())_AMQP_URL")
        let publisher = try AMQPPublisher(url: url, name: "privilege", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        // Its own exchange: allowed (unroutable, so the broker returns it, but does not refuse it).
        let own = try await publisher.publish(OutgoingMessage(
            exchange: "\(service).events", routingKey: "\(service).privilege.check.v0", body: [], properties: AMQPProperties(messageID: UUID().uuidString)))
        #expect(own == .confirmed || own == .returned(code: 312, text: "NO_ROUTE"))
        for other in Self.services where other != service {
            await #expect(throws: AMQPError.self, "\(service) publishing to \(other).events") {
                _ = try await publisher.publish(OutgoingMessage(
                    exchange: "\(other).events", routingKey: "\(other).privilege.check.v0", body: [], properties: AMQPProperties(messageID: UUID().uuidString)))
            }
        }
        // Its own retry exchange: allowed (a routing key no queue is bound with).
        let retry = try await publisher.publish(OutgoingMessage(
            exchange: "\(service).retry", routingKey: "privilege.check", body: [], properties: AMQPProperties(messageID: UUID().uuidString)))
        #expect(retry == .confirmed || retry == .returned(code: 312, text: "NO_ROUTE"))
        // Never the default exchange (RabbitMQ would deliver to any queue named by the routing
        // key), another service's retry exchange, or identity's private exchange.
        var refused = Self.services.filter { $0 != service }.map { ("", $0) }
        refused.append(("", service))
        refused += Self.services.filter { $0 != service }.map { ("\($0).retry", $0) }
        if service != "identity" { refused.append(("identity.private", "identity.password.reset_link.v1")) }
        for (exchange, key) in refused {
            await #expect(throws: AMQPError.self, "\(service) publishing to '\(exchange)' [\(key)]") {
                _ = try await publisher.publish(OutgoingMessage(
                    exchange: exchange, routingKey: key, body: Array("{}".utf8), properties: AMQPProperties(messageID: UUID().uuidString)))
            }
        }
        let other = Self.services.first { $0 != service }!
        let intruder = try AMQPConsumer(url: url, queue: other, prefetch: 1, name: "privilege", logger: TestEnvironment.logger)
        defer { intruder.stop() }
        try await eventually("the broker to refuse consuming \(other)") { intruder.lastError?.contains("403") == true }
        #expect(!intruder.isConsuming)
        let admin = try AMQPAdmin(url: url)
        await #expect(throws: AMQPError.self, "declaring is the topology's job") {
            try await admin.declareQueue("\(service).intruder")
        }
    }

    @Test func theSubscriberReadsItsOwnQueuesAndTheArchiveButNeverPublishes() async throws {
        let url = try TestEnvironment.value("SUBSCRIBER_AMQP_URL")
        let subscriber = try AMQPAdmin(url: url)
        let queue = "subscriber.privilege.\(UUID().uuidString.prefix(8).lowercased())"
        try await subscriber.declareQueue(queue, durable: false)
        try await subscriber.bind(queue: queue, exchange: "identity.events", routingKey: "identity.#")
        try await subscriber.deleteQueue(queue)
        await #expect(throws: AMQPError.self, "only subscriber.* queues") { try await subscriber.declareQueue("mine") }
        // Identity's private exchange (reset and verification links) is not for subscribers.
        let spy = "subscriber.privilege.\(UUID().uuidString.prefix(8).lowercased())"
        try await subscriber.declareQueue(spy, durable: false)
        await #expect(throws: AMQPError.self, "binding to identity.private") {
            try await subscriber.bind(queue: spy, exchange: "identity.private", routingKey: "#")
        }
        try await subscriber.deleteQueue(spy)
        let archive = try AMQPConsumer(url: url, queue: "events.archive", prefetch: 10, name: "privilege", arguments: ["x-stream-offset": .string("last")], logger: TestEnvironment.logger)
        defer { archive.stop() }
        try await eventually("the subscriber to read the archive") { archive.isConsuming }
        let publisher = try AMQPPublisher(url: url, name: "privilege", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        for exchange in ["identity.events", "", "identity.private", "notifications.retry"] {
            await #expect(throws: AMQPError.self, "publishing to '\(exchange)'") {
                _ = try await publisher.publish(OutgoingMessage(
                    exchange: exchange, routingKey: "identity.user.registered.v1", body: Array("{}".utf8), properties: AMQPProperties(messageID: UUID().uuidString)))
            }
        }
    }
}
