import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// A role change or a deletion takes effect on the next request everywhere, not when the access
/// token expires.
extension EndToEndTests {
    struct AccessRevocationJourneyTests {}
}

extension EndToEndTests.AccessRevocationJourneyTests {
    @Test func aDemotedOrDeletedUsersTokenIsRefusedByEveryService() async throws {
        let processes = try ServiceProcesses(portBase: 10420)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start()
        try await runJourney {
            try await processes.waitUntilReady(api)
            let identity = { (path: String) in processes.url("identity", path) }
            let unique = UUID().uuidString.prefix(8).lowercased()
            let adminEmail = "root.\(unique)@example.com"
            #expect(try await processes.syllabus(["admin", "create", "--email", adminEmail, "--password", "root password 1"]).status == 0)
            let adminToken = try #require(
                try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(adminEmail)","password":"root password 1"}"#)
                    .body["accessToken"] as? String)
            let email = "deputy.\(unique)@example.com"
            let registered = try await api.send(.POST, identity("/v1/auth/register"), json: #"{"email":"\#(email)","password":"deputy password","name":"Deputy"}"#)
            let userID = try #require((registered.body["user"] as? [String: Any])?["id"] as? String)
            #expect(try await api.send(.PUT, identity("/v1/identity/admin/users/\(userID)/role"), json: #"{"role":"ADMIN"}"#, token: adminToken).status == 200)
            func login() async throws -> String {
                try #require(
                    try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"deputy password"}"#)
                        .body["accessToken"] as? String)
            }
            // One route of every service that needs a token (admin-only where the service has one).
            let routes = [
                ("identity", "/v1/me"), ("billing", "/v1/billing/admin/metrics"), ("content", "/v1/course"),
                ("progress", "/v1/progress"), ("notifications", "/v1/notifications/admin/emails?userId=\(userID)"),
                ("analytics", "/v1/analytics/admin/counts"),
            ]
            func statuses(_ token: String) async throws -> [String: Int] {
                var answers: [String: Int] = [:]
                for (service, path) in routes { answers[service] = try await api.send(.GET, processes.url(service, path), token: token).status }
                return answers
            }

            // An admin's token works everywhere (every service has learned the promotion by now,
            // so this token is newer than anything they hold).
            var deputy = ""
            try await eventually("the promoted deputy's token to be an admin's everywhere") {
                deputy = try await login()
                return try await statuses(deputy).values.allSatisfy { $0 == 200 }
            }
            // Demoted: the token that says ADMIN is refused by every service on the next request.
            #expect(try await api.send(.PUT, identity("/v1/identity/admin/users/\(userID)/role"), json: #"{"role":"USER"}"#, token: adminToken).status == 200)
            #expect(try await api.send(.GET, identity("/v1/me"), token: deputy).status == 401, "identity refuses it at once")
            try await eventually("every service to refuse the demoted admin's token") {
                try await statuses(deputy).values.allSatisfy { $0 == 401 }
            }
            // A fresh token carries the new role: accepted, and admin routes are forbidden.
            let demoted = try await login()
            let now = try await statuses(demoted)
            #expect(now["identity"] == 200 && now["content"] == 200 && now["progress"] == 200, "\(now)")
            #expect(now["billing"] == 403 && now["notifications"] == 403 && now["analytics"] == 403, "\(now)")

            // Deleted: the last token is refused everywhere too.
            #expect(try await api.send(.DELETE, identity("/v1/me"), token: demoted).status == 204)
            try await eventually("every service to refuse a deleted user's token") {
                try await statuses(demoted).values.allSatisfy { $0 == 401 }
            }
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }
}
