import AsyncHTTPClient
import Foundation
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
        let burst = RegistrationBurst()
        let outcomes = try await burst {
            try await haScript("kill-broker", "\(leader)")
        }
        try await checkBurst("kill -9 of broker node \(leader), leader of notifications", burst, outcomes)
        try await haScript("start-broker", "\(leader)")
        try await eventually(timeout: .seconds(120), interval: .milliseconds(500), "every quorum queue on three nodes again") {
            try await everyQueueFullyReplicated()
        }
    }

    @Test func brokerNodeDownForTwentySecondsAndBack() async throws {
        // Node 2: the queues' leaders are on node 1 unless an earlier failure moved them.
        let burst = RegistrationBurst()
        let outcomes = try await burst {
            try await haScript("stop-broker", "2")
            try await Task.sleep(for: .seconds(20))
        }
        // Registrations answered while the node was down were mailed too: the queues stayed available.
        try await checkBurst("broker node 2 down for 20 s", burst, outcomes)
        try await haScript("start-broker", "2")
        let back = ContinuousClock.now
        try await eventually(timeout: .seconds(120), interval: .milliseconds(250), "node 2 back as a member of every quorum queue") {
            try await everyQueueFullyReplicated()
        }
        print("broker node 2: a member of every quorum queue again \(ContinuousClock.now - back) after its start")
    }

    @Test func patroniSwitchoverThenFailoverDuringRegistrations() async throws {
        let first = try await haScript("primary")
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
        try await haScript("start-postgres", String(primary.dropFirst(2)))
    }

    @Test func oneReplicaOfEachServiceKilledInTurnDuringRegistrations() async throws {
        let services = ["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"]
        let burst = RegistrationBurst()
        let outcomes = try await burst {
            for service in services {
                try await haScript("kill-service", service, "1")
                try await Task.sleep(for: .seconds(1))
            }
        }
        try await checkBurst("kill -9 of replica 1 of each service in turn", burst, outcomes)
        for service in services {
            try await haScript("start-service", service, "1")
        }
    }
}
