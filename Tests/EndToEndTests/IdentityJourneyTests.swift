import AsyncHTTPClient
import Contracts
import Foundation
import MessageBus
import NIOHTTP1
import Testing
import TestSupport

/// Identity's flows as a client and an operator live them, against the five executables.
extension EndToEndTests {
    struct IdentityJourneyTests {}
}

extension EndToEndTests.IdentityJourneyTests {
    @Test func accountsSessionsLinksAdminAndDeletion() async throws {
        let processes = try ServiceProcesses(portBase: 9480)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start()
        do {
            try await processes.waitUntilReady(api)
            let identity = { (path: String) in processes.url("identity", path) }
            let unique = UUID().uuidString.prefix(8).lowercased()
            let email = "grace.\(unique)@example.com"
            let password = "first password 1"

            // Sign-up: the verification link comes by mail.
            let registered = try await api.send(.POST, identity("/v1/auth/register"), json: #"{"email":"\#(email)","password":"\#(password)","name":"Grace"}"#)
            #expect(registered.status == 201)
            let userID = try #require((registered.body["user"] as? [String: Any])?["id"] as? String)
            var verifyMail = ""
            try await eventually("the verification mail") {
                verifyMail = try mails(in: processes.mailDirectory).first { $0.contains(email) && $0.contains("Subject: Confirm your email address") } ?? ""
                return !verifyMail.isEmpty
            }
            let verifyLink = try #require(link(in: verifyMail, startingWith: identity("/v1/auth/verify-email?token=")))
            let verified = try await api.send(.GET, verifyLink)
            #expect(verified.status == 200)
            #expect(verified.body["emailVerified"] as? Bool == true)
            let again = try await api.send(.GET, verifyLink)
            #expect(again.status == 400, "single use")
            #expect(again.code == "invalid_link")

            // Sign-in: a wrong email and a wrong password get the same answer.
            let wrongPassword = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"not it at all"}"#)
            let wrongEmail = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"nobody.\#(unique)@example.com","password":"not it at all"}"#)
            #expect(wrongPassword.status == 401)
            #expect(wrongPassword.code == "invalid_credentials")
            #expect(NSDictionary(dictionary: wrongPassword.body).isEqual(to: wrongEmail.body))
            let login = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email.uppercased())","password":"\#(password)"}"#)
            #expect(login.status == 200, "emails compare without case")
            let access = try #require(login.body["accessToken"] as? String)
            let refreshA = try #require(login.body["refreshToken"] as? String)
            #expect((login.body["user"] as? [String: Any])?["lastLoginAt"] != nil)

            // Refresh rotates; presenting a rotated token ends the session.
            let rotated = try await api.send(.POST, identity("/v1/auth/refresh"), json: #"{"refreshToken":"\#(refreshA)"}"#)
            #expect(rotated.status == 200)
            let refreshB = try #require(rotated.body["refreshToken"] as? String)
            #expect(refreshB != refreshA)
            let reused = try await api.send(.POST, identity("/v1/auth/refresh"), json: #"{"refreshToken":"\#(refreshA)"}"#)
            #expect(reused.status == 401)
            #expect(reused.code == "refresh_token_reused")
            let afterReuse = try await api.send(.POST, identity("/v1/auth/refresh"), json: #"{"refreshToken":"\#(refreshB)"}"#)
            #expect(afterReuse.status == 401, "the whole session was revoked")
            #expect(afterReuse.code == "invalid_refresh_token")

            // Profile.
            let me = try await api.send(.GET, identity("/v1/me"), token: access)
            #expect(me.status == 200)
            #expect(me.body["email"] as? String == email)
            let patched = try await api.send(.PATCH, identity("/v1/me"), json: #"{"name":"Grace Hopper","timeZone":"Europe/London","weeklyHours":6,"skillLevel":"beginner","onboardingComplete":true}"#, token: access)
            #expect(patched.status == 200)
            #expect(patched.body["name"] as? String == "Grace Hopper")
            #expect(patched.body["timeZone"] as? String == "Europe/London")
            #expect(patched.body["weeklyHours"] as? Int == 6)
            let badPatch = try await api.send(.PATCH, identity("/v1/me"), json: #"{"timeZone":"Mars/Olympus","weeklyHours":500}"#, token: access)
            #expect(badPatch.status == 422)
            #expect(Set(((badPatch.body["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }) == ["timeZone", "weeklyHours"])
            #expect(try await api.send(.GET, identity("/v1/me")).status == 401)
            let huge = try await api.send(.POST, identity("/v1/auth/register"), json: #"{"email":"x@example.com","password":"12345678","name":"\#(String(repeating: "a", count: 3_000_000))"}"#)
            #expect(huge.status == 413)
            #expect(huge.code == "payload_too_large")
            let nulName = try await api.send(.PATCH, identity("/v1/me"), json: #"{"name":"Gr\u0000ace"}"#, token: access)
            #expect(nulName.status == 400 && nulName.code == "invalid_character")

            // An unsubscribe link followed at notifications reaches the profile through the bus.
            let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "e2e", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let consent = CloudEvent(NotificationsConsentChangedV1(userId: userID, marketingOptOut: true, source: "unsubscribe_link", changedAt: Date()), sequence: 1)
            #expect(try await publisher.publish(OutgoingMessage(
                exchange: "notifications.events", routingKey: NotificationsConsentChangedV1.eventType.routingKey,
                body: try EventCoding.encode(consent), properties: AMQPProperties(contentType: "application/cloudevents+json", messageID: consent.id))) == .confirmed)
            try await eventually("the opt-out to show in the profile") {
                try await api.send(.GET, identity("/v1/me"), token: access).body["marketingOptOut"] as? Bool == true
            }
            #expect(try await api.send(.GET, identity("/v1/me"), token: access + "x").code == "invalid_token")

            // Password reset: always 202; the link works once; every session ends.
            #expect(try await api.send(.POST, identity("/v1/auth/password-reset"), json: #"{"email":"nobody.\#(unique)@example.com"}"#).status == 202)
            let session = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"\#(password)"}"#)
            let sessionRefresh = try #require(session.body["refreshToken"] as? String)
            #expect(try await api.send(.POST, identity("/v1/auth/password-reset"), json: #"{"email":"\#(email)"}"#).status == 202)
            var resetMail = ""
            try await eventually("the reset mail") {
                resetMail = try mails(in: processes.mailDirectory).first { $0.contains(email) && $0.contains("Subject: Reset your Syllabus password") } ?? ""
                return !resetMail.isEmpty
            }
            let resetLink = try #require(link(in: resetMail, startingWith: identity("/v1/auth/password-reset/confirm?token=")))
            let resetToken = String(resetLink.split(separator: "=").last!)
            let linkState = try await api.send(.GET, resetLink)
            #expect(linkState.status == 200, "the mailed link opens")
            #expect(linkState.body["valid"] as? Bool == true)
            let newPassword = "second password 2"
            #expect(try await api.send(.POST, identity("/v1/auth/password-reset/confirm"), json: #"{"token":"\#(resetToken)","password":"short"}"#).status == 422)
            #expect(try await api.send(.POST, identity("/v1/auth/password-reset/confirm"), json: #"{"token":"\#(resetToken)","password":"\#(newPassword)"}"#).status == 204)
            #expect(try await api.send(.POST, identity("/v1/auth/password-reset/confirm"), json: #"{"token":"\#(resetToken)","password":"\#(newPassword)"}"#).code == "invalid_link")
            #expect(try await api.send(.POST, identity("/v1/auth/refresh"), json: #"{"refreshToken":"\#(sessionRefresh)"}"#).status == 401, "reset ends every session")
            #expect(try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"\#(password)"}"#).status == 401)
            let fresh = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"\#(newPassword)"}"#)
            #expect(fresh.status == 200)
            let userToken = try #require(fresh.body["accessToken"] as? String)

            // Throttling: the sixth failure within the window is refused with Retry-After.
            for _ in 0..<5 {
                #expect(try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"wrong wrong"}"#).status == 401)
            }
            let throttled = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"\#(newPassword)"}"#)
            #expect(throttled.status == 429)
            #expect(throttled.code == "too_many_attempts")
            #expect(Int(throttled.headers.first(name: "retry-after") ?? "") ?? 0 > 0)

            // The first admin, as `make run` and deployments create it.
            let adminEmail = "admin.\(unique)@example.com"
            let created = try await processes.syllabus(["admin", "create", "--email", adminEmail, "--password", "admin password", "--name", "Ada Admin"])
            #expect(created.status == 0, "\(created.output)")
            let adminLogin = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(adminEmail)","password":"admin password"}"#)
            let adminToken = try #require(adminLogin.body["accessToken"] as? String)
            let adminID = try #require((adminLogin.body["user"] as? [String: Any])?["id"] as? String)

            // Another service accepts identity's tokens with no call to identity: admin only.
            let emails = processes.url("notifications", "/v1/notifications/admin/emails?userId=\(userID)")
            let asAdmin = try await api.send(.GET, emails, token: adminToken)
            #expect(asAdmin.status == 200)
            #expect(((asAdmin.body["items"] as? [[String: Any]]) ?? []).contains { $0["template"] as? String == "PASSWORD_RESET" })
            #expect(try await api.send(.GET, emails, token: userToken).code == "admin_only")
            #expect(try await api.send(.GET, emails).status == 401)

            // Admin: search, override, roles (never without an admin), all audited.
            #expect(try await api.send(.GET, identity("/v1/identity/admin/users?query=grace"), token: userToken).status == 403)
            let search = try await api.send(.GET, identity("/v1/identity/admin/users?query=\(unique)&limit=1"), token: adminToken)
            #expect(search.status == 200)
            #expect((search.body["items"] as? [Any])?.count == 1)
            #expect(search.body["nextCursor"] is String, "two accounts match: a second page")
            let override = try await api.send(.PUT, identity("/v1/identity/admin/users/\(userID)/access-override"), json: #"{"accessOverride":true}"#, token: adminToken)
            #expect(override.status == 200)
            #expect(override.body["accessOverride"] as? Bool == true)
            let trail = try await api.send(.GET, identity("/v1/identity/admin/users/\(userID)/audit"), token: adminToken)
            let entry = try #require((trail.body["items"] as? [[String: Any]])?.first)
            #expect(entry["action"] as? String == "access_override_changed")
            #expect(entry["actorId"] as? String == adminID, "who")
            #expect((entry["details"] as? [String: String])?["to"] == "true", "what")
            #expect(entry["at"] as? String != nil, "when")
            #expect(try await api.send(.GET, identity("/v1/identity/admin/users/\(userID)/audit"), token: userToken).code == "admin_only")
            #expect(try await api.send(.PUT, identity("/v1/identity/admin/users/\(userID)/role"), json: #"{"role":"OWNER"}"#, token: adminToken).status == 422)
            // Every other admin stepped down, this one is the last: it cannot stop being one.
            var cursor: String?
            repeat {
                let page = try await api.send(.GET, identity("/v1/identity/admin/users?limit=200" + (cursor.map { "&cursor=\($0)" } ?? "")), token: adminToken)
                for other in (page.body["items"] as? [[String: Any]]) ?? [] where other["role"] as? String == "ADMIN" && other["id"] as? String != adminID {
                    let id = try #require(other["id"] as? String)
                    #expect(try await api.send(.PUT, identity("/v1/identity/admin/users/\(id)/role"), json: #"{"role":"USER"}"#, token: adminToken).status == 200)
                }
                cursor = page.body["nextCursor"] as? String
            } while cursor != nil
            let demoteSelf = try await api.send(.PUT, identity("/v1/identity/admin/users/\(adminID)/role"), json: #"{"role":"USER"}"#, token: adminToken)
            #expect(demoteSelf.status == 409)
            #expect(demoteSelf.code == "last_admin")
            #expect(try await api.send(.DELETE, identity("/v1/me"), token: adminToken).code == "last_admin")
            #expect(try await api.send(.PUT, identity("/v1/identity/admin/users/\(UUID().uuidString)/role"), json: #"{"role":"USER"}"#, token: adminToken).status == 404)

            // Deletion: the account is gone and its tokens are refused everywhere.
            #expect(try await api.send(.DELETE, identity("/v1/me"), token: userToken).status == 204)
            #expect(try await api.send(.GET, identity("/v1/me"), token: userToken).code == "invalid_token")
            let deletedLogin = try await api.send(.POST, identity("/v1/auth/login"), json: #"{"email":"\#(email)","password":"\#(newPassword)"}"#)
            #expect(deletedLogin.status != 200)
            #expect(["invalid_credentials", "too_many_attempts"].contains(deletedLogin.code ?? ""), "still throttled, or simply unknown")
            let adminsView = try await api.send(.GET, processes.url("notifications", "/v1/notifications/admin/emails?userId=\(userID)"), token: adminToken)
            #expect(adminsView.status == 200)
            #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
        } catch {
            for service in ServiceProcesses.services { print("--- \(service) log ---\n\(processes.log(service).suffix(3000))") }
            processes.stop()
            try await http.shutdown()
            throw error
        }
        processes.stop()
        try await http.shutdown()
    }
}
