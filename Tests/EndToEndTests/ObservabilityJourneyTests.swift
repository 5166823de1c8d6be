import AsyncHTTPClient
import Foundation
import MessageBus
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// One registration as one trace, across processes: the services export their spans over OTLP to
/// the local receiver (scripts/otlp-receiver.sh), which writes them down; the test reads them.
extension EndToEndTests {
    struct ObservabilityJourneyTests {}
}

extension EndToEndTests.ObservabilityJourneyTests {
    static let receiverPort = 10_598
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The receiver, started and waited for; stopped by the caller.
    func startReceiver(writingTo spans: URL, in directory: URL) async throws -> Process {
        let ready = directory.appendingPathComponent("receiver.ready")
        try? FileManager.default.removeItem(at: ready)
        let process = Process()
        process.executableURL = Self.repository.appendingPathComponent("scripts/otlp-receiver.sh")
        process.arguments = ["--port", String(Self.receiverPort), "--out", spans.path, "--ready-file", ready.path]
        let log = directory.appendingPathComponent("receiver.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try await eventually(timeout: .seconds(60), "the OTLP receiver to listen") {
            guard process.isRunning else {
                throw ReceiverExited(log: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
            }
            return FileManager.default.fileExists(atPath: ready.path)
        }
        return process
    }

    struct ReceiverExited: Error, CustomStringConvertible {
        let log: String
        var description: String { "the OTLP receiver exited: \(log)" }
    }

    struct Span {
        var traceID: String
        var spanID: String
        var parentSpanID: String
        var name: String
        var kind: String
        var service: String
    }

    func spans(in file: URL) -> [Span] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
            return Span(
                traceID: object["traceId"] as? String ?? "", spanID: object["spanId"] as? String ?? "",
                parentSpanID: object["parentSpanId"] as? String ?? "", name: object["name"] as? String ?? "",
                kind: object["kind"] as? String ?? "", service: object["service"] as? String ?? "")
        }
    }

    static func hex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    @Test func aRegistrationIsOneTraceFromTheRequestToTheMail() async throws {
        let processes = try ServiceProcesses(portBase: 10_580)
        let directory = processes.logDirectory.deletingLastPathComponent()
        let spanFile = directory.appendingPathComponent("spans.jsonl")
        let receiver = try await startReceiver(writingTo: spanFile, in: directory)
        defer { receiver.terminate() }
        let admin = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        let queue = "e2e.traces.\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.declareQueue(queue, durable: false)
        try await admin.bind(queue: queue, exchange: "identity.events", routingKey: "identity.user.registered.v1")
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        try processes.start([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(Self.receiverPort)", "OTEL_BSP_SCHEDULE_DELAY": "100",
            "LOG_FORMAT": "json",
        ])
        do {
            let api = JSONClient(client: client)
            try await processes.waitUntilReady(api)

            // The caller's own span: the trace is theirs, and identity's request span is its child.
            let traceID = Self.hex(16)
            let callerSpan = Self.hex(8)
            let email = "trace.\(UUID().uuidString.prefix(6).lowercased())@example.com"
            let registered = try await api.send(
                .POST, processes.url("identity", "/v1/auth/register"),
                json: #"{"email": "\#(email)", "password": "correct horse battery", "name": "Grace Hopper"}"#,
                headers: [("traceparent", "00-\(traceID)-\(callerSpan)-01")])
            #expect(registered.status == 201)
            let userID = try #require((registered.body["user"] as? [String: Any])?["id"] as? String)

            // The event on the bus carries the trace: in its envelope and in its AMQP headers.
            var deliveries: [IncomingMessage] = []
            try await eventually("the registration's event") {
                deliveries += try await admin.drain(queue: queue, limit: 10)
                return deliveries.contains { String(decoding: $0.body, as: UTF8.self).contains(userID) }
            }
            let delivery = try #require(deliveries.first { String(decoding: $0.body, as: UTF8.self).contains(userID) })
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])
            let eventTraceparent = try #require(envelope["traceparent"] as? String)
            #expect(eventTraceparent.split(separator: "-")[1] == Substring(traceID))
            #expect(delivery.properties.headers["traceparent"]?.stringValue == eventTraceparent)

            // identity's request → its transaction → the relay's publish → notifications' handling
            // → the mail sent: one trace.
            var trace: [Span] = []
            try await eventually(timeout: .seconds(20), "the spans of identity, its relay and notifications' mail") {
                trace = spans(in: spanFile).filter { $0.traceID == traceID }
                // Spans are exported in batches, each process on its own clock: a child (another
                // consumer handling the mail's own event) can arrive before its parent.
                let ids = Set(trace.map(\.spanID))
                // The welcome mail's own span: the registration also sends another mail (the
                // address's check), whose span may come first.
                return trace.contains { $0.service == "notifications" && $0.name == "send mail welcome" }
                    && trace.contains { $0.service == "identity" && $0.kind == "PRODUCER" }
                    && trace.allSatisfy { ids.contains($0.parentSpanID) || $0.parentSpanID == callerSpan }
            }
            let server = try #require(trace.first { $0.service == "identity" && $0.kind == "SERVER" })
            #expect(server.name == "POST /v1/auth/register")
            #expect(server.parentSpanID == callerSpan)
            let publish = try #require(trace.first { $0.service == "identity" && $0.kind == "PRODUCER" })
            #expect(publish.name == "publish identity.events")
            let process = try #require(trace.first { $0.service == "notifications" && $0.kind == "CONSUMER" && $0.name.hasSuffix("user.registered.v1") })
            let mail = try #require(trace.first { $0.service == "notifications" && $0.name == "send mail welcome" })
            // Each span's parent is in the trace (or is the caller's), so the waterfall is one tree.
            let ids = Set(trace.map(\.spanID))
            for span in trace { #expect(ids.contains(span.parentSpanID) || span.parentSpanID == callerSpan, "\(span.name) has an unknown parent") }
            // The mail was queued by the handler's transaction: the send descends from the handling.
            var ancestor = mail.parentSpanID
            var chain: [String] = []
            while let parent = trace.first(where: { $0.spanID == ancestor }) {
                chain.append(parent.name)
                ancestor = parent.parentSpanID
            }
            #expect(chain.contains(process.name), "the mail's ancestors: \(chain)")
            #expect(chain.contains(server.name), "the mail's ancestors: \(chain)")

            // The log lines of the request carry its trace and route; the access line its status.
            let access = processes.log("identity").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["message"] as? String == "request" && $0["trace_id"] as? String == traceID }
            #expect(access?["route"] as? String == "/v1/auth/register")
            #expect(access?["status"] as? String == "201")
            #expect(access?["service"] as? String == "identity")
            #expect(access?["span_id"] as? String != nil)

            // The command prints the trace as a waterfall, every service in it.
            let printed = try await processes.syllabus(["trace", traceID, "--file", spanFile.path])
            #expect(printed.status == 0, "\(printed.output)")
            #expect(printed.output.contains("identity server POST /v1/auth/register"))
            #expect(printed.output.contains("notifications client send mail welcome"))
            #expect(printed.output.contains("(parent \(callerSpan), not recorded here)"))

            // Metrics after the traffic: route-labelled durations, the outbox's and the consumer's gauges.
            let identityMetrics = try await metrics(client, processes.url("identity", "/metrics"))
            #expect(identityMetrics.contains(#"http_server_request_duration_seconds_bucket{route="/v1/auth/register",method="POST",status="201""#))
            #expect(identityMetrics.contains(#"outbox_backlog_events{service="identity"}"#))
            #expect(identityMetrics.contains(#"outbox_oldest_event_age_seconds{service="identity"}"#))
            #expect(identityMetrics.contains(#"db_pool_connections{pool="identity"} 8"#))
            let expected = [
                #"queue_messages_ready{queue="notifications"}"#, #"queue_messages_ready{queue="notifications.dlq"}"#,
                #"events_handled_total{service="notifications",handler="recipients.registered"}"#,
                #"event_handling_duration_seconds_bucket{service="notifications",handler="recipients.registered""#,
                "mail_queue_depth ", "mail_queue_oldest_age_seconds ", #"db_pool_connections_in_use{pool="notifications"}"#,
                #"emails_sent_total"#,
            ]
            var missing = expected
            try await eventually("notifications' consumer and mail series: \(missing)") {
                let text = try await metrics(client, processes.url("notifications", "/metrics"))
                missing = expected.filter { !text.contains($0) }
                return missing.isEmpty
            }
        } catch {
            processes.stop()
            try await client.shutdown()
            throw error
        }
        processes.stop()
        try await client.shutdown()
    }

    func metrics(_ client: HTTPClient, _ url: String) async throws -> String {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 4 << 20))
    }
}
