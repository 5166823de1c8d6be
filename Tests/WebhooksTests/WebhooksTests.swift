import Contracts
import Crypto
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTesting
import Testing
import TestSupport

@testable import Webhooks

@Suite struct SigningAndDestinationTests {
    /// The Standard Webhooks specification's own example.
    @Test func signaturesMatchTheSpecificationsExample() {
        let signature = StandardWebhooks.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let secret = StandardWebhooks.newSecret()
        #expect(secret.hasPrefix("whsec_") && StandardWebhooks.key(of: secret) != nil)
        #expect(StandardWebhooks.key(of: "whsec_short") == nil)
    }

    @Test func privateLoopbackLinkLocalAndReservedAddressesAreRefused() {
        let strict = DestinationPolicy()
        for address in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1", "fd00::1", "fe80::1",
            "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "ff02::1"]
        {
            #expect(DestinationPolicy.classify(address) != nil, "\(address)")
            #expect(throws: DestinationPolicy.Refusal.self, "\(address)") {
                try strict.addresses(of: strict.destination("https://\(address.contains(":") ? "[\(address)]" : address)/hook"))
            }
        }
        for address in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "100.128.0.1"] {
            #expect(DestinationPolicy.classify(address) == nil, "\(address)")
        }
        let local = DestinationPolicy(allowHTTP: true, allowed: [.loopback])
        #expect(throws: Never.self) { try local.addresses(of: local.destination("http://127.0.0.1:9/hook")) }
        #expect(throws: DestinationPolicy.Refusal.self) { try local.addresses(of: local.destination("http://10.0.0.1/hook")) }
        #expect(throws: DestinationPolicy.Refusal.scheme("http")) { try strict.destination("http://example.com/") }
        #expect(throws: DestinationPolicy.Refusal.credentials) { try strict.destination("https://user:pw@example.com/") }
        #expect(throws: DestinationPolicy.Refusal.scheme("ftp")) { try strict.destination("ftp://example.com/") }
        let destination = try? strict.destination("https://Hooks.Example.com:8443/in/abc?token=s3cret")
        #expect(destination?.origin == "https://hooks.example.com:8443")
        #expect(destination?.target == "/in/abc?token=s3cret")
        #expect(destination?.hostHeader == "hooks.example.com:8443")
    }

    @Test func patternsMatchKeysPrefixesAndEverything() {
        #expect(EventFilter.matches("progress.*", "progress.lesson.completed.v1"))
        #expect(!EventFilter.matches("progress.*", "progressive.thing.v1"))
        #expect(EventFilter.matches("*", "identity.user.registered.v1"))
        #expect(EventFilter.matches("billing.payment.failed.v1", "billing.payment.failed.v1"))
        #expect(!EventFilter.matches("billing.payment.failed.v1", "billing.payment.failed.v2"))
    }
}

/// A local HTTP receiver: records each request and answers the next status of its script
/// (204 once the script is spent).
actor Receiver {
    struct Request: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        var id: String { headers["webhook-id"] ?? "" }
        var type: String {
            ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any])?["type"] as? String ?? ""
        }
    }

    var requests: [Request] = []
    var script: [Int]

    init(script: [Int] = []) { self.script = script }

    func record(_ request: Request) -> Int {
        requests.append(request)
        return script.isEmpty ? 204 : script.removeFirst()
    }

    func setScript(_ statuses: [Int]) { script = statuses }

    /// Whether a request's signature header carries a valid signature made with `secret`.
    static func verifies(_ request: Request, secret: String) -> Bool {
        guard let id = request.headers["webhook-id"], let timestamp = request.headers["webhook-timestamp"].flatMap(Int64.init),
            let header = request.headers["webhook-signature"],
            let expected = StandardWebhooks.signature(id: id, timestamp: timestamp, body: request.body, secret: secret)
        else { return false }
        return header.split(separator: " ").contains { $0 == expected }
    }

    static func run(script: [Int] = [], _ body: (Int, Receiver) async throws -> Void) async throws {
        let receiver = Receiver(script: script)
        let router = Router()
        router.post("/hook") { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let status = await receiver.record(Request(headers: headers, body: Array(buffer: bytes)))
            return Response(status: .init(code: status))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: TestEnvironment.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(port, receiver)
            group.cancelAll()
        }
    }
}

/// Endpoints, fan-out and delivery over a migrated schema and a real local receiver.
@Suite(.serialized) struct DeliveryTests {
    static let settings = WebhooksSettings(
        retrySchedule: [0, 0, 0], disableAfter: 3600, policy: DestinationPolicy(allowHTTP: true, allowed: [.loopback]), timeout: 5)

    func withWebhooks(
        settings: WebhooksSettings = settings, _ body: (DatabasePool, Dispatcher, Router<ServiceRequestContext>, TestTokens) async throws -> Void
    ) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(WebhooksMigrations.all) { pool, _ in
            let router = buildWebhooksRouter(
                .init(database: pool, verifier: tokens.verifier, settings: settings, archiveURL: "amqp://unused", logger: TestEnvironment.logger))
            let dispatcher = Dispatcher(database: pool, client: try WebhookClient(), settings: settings, logger: TestEnvironment.logger)
            try await body(pool, dispatcher, router, tokens)
        }
    }

    static func event(_ n: Int, lesson: String, user: String) -> RawEvent {
        let completed = CloudEvent(
            ProgressLessonCompletedV1(
                userId: user, lessonId: lesson, moduleId: UUID().lowercased, isFree: true, completedAt: Date()),
            sequence: Int64(n))
        let body = try! EventCoding.encode(completed)
        return RawEvent(header: try! EventCoding.decode(CloudEventHeader.self, from: body), body: body)
    }

    /// Runs the dispatcher until `condition` holds.
    func deliver(_ dispatcher: Dispatcher, until what: String, _ condition: () async throws -> Bool) async throws {
        try await eventually(timeout: .seconds(30), what) {
            _ = try await dispatcher.step()
            return try await condition()
        }
    }

    func create(_ client: some TestClientProtocol, _ admin: String, url: String, types: [String] = ["progress.*"]) async throws -> TestResponse {
        let body = try JSONSerialization.data(withJSONObject: ["url": url, "description": "test receiver", "eventTypes": types])
        return try await client.execute(
            uri: "/v1/webhooks/endpoints", method: .post, headers: [.authorization: admin, .contentType: "application/json"],
            body: ByteBuffer(bytes: body))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    /// Another replica, or a retry, can bring a user's event after their deletion: it is not
    /// kept for any endpoint, and the deletion itself still is.
    @Test func aDeletedUsersLateEventIsNotKeptButTheDeletionIs() async throws {
        try await withWebhooks { pool, _, router, tokens in
            try await Application(router: router).test(.router) { client in
                let admin = try await tokens.bearer(role: "ADMIN")
                #expect(try await create(client, admin, url: "http://127.0.0.1:9/hook", types: ["*"]).status == .created)
                let user = UUID().lowercased
                func raw<E: DomainEvent>(_ event: CloudEvent<E>) throws -> RawEvent {
                    let body = try EventCoding.encode(event)
                    return RawEvent(header: try EventCoding.decode(CloudEventHeader.self, from: body), body: body)
                }
                let deleted = try raw(CloudEvent(IdentityUserDeletedV1(userId: user, deletedBy: "self", deletedAt: Date()), sequence: 7))
                let late = try raw(
                    CloudEvent(
                        IdentityUserProfileUpdatedV1(
                            userId: user, email: "late@example.com", name: "Late", emailVerified: true, marketingOptOut: false,
                            onboardingComplete: true, timeZone: nil, userType: nil, buildGoal: nil, experienceLevel: nil, skillLevel: nil,
                            learningStyle: nil, weeklyHours: nil, updatedAt: Date()),
                        sequence: 6))
                try await pool.transaction { connection in
                    // As the consumer applies the deletion: the tombstone first, then the fan-out.
                    try connection.execute("INSERT INTO user_tombstones (user_id, deleted_at) VALUES (\(UUID(uuidString: user)!), now())")
                    try EndpointStore.record(deleted, on: connection)
                }
                try await pool.transaction { try EndpointStore.record(late, on: $0) }
                #expect(try await pool.query("SELECT 1 FROM events WHERE id = \(deleted.header.id)").count == 1)
                #expect(try await pool.query("SELECT 1 FROM events WHERE id = \(late.header.id)").isEmpty)
                #expect(try await pool.query("SELECT 1 FROM deliveries WHERE event_id = \(late.header.id)").isEmpty)
            }
        }
    }

    @Test func eventsArriveSignedInOrderOnceAndAFailingOneIsRetriedWithTheSameID() async throws {
        try await withWebhooks { pool, dispatcher, router, tokens in
            try await Receiver.run(script: [500, 500]) { port, receiver in
                try await Application(router: router).test(.router) { client in
                    let admin = try await tokens.bearer(role: "ADMIN")
                    let created = try await create(client, admin, url: "http://127.0.0.1:\(port)/hook")
                    #expect(created.status == .created)
                    let secret = try #require(try Self.json(created)["secret"] as? String)
                    let endpoint = try #require((try Self.json(created)["endpoint"] as? [String: Any])?["id"] as? String)
                    let lesson = UUID().lowercased
                    let user = UUID().lowercased
                    let events = (1...5).map { Self.event($0, lesson: lesson, user: user) }
                    // Not subscribed: identity's events, neither queued nor kept.
                    let login = try EventCoding.encode(
                        CloudEvent(IdentityUserLoggedInV1(userId: user, method: "password", provider: nil, loggedInAt: Date()), sequence: 1))
                    let other = RawEvent(header: try EventCoding.decode(CloudEventHeader.self, from: login), body: login)
                    try await pool.transaction { connection in
                        try EndpointStore.record(other, on: connection)
                        for event in events { try EndpointStore.record(event, on: connection) }
                    }
                    #expect(try await pool.query("SELECT 1 FROM events WHERE id = \(other.header.id)").isEmpty)
                    try await deliver(dispatcher, until: "five events delivered") {
                        try await pool.query("SELECT 1 FROM deliveries WHERE status = 'SUCCEEDED'").count == 5
                    }
                    let requests = await receiver.requests
                    // The first was answered 500 twice, then taken; the others waited behind it.
                    #expect(requests.map(\.id) == [events[0].header.id, events[0].header.id] + events.map(\.header.id))
                    #expect(requests.allSatisfy { Receiver.verifies($0, secret: secret) })
                    #expect(requests.allSatisfy { $0.type == "org.syllabus.progress.lesson.completed.v1" })
                    #expect(requests[0].body == events[0].body, "the event as published")

                    let log = try await client.execute(
                        uri: "/v1/webhooks/endpoints/\(endpoint)/deliveries", method: .get, headers: [.authorization: admin])
                    let deliveries = try #require(try Self.json(log)["deliveries"] as? [[String: Any]])
                    let first = try #require(deliveries.first { $0["eventId"] as? String == events[0].header.id })
                    #expect((first["attempts"] as? [[String: Any]])?.compactMap { $0["status"] as? Int } == [500, 500, 204])
                    let perEvent = try await client.execute(
                        uri: "/v1/webhooks/events/\(events[0].header.id)/deliveries", method: .get, headers: [.authorization: admin])
                    #expect(perEvent.status == .ok)
                }
            }
        }
    }

    @Test func privateAddressesAndUnknownTypesAreRefusedAtCreation() async throws {
        try await withWebhooks(settings: WebhooksSettings()) { _, _, router, tokens in
            try await Application(router: router).test(.router) { client in
                let admin = try await tokens.bearer(role: "ADMIN")
                for (url, code) in [
                    ("https://10.0.0.8/hook", "address_not_allowed"), ("https://127.0.0.1/hook", "address_not_allowed"),
                    ("https://[::1]/hook", "address_not_allowed"), ("https://169.254.169.254/latest", "address_not_allowed"),
                    ("http://93.184.216.34/hook", "scheme_not_allowed"), ("https://u:p@93.184.216.34/", "credentials_in_url"),
                ] {
                    let refused = try await create(client, admin, url: url)
                    #expect(refused.status == .unprocessableContent, "\(url)")
                    let errors = try #require(try Self.json(refused)["errors"] as? [[String: Any]])
                    #expect(errors.contains { $0["code"] as? String == code }, "\(url): \(errors)")
                }
                let unknown = try await create(client, admin, url: "https://93.184.216.34/hook", types: ["progres.*"])
                #expect(unknown.status == .unprocessableContent)
                let learner = try await create(client, try await tokens.bearer(), url: "https://93.184.216.34/hook")
                #expect(learner.status == .forbidden)
            }
        }
    }

    @Test func anEndpointCreatedDisabledSaysSoAndEnablingAnEnabledOneChangesNothing() async throws {
        try await withWebhooks { pool, _, router, tokens in
            try await Application(router: router).test(.router) { client in
                let admin = try await tokens.bearer(role: "ADMIN")
                let body = #"{"url":"http://127.0.0.1:9/hook","eventTypes":["*"],"enabled":false}"#
                let created = try await client.execute(
                    uri: "/v1/webhooks/endpoints", method: .post, headers: [.authorization: admin], body: ByteBuffer(string: body))
                let endpoint = try #require(try Self.json(created)["endpoint"] as? [String: Any])
                #expect(endpoint["enabled"] as? Bool == false && endpoint["disabledReason"] as? String == "admin" && endpoint["disabledAt"] != nil)
                let id = try #require(endpoint["id"] as? String)
                func patch(_ json: String) async throws -> [String: Any] {
                    try Self.json(
                        try await client.execute(
                            uri: "/v1/webhooks/endpoints/\(id)", method: .patch, headers: [.authorization: admin], body: ByteBuffer(string: json)))
                }
                let enabled = try await patch(#"{"enabled":true}"#)
                #expect(enabled["enabled"] as? Bool == true && enabled["disabledReason"] == nil && enabled["disabledAt"] == nil)
                // Failing, but not yet past the threshold: enabling again does not restart its clock.
                try await pool.execute("UPDATE endpoints SET failing_since = now() - interval '1 hour'")
                let again = try await patch(#"{"enabled":true}"#)
                #expect(again["failingSince"] != nil)
            }
        }
    }

    @Test func aRotatedSecretKeepsSigningBesideTheNewOne() async throws {
        try await withWebhooks { pool, dispatcher, router, tokens in
            try await Receiver.run { port, receiver in
                try await Application(router: router).test(.router) { client in
                    let admin = try await tokens.bearer(role: "ADMIN")
                    let created = try await create(client, admin, url: "http://127.0.0.1:\(port)/hook")
                    let old = try #require(try Self.json(created)["secret"] as? String)
                    let endpoint = try #require((try Self.json(created)["endpoint"] as? [String: Any])?["id"] as? String)
                    let rotated = try await client.execute(
                        uri: "/v1/webhooks/endpoints/\(endpoint)/secret/rotate", method: .post, headers: [.authorization: admin])
                    #expect(rotated.status == .ok)
                    let new = try #require(try Self.json(rotated)["secret"] as? String)
                    #expect(new != old)
                    let previous = try #require(try Self.json(rotated)["previous"] as? [[String: Any]])
                    #expect(previous.first?["secret"] as? String == old)

                    let test = try await client.execute(uri: "/v1/webhooks/endpoints/\(endpoint)/test", method: .post, headers: [.authorization: admin])
                    #expect(test.status == .accepted)
                    try await deliver(dispatcher, until: "the test event") { await receiver.requests.count == 1 }
                    let request = try #require(await receiver.requests.first)
                    #expect(request.type == "org.syllabus.webhooks.endpoint.test.v1")
                    #expect(Receiver.verifies(request, secret: old) && Receiver.verifies(request, secret: new))
                    #expect(request.headers["webhook-signature"]?.split(separator: " ").count == 2)

                    // Once the overlap is over, only the new secret signs.
                    try await pool.execute("UPDATE endpoint_secrets SET expires_at = now() WHERE expires_at IS NOT NULL")
                    _ = try await client.execute(uri: "/v1/webhooks/endpoints/\(endpoint)/test", method: .post, headers: [.authorization: admin])
                    try await deliver(dispatcher, until: "the second test event") { await receiver.requests.count == 2 }
                    let later = try #require(await receiver.requests.last)
                    #expect(Receiver.verifies(later, secret: new) && !Receiver.verifies(later, secret: old))
                }
            }
        }
    }

    @Test func anEndpointFailingPastTheThresholdIsDisabledAnnouncedAndGetsWhatItMissedOnceEnabled() async throws {
        let settings = WebhooksSettings(
            retrySchedule: [0, 0], disableAfter: 1, policy: DestinationPolicy(allowHTTP: true, allowed: [.loopback]), timeout: 5)
        try await withWebhooks(settings: settings) { pool, dispatcher, router, tokens in
            try await Receiver.run(script: Array(repeating: 503, count: 50)) { port, receiver in
                try await Application(router: router).test(.router) { client in
                    let admin = try await tokens.bearer(role: "ADMIN")
                    let created = try await create(client, admin, url: "http://127.0.0.1:\(port)/hook")
                    let endpoint = try #require((try Self.json(created)["endpoint"] as? [String: Any])?["id"] as? String)
                    let lesson = UUID().lowercased
                    let user = UUID().lowercased
                    let first = Self.event(1, lesson: lesson, user: user)
                    try await pool.transaction { try EndpointStore.record(first, on: $0) }
                    try await deliver(dispatcher, until: "the first event to fail for good") {
                        try await pool.query("SELECT 1 FROM deliveries WHERE status = 'FAILED'").count == 1
                    }
                    // Failing for longer than the threshold: the next failure disables it.
                    try await pool.execute("UPDATE endpoints SET failing_since = now() - interval '1 minute'")
                    let second = Self.event(2, lesson: lesson, user: user)
                    try await pool.transaction { try EndpointStore.record(second, on: $0) }
                    try await deliver(dispatcher, until: "the endpoint to be disabled") {
                        try await pool.query("SELECT 1 FROM endpoints WHERE NOT enabled AND disabled_reason = 'failing'").count == 1
                    }
                    let announced = try await pool.query("SELECT body FROM outbox WHERE routing_key = 'webhooks.endpoint.disabled.v1'")
                    #expect(announced.count == 1)
                    let body = try #require(announced.first).decode("body", as: String.self)
                    #expect(body.contains(endpoint) && body.contains("http://127.0.0.1:\(port)") && !body.contains("/hook"))

                    // Disabled: a new event waits.
                    let third = Self.event(3, lesson: lesson, user: user)
                    try await pool.transaction { try EndpointStore.record(third, on: $0) }
                    let before = await receiver.requests.count
                    _ = try await dispatcher.step()
                    #expect(await receiver.requests.count == before)

                    await receiver.setScript([])
                    let enabled = try await client.execute(
                        uri: "/v1/webhooks/endpoints/\(endpoint)", method: .patch, headers: [.authorization: admin, .contentType: "application/json"],
                        body: ByteBuffer(string: #"{"enabled": true}"#))
                    #expect(enabled.status == .ok)
                    try await deliver(dispatcher, until: "what it missed") {
                        try await pool.query("SELECT 1 FROM deliveries WHERE status = 'SUCCEEDED'").count == 2
                    }
                    let delivered = await receiver.requests.suffix(2).map(\.id)
                    #expect(delivered == [second.header.id, third.header.id])
                }
            }
        }
    }
}

/// Delivered events go after the retention with their deliveries; one still waiting for an
/// endpoint stays, whatever its age.
@Suite struct WebhookRetentionTests {
    @Test func deliveredEventsPastTheRetentionGoAndWaitingOnesStay() async throws {
        try await withMigratedSchema(WebhooksMigrations.all) { pool, _ in
            let now = Date()
            let endpoint = UUID()
            try await pool.execute("INSERT INTO endpoints (id, url, event_types) VALUES (\(endpoint), 'https://hooks.example.com/in', '[\"*\"]')")
            for (id, age, status) in [("old-delivered", 40.0, "SUCCEEDED"), ("old-waiting", 40.0, "PENDING"), ("recent", 5.0, "SUCCEEDED")] {
                let received = now.addingTimeInterval(-age * 86_400)
                try await pool.execute(
                    """
                    INSERT INTO events (id, routing_key, aggregate, occurred_at, body, received_at)
                    VALUES (\(id), 'identity.user.registered.v1', 'someone', \(received), '{}', \(received))
                    """)
                try await pool.execute("INSERT INTO deliveries (endpoint_id, event_id, aggregate, status) VALUES (\(endpoint), \(id), 'someone', \(status))")
            }
            #expect(try await EndpointStore(database: pool).sweep(olderThan: now.addingTimeInterval(-30 * 86_400)) == 1)
            let events = try await pool.query("SELECT id FROM events ORDER BY id").map { try $0.decode("id", as: String.self) }
            #expect(events == ["old-waiting", "recent"])
            #expect(try await pool.query("SELECT 1 FROM deliveries WHERE event_id = 'old-delivered'").isEmpty)
        }
    }
}
