import AsyncHTTPClient
import Contracts
import Database
import Foundation
import MessageBus
import NIOHTTP1
import Testing
import TestSupport

/// What an outside subscriber, an operator and each process can see: no usable link on the public
/// bus, no other service's credentials in a process, no placeholder secret accepted, no
/// first-come admin.
extension EndToEndTests {
    struct BusTrustJourneyTests {}
}

extension EndToEndTests.BusTrustJourneyTests {
    @Test func linksTravelOnlyToNotificationsAndEachProcessHoldsOnlyItsOwnSecrets() async throws {
        let processes = try ServiceProcesses(portBase: 10380)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        // An outside subscriber, bound to every public exchange before anything happens.
        let subscriberURL = try TestEnvironment.value("SUBSCRIBER_AMQP_URL")
        let subscriber = try AMQPAdmin(url: subscriberURL)
        let spy = "subscriber.trust.\(UUID().uuidString.prefix(8).lowercased())"
        try await subscriber.declareQueue(spy, durable: false)
        for service in ServiceName.allCases { try await subscriber.bind(queue: spy, exchange: service.exchange, routingKey: "#") }
        try processes.start()
        try await runJourney {
            try await processes.waitUntilReady(api)
            try await Self.eachProcessHoldsOnlyItsOwnSecrets(processes)

            let identity = { (path: String) in processes.url("identity", path) }
            let unique = UUID().uuidString.prefix(8).lowercased()
            let email = "hedy.\(unique)@example.com"
            let registered = try await api.send(
                .POST, identity("/v1/auth/register"), json: #"{"email":"\#(email)","password":"frequency hopping","name":"Hedy"}"#)
            #expect(registered.status == 201)
            let userID = try #require((registered.body["user"] as? [String: Any])?["id"] as? String)
            var verifyMail = ""
            try await eventually("the verification mail") {
                verifyMail = try mails(in: processes.mailDirectory).first { $0.contains(email) && $0.contains("Subject: Confirm your email address") } ?? ""
                return !verifyMail.isEmpty
            }
            let verifyLink = try #require(link(in: verifyMail, startingWith: identity("/v1/auth/verify-email?token=")))
            #expect(try await api.send(.POST, identity("/v1/auth/password-reset"), json: #"{"email":"\#(email)"}"#).status == 202)
            var resetMail = ""
            try await eventually("the reset mail") {
                resetMail = try mails(in: processes.mailDirectory).first { $0.contains(email) && $0.contains("Subject: Reset your Syllabus password") } ?? ""
                return !resetMail.isEmpty
            }
            let resetLink = try #require(link(in: resetMail, startingWith: identity("/v1/auth/password-reset/confirm?token=")))
            let tokens = [verifyLink, resetLink].map { String($0.split(separator: "=").last!) }
            #expect(tokens.allSatisfy { $0.count >= 20 })
            // The mailed links work.
            #expect(try await api.send(.GET, resetLink).status == 200)
            #expect(try await api.send(.GET, verifyLink).body["emailVerified"] as? Bool == true)

            // A marker published after both links were mailed: whatever the subscriber and the
            // archive got of this journey came before it.
            let marker = "trust-marker-\(unique)"
            let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "trust", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            _ = try await publisher.publish(OutgoingMessage(
                exchange: "identity.events", routingKey: "identity.trust.marker.v1", body: Array(marker.utf8), properties: AMQPProperties(messageID: marker)))

            var seen: [IncomingMessage] = []
            try await eventually("the subscriber's queue up to the marker") {
                seen += try await subscriber.drain(queue: spy, limit: 1000)
                return seen.contains { $0.properties.messageID == marker }
            }
            try await subscriber.deleteQueue(spy)
            let archived = try await Self.archive(upTo: marker, as: subscriberURL)
            for (place, messages) in [("the subscriber's queue", seen), ("events.archive", archived)] {
                let mine = messages.filter { String(decoding: $0.body, as: UTF8.self).contains(userID) }
                let keys = Set(mine.map(\.routingKey))
                #expect(keys.isSuperset(of: ["identity.email.verification_requested.v2", "identity.password.reset_requested.v2"]), "\(place): \(keys)")
                #expect(keys.isDisjoint(with: ["identity.email.verification_link.v1", "identity.password.reset_link.v1"]), "\(place): \(keys)")
                for message in messages {
                    let text = String(decoding: message.body, as: UTF8.self)
                    for token in tokens { #expect(!text.contains(token), "\(place) holds a live token in \(message.routingKey)") }
                }
            }

            #expect(processes.logsContaining(tokens).isEmpty, "no log line holds a live reset or verification token")

            // Neither identity's outbox nor notifications' queue of sent mail keeps a link.
            let database = DatabasePool(url: try TestEnvironment.value("ADMIN_DATABASE_URL"), size: 1, logger: TestEnvironment.logger)
            defer { database.shutdown() }
            try await eventually("identity's outbox and notifications' sent mail to forget the links") {
                var holding = 0
                for token in tokens {
                    let row = try await database.query(
                        """
                        SELECT (SELECT count(*) FROM identity.outbox WHERE strpos(body, \(token)) > 0)
                             + (SELECT count(*) FROM notifications.email_queue WHERE strpos(data::text, \(token)) > 0) AS n
                        """
                    ).first
                    holding += try row?.decode("n", as: Int.self) ?? 0
                }
                return holding == 0
            }
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }

    /// No service's environment holds the superuser's or the broker admin's URL, the subscriber's,
    /// or any other service's credentials; only identity holds the signing key.
    static func eachProcessHoldsOnlyItsOwnSecrets(_ processes: ServiceProcesses) async throws {
        let stack = try TestEnvironment.values()
        func secrets(of service: String) -> [String] {
            let prefix = service.uppercased()
            return ["\(prefix)_DATABASE_URL", "\(prefix)_MIGRATION_DATABASE_URL", "\(prefix)_AMQP_URL"].compactMap { stack[$0] }
                .compactMap { URLComponents(string: $0)?.password }
        }
        let everyone = ["ADMIN_DATABASE_URL", "ADMIN_AMQP_URL", "SUBSCRIBER_AMQP_URL"].compactMap { stack[$0] }
            .compactMap { URLComponents(string: $0)?.password }
        #expect(everyone.count == 3)
        let signingKey = try #require(stack["IDENTITY_JWT_SIGNING_KEY_FILE"])
        for service in ServiceProcesses.services {
            let pid = try #require(processes.pid(service))
            let environ = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ")), as: UTF8.self)
            #expect(!environ.isEmpty)
            #expect(secrets(of: service).allSatisfy { environ.contains($0) }, "\(service) has its own credentials")
            for password in everyone { #expect(!environ.contains(password), "\(service) holds an administrator's or the subscriber's password") }
            for other in ServiceProcesses.services where other != service {
                for password in secrets(of: other) { #expect(!environ.contains(password), "\(service) holds \(other)'s credentials") }
            }
            #expect(environ.contains(signingKey) == (service == "identity"), "\(service) and the signing key")
            #expect(!environ.contains("ADMIN_"), "\(service) sees an administrator's setting")
        }
    }

    /// events.archive from its first entry up to the marker, read as the subscriber.
    static func archive(upTo marker: String, as url: String) async throws -> [IncomingMessage] {
        let consumer = try AMQPConsumer(
            url: url, queue: "events.archive", prefetch: 500, name: "trust-archive", arguments: ["x-stream-offset": .string("first")],
            logger: TestEnvironment.logger)
        defer { consumer.stop() }
        var messages: [IncomingMessage] = []
        let deadline = Date().addingTimeInterval(60)
        for await message in consumer.deliveries {
            consumer.ack(message)
            messages.append(message)
            if message.properties.messageID == marker || Date() > deadline { break }
        }
        #expect(messages.last?.properties.messageID == marker, "the archive was read up to the marker")
        return messages
    }

    @Test func aPlaceholderOrMissingSecretStopsAServiceNamingIt() async throws {
        let processes = try ServiceProcesses(portBase: 10390)
        let binary = try TestEnvironment.binaryDirectory().appendingPathComponent("billing").path
        let cases: [(String, [String: String], String)] = [
            ("the example's webhook secret", ["BILLING_STRIPE_WEBHOOK_SECRET": "whsec_dev_change_me"], "BILLING_STRIPE_WEBHOOK_SECRET"),
            ("a short webhook secret", ["BILLING_STRIPE_WEBHOOK_SECRET": "whsec_123"], "BILLING_STRIPE_WEBHOOK_SECRET"),
            ("no webhook secret", ["BILLING_STRIPE_WEBHOOK_SECRET": ""], "BILLING_STRIPE_WEBHOOK_SECRET"),
            ("a placeholder API key", ["BILLING_STRIPE_SECRET_KEY": "sk_test_change_me"], "BILLING_STRIPE_SECRET_KEY"),
        ]
        for (what, change, variable) in cases {
            let environment = try processes.environment(of: "billing", change)
            let result = try await blocking { try run(binary, [], environment: environment, timeout: 30) }
            #expect(result.status == 78, "\(what): \(result.output)")
            #expect(result.output.contains(variable), "\(what): \(result.output)")
        }
        // A database password from the examples, in the URL.
        var environment = try processes.environment(of: "billing")
        let url = try #require(environment["BILLING_DATABASE_URL"])
        var components = try #require(URLComponents(string: url))
        components.password = "dev-billing-db-change-me"
        environment["BILLING_DATABASE_URL"] = components.string
        let settings = environment
        let result = try await blocking { try run(binary, [], environment: settings, timeout: 30) }
        #expect(result.status == 78, "\(result.output)")
        #expect(result.output.contains("BILLING_DATABASE_URL"), "\(result.output)")
    }

    @Test func theFirstAdminCannotBeAnUnverifiedAccountSomeoneElseRegistered() async throws {
        let processes = try ServiceProcesses(portBase: 10400)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start()
        try await runJourney {
            try await processes.waitUntilReady(api, services: ["identity"])
            let identity = { (path: String) in processes.url("identity", path) }
            let email = "owner.\(UUID().uuidString.prefix(8).lowercased())@example.com"
            // Someone registers the operator's address first, and never verifies it.
            let squatter = try await api.send(
                .POST, identity("/v1/auth/register"), json: #"{"email":"\#(email)","password":"squatter password","name":"Squatter"}"#)
            #expect(squatter.status == 201)
            let squatterRefresh = try #require(squatter.body["refreshToken"] as? String)

            let refused = try await processes.syllabus(["admin", "create", "--email", email, "--password", "operator password"])
            #expect(refused.status != 0, "\(refused.output)")
            #expect(refused.output.contains("never verified"), "\(refused.output)")
            #expect(try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"operator password"}"#).status == 401)

            let forced = try await processes.syllabus(["admin", "create", "--email", email, "--password", "operator password", "--force"])
            #expect(forced.status == 0, "\(forced.output)")
            let login = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"operator password"}"#)
            #expect(login.status == 200, "the password given is the one that works")
            #expect((login.body["user"] as? [String: Any])?["role"] as? String == "ADMIN")
            #expect(try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"squatter password"}"#).status == 401)
            #expect(try await api.send(.POST, identity("/v1/auth/refresh"), json: #"{"refreshToken":"\#(squatterRefresh)"}"#).status == 401, "the squatter's session ended")
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }
}
