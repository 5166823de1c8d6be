import AsyncHTTPClient
import Contracts
import Foundation
import MessageBus
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// The whole system as processes. One suite, serialized: its tests share the test stack's queues
/// and schemas, so two sets of services at once would take each other's work.
@Suite(.serialized) struct EndToEndTests {}

/// Register over HTTP, then see the event on the bus and the welcome mail on disk.
extension EndToEndTests {
    struct WalkingSkeletonTests {}
}

extension EndToEndTests.WalkingSkeletonTests {
    func request(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, json: String? = nil) async throws -> (status: Int, body: [String: Any], contentType: String?) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let body = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), body, response.headers.first(name: "content-type"))
    }

    @Test func registeringSendsTheEventAndTheWelcomeMail() async throws {
        let processes = try ServiceProcesses(portBase: 9280)
        // Anyone's queue on identity's exchange: this is how an outside system subscribes.
        let admin = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        let queue = "e2e.subscriber.\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.declareQueue(queue, durable: false)
        try await admin.bind(queue: queue, exchange: "identity.events", routingKey: "identity.user.registered.v1")
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        try processes.start()
        do {
            try await processes.waitUntilReady(JSONClient(client: client))

            let email = "ada.\(UUID().uuidString.prefix(6).lowercased())@example.com"
            let registered = try await request(
                client, .POST, processes.url("identity", "/v1/auth/register"),
                json: #"{"email": "\#(email)", "password": "correct horse battery", "name": "Ada Lovelace"}"#)
            let answeredAt = Date()
            #expect(registered.status == 201)
            let user = try #require(registered.body["user"] as? [String: Any])
            let userID = try #require(user["id"] as? String)
            #expect(user["email"] as? String == email)
            #expect(user["emailVerified"] as? Bool == false)
            #expect((registered.body["accessToken"] as? String)?.split(separator: ".").count == 3)
            #expect((registered.body["refreshToken"] as? String)?.isEmpty == false)
            #expect(registered.body["expiresIn"] as? Int == 900)

            // The welcome mail is on disk within two seconds of the answer.
            var mail = ""
            try await eventually(timeout: .seconds(2), "the welcome mail") {
                let files = try FileManager.default.contentsOfDirectory(atPath: processes.mailDirectory.path).filter { $0.hasSuffix(".eml") }
                for file in files {
                    let text = try String(contentsOf: processes.mailDirectory.appendingPathComponent(file), encoding: .utf8)
                    if text.contains("To: \"Ada Lovelace\" <\(email)>"), text.contains("Subject: Welcome") { mail = text; return true }
                }
                return false
            }
            #expect(Date().timeIntervalSince(answeredAt) < 2)
            #expect(mail.contains("Subject: Welcome to Syllabus, Ada Lovelace"))
            #expect(mail.contains("Content-Type: multipart/alternative"))

            // The subscriber's queue got the event as CloudEvents JSON valid against its schema.
            var bodies: [IncomingMessage] = []
            try await eventually("the event in the subscriber's queue") {
                bodies += try await admin.drain(queue: queue, limit: 10)
                return bodies.contains { String(decoding: $0.body, as: UTF8.self).contains(userID) }
            }
            let delivery = try #require(bodies.first { String(decoding: $0.body, as: UTF8.self).contains(userID) })
            #expect(delivery.properties.contentType == "application/cloudevents+json")
            #expect(delivery.properties.type == "org.syllabus.identity.user.registered.v1")
            #expect(delivery.properties.appID == "identity")
            #expect(delivery.properties.persistent)
            let validation = try validateEvents([delivery.body])
            #expect(validation.valid, "\(validation.output)")
            let event = try EventCoding.decode(CloudEvent<IdentityUserRegisteredV1>.self, from: delivery.body)
            #expect(event.data.userId == userID)
            #expect(event.data.email == email)
            #expect(delivery.properties.messageID == event.id)

            // The same address again, in another case: 409, nothing written, no second mail.
            let duplicate = try await request(
                client, .POST, processes.url("identity", "/v1/auth/register"),
                json: #"{"email": "\#(email.uppercased())", "password": "another password", "name": "Ada"}"#)
            #expect(duplicate.status == 409)
            #expect(duplicate.body["code"] as? String == "email_taken")
            #expect(duplicate.contentType == "application/problem+json")

            let invalid = try await request(
                client, .POST, processes.url("identity", "/v1/auth/register"), json: #"{"email": "nope", "password": "x"}"#)
            #expect(invalid.status == 422)
            #expect(invalid.body["code"] as? String == "validation_failed")
            let fields = (invalid.body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
            #expect(Set(fields ?? []) == ["email", "password", "name"])

            let malformed = try await request(client, .POST, processes.url("identity", "/v1/auth/register"), json: "{\"email\": ")
            #expect(malformed.status == 400)
            #expect(malformed.body["code"] as? String == "malformed_request")

            // Every service serves its contract and its metrics.
            for service in ServiceProcesses.services {
                let openapi = try await client.execute(HTTPClientRequest(url: processes.url(service, "/openapi.yaml")), timeout: .seconds(10))
                #expect(openapi.status == .ok)
                let metrics = try await client.execute(HTTPClientRequest(url: processes.url(service, "/metrics")), timeout: .seconds(10))
                #expect(metrics.status == .ok)
            }
            let welcomes = try FileManager.default.contentsOfDirectory(atPath: processes.mailDirectory.path).filter { $0.hasSuffix(".eml") }
                .compactMap { try? String(contentsOf: processes.mailDirectory.appendingPathComponent($0), encoding: .utf8) }
                // Only this test's recipient: the queues are shared, so a registration of another
                // suite can still be mailed by this suite's notifications.
                .filter { $0.contains("Subject: Welcome") && $0.contains("<\(email)>") }
            #expect(welcomes.count == 1, "one welcome mail to \(email), not two")
            #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
        } catch {
            for service in ServiceProcesses.services {
                print("--- \(service) log ---\n\(processes.log(service).suffix(3000))")
            }
            processes.stop()
            try await client.shutdown()
            try? await admin.deleteQueue(queue)
            throw error
        }
        processes.stop()
        try await client.shutdown()
        try await admin.deleteQueue(queue)
    }
}
