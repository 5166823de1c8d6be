import AsyncHTTPClient
import Database
import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// Identity on a Postgres server of its own while the other services share the test stack's: only
/// its two database URLs change, and the journey works as before.
extension EndToEndTests {
    struct OwnDatabaseServerJourneyTests {}
}

extension EndToEndTests.OwnDatabaseServerJourneyTests {
    @Test func identityOnASecondServerAndTheJourneyStillWorks() async throws {
        let second = StackProfile.second
        let processes = try ServiceProcesses(portBase: 10500)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start([
            "IDENTITY_DATABASE_URL": try second.value("IDENTITY_DATABASE_URL"),
            "IDENTITY_MIGRATION_DATABASE_URL": try second.value("IDENTITY_MIGRATION_DATABASE_URL"),
        ])
        try await runJourney {
            try await processes.waitUntilReady(api)
            let email = "solo.\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let registered = try await processes.register(email, name: "Solo", api: api)
            #expect(registered.status == 201)
            #expect((registered.body["user"] as? [String: Any])?["email"] as? String == email)

            // Notifications, on the first server, got identity's event over the bus and mailed.
            try await processes.awaitWelcome(email, timeout: .seconds(10))
            let login = try await api.send(
                .POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(email)","password":"correct horse battery"}"#)
            #expect(login.status == 200)
            let token = try #require(login.body["accessToken"] as? String)
            let me = try await api.send(.GET, processes.url("identity", "/v1/me"), token: token)
            #expect(me.status == 200)
            #expect(me.body["email"] as? String == email)
            // The other services take identity's token and know the learner from its events.
            #expect(try await api.send(.GET, processes.url("content", "/v1/course"), token: token).status == 200)
            #expect(try await api.send(.GET, processes.url("progress", "/v1/progress"), token: token).status == 200)

            // The account lives on the second server only. (On the first, identity's tables exist
            // only if another journey ran identity there.)
            func accounts(on url: String) async throws -> Int {
                let pool = DatabasePool(url: url, size: 1, name: "own-server-test", logger: TestEnvironment.logger)
                defer { pool.shutdown() }
                let table = try #require(try await pool.query("SELECT to_regclass('identity.users') IS NOT NULL AS present").first)
                guard try table.decode("present", as: Bool.self) else { return 0 }
                let row = try #require(try await pool.query("SELECT count(*) AS n FROM identity.users WHERE email = \(email)").first)
                return try row.decode("n", as: Int.self)
            }
            #expect(try await accounts(on: try second.value("ADMIN_DATABASE_URL")) == 1)
            #expect(try await accounts(on: try TestEnvironment.value("ADMIN_DATABASE_URL")) == 0)
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }
}
