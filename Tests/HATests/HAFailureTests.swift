import AsyncHTTPClient
import Foundation
import MessageBus
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// Failures of the HA stack (`scripts/ha.sh up`), one after another, each during a burst of
/// registrations through the gateway, each ending with its counts printed and asserted: every
/// registration answered 201 has its account and exactly one welcome mail, and nothing is
/// applied twice. The stack is whole again after each test.
@Suite(.serialized) struct HAFailureTests {
    /// The README's journey, through the gateway: register, the welcome mail, sign in, and read
    /// the course, the learner's progress and their account — each request on either replica.
    @Test func theJourneyWorksThroughTheGateway() async throws {
        let gateway = try ha.value("GATEWAY_URL")
        let run = "ha\(UUID().uuidString.prefix(8).lowercased())"
        let email = "\(run)-journey@example.com"
        func send(_ method: HTTPMethod, _ path: String, json: String? = nil, token: String? = nil) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(url: gateway + path)
            request.method = method
            if let json {
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: json))
            }
            if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:])
        }
        let (registered, _) = try await send(.POST, "/v1/auth/register", json: #"{"email":"\#(email)","password":"correct horse battery","name":"Journey"}"#)
        #expect(registered == 201)
        try await eventually(timeout: .seconds(20), "the welcome mail") { try welcomeMails(run: run)[email] == 1 }
        let (signedIn, login) = try await send(.POST, "/v1/auth/login", json: #"{"email":"\#(email)","password":"correct horse battery"}"#)
        #expect(signedIn == 200)
        let token = try #require(login["accessToken"] as? String)
        let (meStatus, me) = try await send(.GET, "/v1/me", token: token)
        #expect(meStatus == 200 && me["email"] as? String == email)
        let (courseStatus, course) = try await send(.GET, "/v1/course", token: token)
        #expect(courseStatus == 200 && (course["modules"] as? [Any])?.isEmpty == false, "the demo course is served")
        #expect(try await send(.GET, "/v1/progress", token: token).0 == 200)
        #expect(try await send(.GET, "/.well-known/jwks.json").0 == 200)
    }

    @Test func brokerNodeLeadingTheMailQueueKilledDuringRegistrations() async throws {
        let leader = try await leaderNode(of: "notifications")
        try await restoring {
            try await haScript("start-broker", "\(leader)")
            try await eventually(timeout: .seconds(120), interval: .milliseconds(500), "every quorum queue on three nodes again") {
                try await everyQueueFullyReplicated()
            }
        } after: {
            let burst = RegistrationBurst()
            let outcomes = try await burst {
                try await haScript("kill-broker", "\(leader)")
            }
            try await checkBurst("kill -9 of broker node \(leader), leader of notifications", burst, outcomes)
        }
    }

    @Test func brokerNodeDownForTwentySecondsAndBack() async throws {
        // Node 2: the queues' leaders are on node 1 unless an earlier failure moved them.
        try await restoring {
            try await haScript("start-broker", "2")
            let back = ContinuousClock.now
            try await eventually(timeout: .seconds(120), interval: .milliseconds(250), "node 2 back as a member of every quorum queue") {
                try await everyQueueFullyReplicated()
            }
            print("broker node 2: a member of every quorum queue again \(ContinuousClock.now - back) after its start")
        } after: {
            let burst = RegistrationBurst()
            let outcomes = try await burst {
                try await haScript("stop-broker", "2")
                try await Task.sleep(for: .seconds(20))
            }
            // Registrations answered while the node was down were mailed too: the queues stayed available.
            try await checkBurst("broker node 2 down for 20 s", burst, outcomes)
        }
    }

    /// RabbitMQ 3.10 can leave a channel that first publishes to a quorum queue while the queue
    /// elects a new leader refusing (nacking) everything it routes there for good, while a fresh
    /// channel is served within seconds. The publisher therefore starts the batch after a refusal
    /// on a new connection: here a publish to a queue whose leader's node was just killed is
    /// refused, and one a little later is confirmed.
    @Test func aPublisherRefusedDuringAFailoverIsConfirmedOnAFreshChannel() async throws {
        let nodes = try ha.value("ADMIN_AMQP_URL").split(separator: ",").map(String.init)
        let queue = "ha.failover.\(UUID().uuidString.prefix(8).lowercased())"
        // Declared through node 3, which therefore leads it.
        try await AMQPAdmin(url: nodes[2]).declareQueue(queue, arguments: ["x-queue-type": .string("quorum")])
        let admin = try AMQPAdmin(url: nodes[0] + "," + nodes[1])
        try await restoring {
            try? await admin.deleteQueue(queue)
            try await haScript("start-broker", "3")
            try await eventually(timeout: .seconds(120), interval: .milliseconds(500), "every quorum queue on three nodes again") {
                try await everyQueueFullyReplicated()
            }
        } after: {
            try await haScript("kill-broker", "3")
            let publisher = try AMQPPublisher(url: nodes[1], name: "ha-failover", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            var outcomes: [String] = []
            try await eventually(timeout: .seconds(60), interval: .milliseconds(500), "a publish to \(queue) confirmed after its leader's node died") {
                let message = OutgoingMessage(
                    exchange: "", routingKey: queue, body: Array("\(outcomes.count)".utf8), properties: AMQPProperties(messageID: "\(outcomes.count)"))
                let outcome = try await publisher.publish(message)
                outcomes.append("\(outcome)")
                return outcome == .confirmed
            }
            print("publishes to \(queue) after its leader's node was killed: \(outcomes.joined(separator: ", "))")
        }
    }

    @Test func patroniSwitchoverThenFailoverDuringRegistrations() async throws {
        let first = try await haScript("primary")
        try await restoring {
            for node in ["1", "2"] { try await haScript("start-postgres", node) }
        } after: {
            try await switchoverThenFailover(from: first)
        }
    }

    private func switchoverThenFailover(from first: String) async throws {
        let switchover = RegistrationBurst()
        let switched = try await switchover {
            try await haScript("switchover")
        }
        try await checkBurst("Patroni switchover from \(first)", switchover, switched)
        let primary = try await haScript("primary")
        #expect(primary != first, "the switchover moved the primary")

        let failover = RegistrationBurst()
        let failed = try await failover {
            try await haScript("kill-postgres", String(primary.dropFirst(2)))
            try await eventually(timeout: .seconds(90), interval: .milliseconds(250), "the replica promoted") {
                (try? await haScript("primary")) == first
            }
        }
        try await checkBurst("kill -9 of the primary \(primary) (failover)", failover, failed)
    }

    @Test func oneReplicaOfEachServiceKilledInTurnDuringRegistrations() async throws {
        let services = ["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"]
        try await restoring {
            for service in services {
                try await haScript("start-service", service, "1")
            }
        } after: {
            let burst = RegistrationBurst()
            let outcomes = try await burst {
                for service in services {
                    try await haScript("kill-service", service, "1")
                    try await Task.sleep(for: .seconds(1))
                }
            }
            try await checkBurst("kill -9 of replica 1 of each service in turn", burst, outcomes)
        }
    }
}

/// Runs a test's `body`, then `restore` whether the body passed or not, so that the next test
/// starts on a whole stack and a failure is reported once, by the test that met it.
func restoring(_ restore: () async throws -> Void, after body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        do { try await restore() } catch { print("restoring the stack after a failure: \(error)") }
        throw error
    }
    try await restore()
}
