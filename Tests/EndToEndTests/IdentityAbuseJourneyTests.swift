import AsyncHTTPClient
import Crypto
import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// Identity under abuse: guessing passwords, flooding the hashing pool with made-up reset tokens,
/// and moving an account to another address — against the running executables.
extension EndToEndTests {
    struct IdentityAbuseJourneyTests {}
}

extension EndToEndTests.IdentityAbuseJourneyTests {
    @Test func throttlesHashingAndEmailChangesHold() async throws {
        let processes = try ServiceProcesses(portBase: 10480)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start()
        do {
            try await processes.waitUntilReady(api, services: ["identity", "notifications"])
            try await journey(processes, api, http)
            #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
        } catch {
            for service in ["identity", "notifications"] { print("--- \(service) log ---\n\(processes.log(service).suffix(3000))") }
            processes.stop()
            try await http.shutdown()
            throw error
        }
        processes.stop()
        try await http.shutdown()
    }

    func journey(_ processes: ServiceProcesses, _ api: JSONClient, _ http: HTTPClient) async throws {
        let identity = { (path: String) in processes.url("identity", path) }
        let unique = UUID().uuidString.prefix(8).lowercased()
        // The test talks to identity from 127.0.0.1, a trusted proxy in the test setup: the client
        // address is the one each JSONClient forwards (last), so this test's counters are its own.
        let client = api
        let elsewhere = JSONClient(client: http, forwardedFor: "198.19.\(Int.random(in: 0...255)).\(Int.random(in: 1...254))")
        let password = "right password 1"
        let ada = "ada.\(unique)@example.com", grace = "grace.\(unique)@example.com"
        for (email, name) in [(ada, "Ada"), (grace, "Grace")] {
            let registered = try await api.send(
                .POST, identity("/v1/auth/register"), json: #"{"email":"\#(email)","password":"\#(password)","name":"\#(name)"}"#)
            #expect(registered.status == 201)
        }
        let loginURL = identity("/v1/auth/login")
        /// A sign-in through `via`; `written` is an `X-Forwarded-For` entry the client writes itself.
        @Sendable func login(_ email: String, _ password: String, from via: JSONClient, written: String? = nil) async throws -> JSONClient.Answer {
            try await via.send(
                .POST, loginURL, json: #"{"email":"\#(email)","password":"\#(password)"}"#, headers: written.map { [("X-Forwarded-For", $0)] } ?? [])
        }

        // (a) Twenty wrong passwords at once for one account from one address: the limit holds
        // (attempts are reserved before bcrypt), the rest are refused with Retry-After.
        struct Outcome: Sendable {
            var status: Int
            var code: String?
            var retryAfter: Int?
        }
        let answers = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    let answer = try await login(ada, "wrong password", from: client)
                    return Outcome(status: answer.status, code: answer.code, retryAfter: Int(answer.headers.first(name: "retry-after") ?? ""))
                }
            }
            return try await group.reduce(into: [Outcome]()) { $0.append($1) }
        }
        let refused = answers.filter { $0.status == 429 }
        #expect(answers.filter { $0.status == 401 }.count <= 5, "\(answers.map(\.status))")
        #expect(answers.filter { $0.status == 401 }.count + refused.count == 20, "\(answers.map(\.status))")
        #expect(refused.count >= 15)
        #expect(refused.allSatisfy { $0.code == "too_many_attempts" && ($0.retryAfter ?? 0) > 0 })
        // From that address, even the right password waits; a client-written entry left of the
        // forwarded one changes nothing.
        #expect(try await login(ada, password, from: client).status == 429)
        #expect(try await login(ada, password, from: client, written: "203.0.113.9").status == 429)
        // Nobody else is locked out: another account from the same address, and the same account
        // from another address, sign in.
        #expect(try await login(grace, password, from: client).status == 200)
        #expect(try await login(ada, password, from: elsewhere).status == 200)

        // (b) A reset confirmation with a made-up token is refused before any hashing.
        func hashes() async throws -> Double {
            let metrics = try await http.execute(HTTPClientRequest(url: identity("/metrics")), timeout: .seconds(10))
            let text = String(buffer: try await metrics.body.collect(upTo: 4 << 20))
            return text.split(separator: "\n").filter { $0.hasPrefix("password_hashes_total") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        let before = try await hashes()
        for _ in 0..<5 {
            let madeUp = try await api.send(
                .POST, identity("/v1/auth/password-reset/confirm"), json: #"{"token":"\#(UUID().uuidString)","password":"brand new password"}"#)
            #expect(madeUp.status == 400 && madeUp.code == "invalid_link")
        }
        #expect(try await hashes() == before, "no bcrypt for a made-up token")
        #expect(try await login(grace, password, from: client).status == 200)
        #expect(try await hashes() == before + 1, "the counter counts")

        // (c) An email change needs the current password and takes effect once the new address
        // is verified; the old address can take the account back.
        let session = try await login(grace, password, from: client)
        let token = try #require(session.body["accessToken"] as? String)
        let refresh = try #require(session.body["refreshToken"] as? String)
        _ = try #require((session.body["user"] as? [String: Any])?["id"] as? String)
        let moved = "grace.moved.\(unique)@example.com"
        let patch = { (body: String) in try await api.send(.PATCH, identity("/v1/me"), json: body, token: token) }
        let withoutPassword = try await patch(#"{"email":"\#(moved)"}"#)
        #expect(withoutPassword.status == 422)
        #expect(((withoutPassword.body["errors"] as? [[String: Any]]) ?? []).contains { $0["field"] as? String == "currentPassword" })
        let wrongPassword = try await patch(#"{"email":"\#(moved)","currentPassword":"not my password"}"#)
        #expect(wrongPassword.status == 403 && wrongPassword.code == "invalid_password")
        let changed = try await patch(#"{"email":"\#(moved)","currentPassword":"\#(password)","name":"Grace H"}"#)
        #expect(changed.status == 200)
        #expect(changed.body["email"] as? String == grace, "the old address stays until the new one is verified")
        #expect(changed.body["pendingEmail"] as? String == moved)
        #expect(changed.body["name"] as? String == "Grace H")
        #expect(try await login(moved, password, from: client).status == 401, "the new address does not sign in yet")
        #expect(try await login(grace, password, from: client).status == 200)

        var verifyMail = ""
        try await eventually(timeout: .seconds(30), "the verification mail to the new address") {
            verifyMail = try mails(in: processes.mailDirectory).first { $0.contains("To: \(moved)") || $0.contains("<\(moved)>") } ?? ""
            return verifyMail.contains("Subject: Confirm your email address")
        }
        let verifyLink = try #require(link(in: verifyMail, startingWith: identity("/v1/auth/verify-email?token=")))
        let verified = try await api.send(.GET, verifyLink)
        #expect(verified.status == 200)
        #expect(verified.body["email"] as? String == moved)
        #expect(verified.body["pendingEmail"] == nil)
        #expect(try await login(moved, password, from: client).status == 200, "now it is the account's address")
        #expect(try await login(grace, password, from: client).status == 401)

        // The old address was told, with a link that takes the account back.
        var toldMail = ""
        try await eventually(timeout: .seconds(30), "the mail to the old address") {
            toldMail = try mails(in: processes.mailDirectory).first {
                $0.contains("<\(grace)>") && $0.contains("Subject: Your Syllabus sign-in address is being changed")
            } ?? ""
            return !toldMail.isEmpty
        }
        #expect(toldMail.contains(moved), "the mail names the address asked for")
        let revertLink = try #require(link(in: toldMail, startingWith: identity("/v1/auth/email-change/revert?token=")))
        let revertToken = String(revertLink.split(separator: "=").last!)
        #expect(processes.logsContaining([revertToken]).isEmpty, "no log line holds the revert token")
        let state = try await api.send(.GET, revertLink)
        #expect(state.status == 200 && state.body["email"] as? String == grace)
        let reverted = try await api.send(.POST, revertLink)
        #expect(reverted.status == 200)
        #expect(reverted.body["email"] as? String == grace)
        #expect(reverted.body["emailVerified"] as? Bool == true)
        #expect(try await api.send(.POST, revertLink).code == "invalid_link", "single use")
        #expect(try await api.send(.POST, identity("/v1/auth/refresh"), json: #"{"refreshToken":"\#(refresh)"}"#).status == 401, "every session ended")
        #expect(try await login(grace, password, from: elsewhere).status == 401, "the password that made the change is gone")
        var resetMail = ""
        try await eventually(timeout: .seconds(30), "the reset mail to the restored address") {
            resetMail = try mails(in: processes.mailDirectory).first {
                ($0.contains("To: \(grace)") || $0.contains("<\(grace)>")) && $0.contains("Subject: Reset your Syllabus password")
            } ?? ""
            return !resetMail.isEmpty
        }
        let resetLink = try #require(link(in: resetMail, startingWith: identity("/v1/auth/password-reset/confirm?token=")))
        let resetToken = String(resetLink.split(separator: "=").last!)
        #expect(try await api.send(.POST, identity("/v1/auth/password-reset/confirm"), json: #"{"token":"\#(resetToken)","password":"owner's new password"}"#).status == 204)
        #expect(try await login(grace, "owner's new password", from: elsewhere).status == 200)
    }
}
