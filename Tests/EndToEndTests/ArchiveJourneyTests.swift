import AsyncHTTPClient
import Foundation
import MessageBus
import NIOCore
import Testing
import TestSupport

/// The archive is fed by webhooks' archiver, off the producers' path: a publish is confirmed by
/// the queues that consume it, and the stream receives its copy afterwards, as it was published.
extension EndToEndTests {
    struct ArchiveJourneyTests {}
}

extension EndToEndTests.ArchiveJourneyTests {
    @Test func eventsReachTheArchiveThroughTheArchiverAsTheyWerePublished() async throws {
        let admin = try TestEnvironment.value("ADMIN_AMQP_URL")
        let since = UInt64(Date().timeIntervalSince1970) - 1
        let run = UUID().uuidString.prefix(8).lowercased()
        // Published and confirmed whether or not an archiver runs: no service's queue binds this
        // type, so the feed is the only queue that takes it.
        let publisher = try AMQPPublisher(url: admin, name: "archive-check", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        let sent = (1...5).map { n in
            OutgoingMessage(
                exchange: "identity.events", routingKey: "identity.archive.check.v0", body: Array(#"{"n":\#(n)}"#.utf8),
                properties: AMQPProperties(
                    contentType: "application/cloudevents+json", messageID: "archive-\(run)-\(n)", type: "org.syllabus.identity.archive.check.v0",
                    appID: "identity", timestamp: since, persistent: true, headers: ["partitionkey": .string("archive-\(run)")]),
                mandatory: true)
        }
        #expect(try await publisher.publish(sent) == Array(repeating: .confirmed, count: sent.count))

        let processes = try ServiceProcesses(portBase: 11_080)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        try processes.start("webhooks")
        try await runJourney {
            try await processes.waitUntilReady(JSONClient(client: http), services: ["webhooks"])
            let archived = try await Self.archived(since: since, ids: Set(sent.compactMap(\.properties.messageID)), as: admin)
            #expect(archived.map(\.properties.messageID) == sent.map(\.properties.messageID), "in the order they were published")
            for (copy, original) in zip(archived, sent) {
                #expect(copy.routingKey == original.routingKey)
                #expect(copy.body == original.body)
                #expect(copy.properties.type == original.properties.type)
                #expect(copy.properties.contentType == original.properties.contentType)
                #expect(copy.properties.appID == "identity")
                #expect(copy.properties.timestamp == since)
                #expect(copy.properties.persistent)
                #expect(copy.properties.headers["partitionkey"] == .string("archive-\(run)"))
            }
            // This journey's webhooks was the one replica running: it made the copies.
            let response = try await http.execute(HTTPClientRequest(url: processes.url("webhooks", "/metrics")), timeout: .seconds(10))
            let metrics = String(buffer: try await response.body.collect(upTo: 4 << 20))
            #expect(metrics.contains("archive_events_copied_total "), "webhooks counts the copies it made")
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }

    /// The example subscriber against the test stack: a queue of its own, then the same events
    /// read back from the archive, which webhooks' archiver fills.
    @Test func thePythonExampleSubscriberReadsItsQueueAndTheArchive() async throws {
        let environmentFile = ProcessInfo.processInfo.environment["SYLLABUS_TEST_ENV"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".stack/test/syllabus.env").path
        let processes = try ServiceProcesses(portBase: 11_180)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        try processes.start("webhooks")
        try await runJourney {
            try await processes.waitUntilReady(JSONClient(client: http), services: ["webhooks"])
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("examples/python-subscriber/check.sh").path
            let result = try await blocking { try run("/bin/bash", [script, environmentFile], timeout: 180) }
            #expect(result.status == 0, "\(result.output.suffix(4000))")
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }

    /// The archive's messages among `ids`, read from `since` (seconds) until all have come.
    static func archived(since: UInt64, ids: Set<String>, as url: String) async throws -> [IncomingMessage] {
        let consumer = try AMQPConsumer(
            url: url, queue: "events.archive", prefetch: 500, name: "archive-check", arguments: ["x-stream-offset": .timestamp(since)],
            logger: TestEnvironment.logger)
        defer { consumer.stop() }
        let reading = Task {
            var found: [IncomingMessage] = []
            for await message in consumer.deliveries {
                consumer.ack(message)
                if let id = message.properties.messageID, ids.contains(id) { found.append(message) }
                if found.count == ids.count { break }
            }
            return found
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(30))
            consumer.stop()
        }
        defer { timeout.cancel() }
        let found = await reading.value
        #expect(found.count == ids.count, "the archive holds every event within 30 s")
        return found
    }
}
