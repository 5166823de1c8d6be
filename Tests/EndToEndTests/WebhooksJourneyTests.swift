import AsyncHTTPClient
import Contracts
import Foundation
import MessageBus
import Testing
import TestSupport

/// The public events delivered over HTTPS as Standard Webhooks, checked by PyPI's
/// `standardwebhooks` in a local receiver (scripts/webhook-receiver.py): a lesson completion's
/// events in order and once each, a failing receiver retried with the same `webhook-id`, private
/// addresses refused, a rotated secret signing beside the new one, a replay from the archive,
/// and an endpoint failing past the threshold disabled with the admins told by mail.
extension EndToEndTests {
    struct WebhooksJourneyTests {}
}

extension EndToEndTests.WebhooksJourneyTests {
    @Test func publicEventsReachSignedEndpointsRetriedReplayedAndDisabledWhenFailing() async throws {
        let journey = try WebhooksJourney()
        try await runJourney(journey.run, finish: journey.http.shutdown)
    }
}

final class WebhooksJourney: @unchecked Sendable {
    static let receiverPort = 10_698
    let processes: ServiceProcesses
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let api: JSONClient

    init() throws {
        processes = try ServiceProcesses(portBase: 10_680)
        api = JSONClient(client: http)
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func webhooks(_ path: String) -> String { processes.url("webhooks", path) }
    func hook(_ name: String) -> String { "http://127.0.0.1:\(Self.receiverPort)/hooks/\(name)" }
    func control(_ name: String) -> String { "http://127.0.0.1:\(Self.receiverPort)/_control/\(name)" }

    func startReceiver() async throws -> Process {
        let process = Process()
        process.executableURL = Self.repository.appendingPathComponent("scripts/webhook-receiver.sh")
        process.arguments = ["--port", String(Self.receiverPort)]
        let log = processes.logDirectory.appendingPathComponent("webhook-receiver.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try await eventually(timeout: .seconds(60), "the webhook receiver to listen") {
            guard process.isRunning else { throw ReceiverExited(log: (try? String(contentsOf: log, encoding: .utf8)) ?? "") }
            return (try? await self.api.send(.GET, "http://127.0.0.1:\(Self.receiverPort)/_control"))?.status == 200
        }
        return process
    }

    struct ReceiverExited: Error, CustomStringConvertible {
        let log: String
        var description: String { "the webhook receiver exited: \(log)" }
    }

    struct Received {
        var id: String
        var type: String
        var userId: String?
        var verified: [Bool]
        var answered: Int
    }

    func received(_ name: String) async throws -> [Received] {
        let answer = try await api.send(.GET, control(name))
        return (answer.body["received"] as? [[String: Any]] ?? []).map { item in
            Received(
                id: item["id"] as? String ?? "", type: item["type"] as? String ?? "",
                userId: (item["data"] as? [String: Any])?["userId"] as? String, verified: item["verified"] as? [Bool] ?? [],
                answered: item["answered"] as? Int ?? 0)
        }
    }

    func configure(_ name: String, _ settings: String) async throws {
        #expect(try await api.send(.PUT, control(name), json: settings).status == 204)
    }

    /// A new endpoint: its id and secret.
    func endpoint(_ name: String, types: [String], admin: String) async throws -> (id: String, secret: String) {
        let list = types.map { "\"\($0)\"" }.joined(separator: ",")
        let created = try await api.send(
            .POST, webhooks("/v1/webhooks/endpoints"), json: #"{"url":"\#(hook(name))","description":"\#(name)","eventTypes":[\#(list)]}"#, token: admin)
        #expect(created.status == 201, "\(created.body)")
        let id = try #require((created.body["endpoint"] as? [String: Any])?["id"] as? String)
        return (id, try #require(created.body["secret"] as? String))
    }

    /// Archived events of `user` on progress's exchange since `since`, in the archive's order,
    /// read until the archive has nothing more.
    func archivedProgress(of user: String, since: Date) async throws -> [String] {
        let consumer = try AMQPConsumer(
            url: try TestEnvironment.value("ADMIN_AMQP_URL"), queue: "events.archive", prefetch: 500, name: "e2e-webhooks-archive",
            arguments: ["x-stream-offset": .timestamp(UInt64(since.timeIntervalSince1970) - 1)], logger: TestEnvironment.logger)
        defer { consumer.stop() }
        let collected = Collected()
        let reading = Task {
            for await message in consumer.deliveries {
                consumer.ack(message)
                collected.add(message)
            }
        }
        defer { reading.cancel() }
        // Read until three seconds pass without a message.
        try await eventually(timeout: .seconds(60), "the archive to be read to its end") {
            collected.count > 0 && collected.quietFor > 3
        }
        return collected.messages.compactMap { message in
            guard message.routingKey.hasPrefix("progress."),
                let object = try? JSONSerialization.jsonObject(with: Data(message.body)) as? [String: Any],
                (object["data"] as? [String: Any])?["userId"] as? String == user
            else { return nil }
            return object["id"] as? String
        }
    }

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var _messages: [IncomingMessage] = []
        private var last = Date()
        func add(_ message: IncomingMessage) { lock.withLock { _messages.append(message); last = Date() } }
        var messages: [IncomingMessage] { lock.withLock { _messages } }
        var count: Int { lock.withLock { _messages.count } }
        var quietFor: TimeInterval { lock.withLock { Date().timeIntervalSince(last) } }
    }

    func run() async throws {
        let receiver = try await startReceiver()
        defer { receiver.terminate() }
        try processes.start([
            "WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOW_PRIVATE": "loopback", "WEBHOOKS_RETRY_SCHEDULE": "1,1,1,1",
            "WEBHOOKS_DISABLE_AFTER": "3",
        ])
        defer { processes.stop() }
        try await processes.waitUntilReady(api)
        let adminEmail = "webhooks.admin.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        #expect(try await processes.syllabus(["admin", "create", "--email", adminEmail, "--password", "admin password"]).status == 0)
        let admin = try #require(
            try await api.send(.POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(adminEmail)","password":"admin password"}"#)
                .body["accessToken"] as? String)

        // Endpoints of an earlier run would receive this run's events: none is left.
        try await removeEndpoints(admin: admin)

        // Private addresses are refused before anything is stored or connected to.
        for url in ["https://10.0.0.8/hook", "http://192.168.1.20/hook", "http://169.254.169.254/latest/meta-data", "https://[fd00::1]/hook"] {
            let refused = try await api.send(
                .POST, webhooks("/v1/webhooks/endpoints"), json: #"{"url":"\#(url)","eventTypes":["progress.*"]}"#, token: admin)
            #expect(refused.status == 422 && (refused.body["errors"] as? [[String: Any]])?.first?["code"] as? String == "address_not_allowed", "\(url)")
        }
        #expect(try await api.send(.GET, webhooks("/v1/webhooks/endpoints"), token: admin).body["endpoints"] as? [Any] != nil)

        let progress = try await endpoint("progress", types: ["progress.*"], admin: admin)
        try await configure("progress", #"{"secrets":["\#(progress.secret)"]}"#)
        let flaky = try await endpoint("flaky", types: ["identity.user.registered.v1"], admin: admin)
        try await configure("flaky", #"{"secrets":["\#(flaky.secret)"],"failFirst":2}"#)

        // A module with one free lesson, and a learner who completes it.
        func create(_ path: String, _ json: String) async throws -> String {
            let answer = try await api.send(.POST, processes.url("content", path), json: json, token: admin)
            #expect(answer.status == 201, "\(path): \(answer.body)")
            return try #require(answer.body["id"] as? String)
        }
        let module = try await create("/v1/content/admin/modules", #"{"title":"Webhooks module"}"#)
        let lesson = try await create("/v1/content/admin/modules/\(module)/lessons", #"{"title":"Webhooks lesson","isFree":true}"#)
        #expect(try await api.send(.POST, processes.url("content", "/v1/content/admin/modules/\(module)/publish"), token: admin).status == 200)
        #expect(try await api.send(.POST, processes.url("content", "/v1/content/admin/lessons/\(lesson)/publish"), token: admin).status == 200)
        let since = Date()
        let email = "webhooks.learner.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        let registered = try await api.send(
            .POST, processes.url("identity", "/v1/auth/register"), json: #"{"email":"\#(email)","password":"a long password","name":"Hook"}"#)
        let learner = try #require((registered.body["user"] as? [String: Any])?["id"] as? String)
        let token = try #require(registered.body["accessToken"] as? String)
        try await eventually(timeout: .seconds(30), "progress to know the lesson") {
            try await self.api.send(.POST, self.processes.url("progress", "/v1/progress/lessons/\(lesson)/start"), token: token).status == 200
        }
        #expect(try await api.send(.PUT, processes.url("progress", "/v1/progress/lessons/\(lesson)"), token: token).status == 200)

        // The registration reached the flaky receiver on its third attempt, with one webhook-id.
        try await eventually(timeout: .seconds(30), "the registration through two failures") {
            try await self.received("flaky").filter { $0.userId == learner }.contains { $0.answered == 204 }
        }
        let attempts = try await received("flaky").filter { $0.userId == learner }
        #expect(attempts.map(\.answered) == [500, 500, 204])
        #expect(Set(attempts.map(\.id)).count == 1 && attempts.allSatisfy { $0.verified == [true] })
        let log = try await api.send(.GET, webhooks("/v1/webhooks/events/\(attempts[0].id)/deliveries"), token: admin)
        let logged = (log.body["deliveries"] as? [[String: Any]])?.first?["attempts"] as? [[String: Any]]
        #expect(logged?.compactMap { $0["status"] as? Int } == [500, 500, 204])

        // The learner's progress events: those the archive holds, in its order, once each.
        try await eventually(timeout: .seconds(30), "the completion's events") {
            let types = try await self.received("progress").filter { $0.userId == learner }.map(\.type)
            return types.contains("org.syllabus.progress.module.completed.v1")
        }
        let archived = try await archivedProgress(of: learner, since: since)
        let delivered = try await received("progress").filter { $0.userId == learner }
        #expect(delivered.map(\.id) == archived, "in order, once each")
        #expect(delivered.prefix(3).map(\.type) == [
            "org.syllabus.progress.lesson.started.v1", "org.syllabus.progress.lesson.completed.v1", "org.syllabus.progress.module.completed.v1",
        ])
        #expect(delivered.allSatisfy { $0.verified == [true] && $0.answered == 204 })

        // A rotated secret: both sign during the overlap, and the receiver verifies either.
        let rotated = try await api.send(.POST, webhooks("/v1/webhooks/endpoints/\(progress.id)/secret/rotate"), token: admin)
        let newSecret = try #require(rotated.body["secret"] as? String)
        try await configure("progress", #"{"secrets":["\#(progress.secret)","\#(newSecret)"]}"#)
        let test = try await api.send(.POST, webhooks("/v1/webhooks/endpoints/\(progress.id)/test"), token: admin)
        #expect(test.status == 202)
        let testID = try #require(test.body["eventId"] as? String)
        try await eventually(timeout: .seconds(30), "the test event") { try await self.received("progress").contains { $0.id == testID } }
        let testEvent = try #require(try await received("progress").first { $0.id == testID })
        #expect(testEvent.type == "org.syllabus.webhooks.endpoint.test.v1" && testEvent.verified == [true, true])

        // A replay from the archive sends the learner's events again, the same ids in the same order.
        let replay = try await api.send(
            .POST, webhooks("/v1/webhooks/endpoints/\(progress.id)/replay"),
            json: #"{"from":"\#(RFC3339.format(since.addingTimeInterval(-1)))","to":"\#(RFC3339.format(Date()))"}"#, token: admin)
        #expect(replay.status == 202, "\(replay.body)")
        #expect((replay.body["queued"] as? Int ?? 0) >= archived.count)
        try await eventually(timeout: .seconds(30), "the replayed events") {
            try await self.received("progress").filter { $0.userId == learner }.count == 2 * archived.count
        }
        let replayed = try await received("progress").filter { $0.userId == learner }.suffix(archived.count)
        #expect(replayed.map(\.id) == archived && replayed.allSatisfy { $0.verified == [true, true] })

        // An endpoint that keeps failing is disabled, and every admin is told.
        try await eventually(timeout: .seconds(30), "notifications to know the admin") {
            try mails(in: self.processes.mailDirectory).contains { $0.contains(adminEmail) }
        }
        let down = try await endpoint("down", types: ["billing.*"], admin: admin)
        try await configure("down", #"{"secrets":["\#(down.secret)"],"status":503}"#)
        var lastTest = Date.distantPast
        try await eventually(timeout: .seconds(60), "the failing endpoint to be disabled") {
            let state = try await self.api.send(.GET, self.webhooks("/v1/webhooks/endpoints/\(down.id)"), token: admin)
            if state.body["enabled"] as? Bool == false { return state.body["disabledReason"] as? String == "failing" }
            if Date().timeIntervalSince(lastTest) > 2 {
                lastTest = Date()
                _ = try await self.api.send(.POST, self.webhooks("/v1/webhooks/endpoints/\(down.id)/test"), token: admin)
            }
            return false
        }
        try await eventually(timeout: .seconds(30), "the admins' mail") {
            try mails(in: self.processes.mailDirectory).contains {
                $0.contains(adminEmail) && $0.contains("A webhook endpoint was disabled") && $0.contains("127.0.0.1:\(Self.receiverPort)")
            }
        }
        // Disabled, it still records what it should get.
        #expect(try await api.send(.POST, webhooks("/v1/webhooks/endpoints/\(down.id)/test"), token: admin).status == 202)
        let missed = try await api.send(.GET, webhooks("/v1/webhooks/endpoints/\(down.id)/deliveries"), token: admin)
        let waiting = (missed.body["deliveries"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "PENDING" }.compactMap { $0["eventId"] as? String }
        #expect(!waiting.isEmpty, "events wait while the endpoint is disabled")
        // Once it answers again and is enabled, it receives what waited.
        try await configure("down", #"{"status":null}"#)
        let enabled = try await api.send(.PATCH, webhooks("/v1/webhooks/endpoints/\(down.id)"), json: #"{"enabled":true}"#, token: admin)
        #expect(enabled.status == 200 && enabled.body["enabled"] as? Bool == true)
        try await eventually(timeout: .seconds(30), "what the endpoint missed") {
            let answered = try await self.received("down").filter { $0.answered == 204 }.map(\.id)
            return Set(waiting).isSubset(of: Set(answered))
        }
        #expect(processes.exited.isEmpty, "\(processes.exited) exited")
        // Later journeys start webhooks too: nothing of this one is left to deliver.
        try await removeEndpoints(admin: admin)
    }

    func removeEndpoints(admin: String) async throws {
        let listed = try await api.send(.GET, webhooks("/v1/webhooks/endpoints"), token: admin)
        for endpoint in listed.body["endpoints"] as? [[String: Any]] ?? [] {
            #expect(try await api.send(.DELETE, webhooks("/v1/webhooks/endpoints/\(endpoint["id"] as? String ?? "")"), token: admin).status == 204)
        }
    }
}
