import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// Sign-in with an OAuth provider (authorization code, PKCE, state), against a local fake.
extension EndToEndTests {
    struct OAuthJourneyTests {}
}

extension EndToEndTests.OAuthJourneyTests {
    @Test func oauthSignInCreatesLinksOnlyWhenVerifiedAndRefusesReplays() async throws {
        let provider = FakeOAuthProvider(port: 9599)
        let processes = try ServiceProcesses(portBase: 9580)
        let identityBase = processes.url("identity", "")
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let api = JSONClient(client: http)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await provider.application().runService() }
            try processes.start([
                "IDENTITY_OAUTH_PROVIDERS": "fake",
                "IDENTITY_OAUTH_FAKE_AUTHORIZE_URL": "\(provider.baseURL)/authorize",
                "IDENTITY_OAUTH_FAKE_TOKEN_URL": "\(provider.baseURL)/token",
                "IDENTITY_OAUTH_FAKE_USERINFO_URL": "\(provider.baseURL)/userinfo",
                "IDENTITY_OAUTH_FAKE_CLIENT_ID": "syllabus",
                "IDENTITY_OAUTH_FAKE_CLIENT_SECRET": provider.clientSecret,
                "IDENTITY_OAUTH_FAKE_REDIRECT_URL": "\(identityBase)/v1/auth/oauth/fake/callback",
            ])
            defer { processes.stop() }
            try await processes.waitUntilReady(api, services: ["identity"])

            /// The browser's part: start, read the redirect, let the user consent.
            func authorize(claims: [String: any Sendable]) async throws -> (state: String, code: String) {
                let start = try await api.send(.GET, processes.url("identity", "/v1/auth/oauth/fake/start"))
                #expect(start.status == 302)
                let location = try #require(start.headers.first(name: "location").flatMap(URLComponents.init(string:)))
                #expect(location.path == "/authorize")
                var query: [String: String] = [:]
                for item in location.queryItems ?? [] { query[item.name] = item.value }
                #expect(query["code_challenge_method"] == "S256")
                #expect(query["response_type"] == "code")
                #expect(query["redirect_uri"] == "\(identityBase)/v1/auth/oauth/fake/callback")
                let state = try #require(query["state"])
                return (state, provider.issueCode(challenge: try #require(query["code_challenge"]), claims: claims))
            }
            func callback(_ state: String, _ code: String) async throws -> JSONClient.Answer {
                try await api.send(.GET, processes.url("identity", "/v1/auth/oauth/fake/callback?code=\(code)&state=\(state)"))
            }

            let unique = UUID().uuidString.prefix(8).lowercased()
            let subject = "fake-\(unique)"
            let email = "oauth.\(unique)@example.com"

            // A new user, whose provider verified the address.
            let first = try await authorize(claims: ["sub": subject, "email": email, "email_verified": true, "name": "Olive Auth"])
            let signedUp = try await callback(first.state, first.code)
            #expect(signedUp.status == 200, "\(signedUp.body)")
            let user = try #require(signedUp.body["user"] as? [String: Any])
            #expect(user["emailVerified"] as? Bool == true)
            #expect(user["name"] as? String == "Olive Auth")
            let me = try await api.send(.GET, processes.url("identity", "/v1/me"), token: signedUp.body["accessToken"] as? String)
            #expect(me.body["id"] as? String == user["id"] as? String)
            // An OAuth user has no password.
            #expect(try await api.send(.POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(email)","password":"anything at all"}"#).status == 401)

            // The state is single-use.
            #expect(try await callback(first.state, first.code).code == "invalid_state")

            // The same provider account again: the same user.
            let second = try await authorize(claims: ["sub": subject, "email": email, "email_verified": true])
            #expect((try await callback(second.state, second.code).body["user"] as? [String: Any])?["id"] as? String == user["id"] as? String)

            // A password account whose email is not verified is never taken over.
            let victim = "victim.\(unique)@example.com"
            #expect(try await api.send(.POST, processes.url("identity", "/v1/auth/register"), json: #"{"email":"\#(victim)","password":"victim password","name":"Victor"}"#).status == 201)
            let takeover = try await authorize(claims: ["sub": "attacker-\(unique)", "email": victim, "email_verified": true])
            let refused = try await callback(takeover.state, takeover.code)
            #expect(refused.status == 409)
            #expect(refused.code == "account_exists")

            // No account is made from an address the provider has not verified.
            let unverified = try await authorize(claims: ["sub": "unverified-\(unique)", "email": "unverified.\(unique)@example.com", "email_verified": false])
            #expect(try await callback(unverified.state, unverified.code).code == "email_unverified_at_provider")

            // A code presented with another sign-in's verifier fails at the provider.
            let a = try await authorize(claims: ["sub": subject, "email": email, "email_verified": true])
            let b = try await authorize(claims: ["sub": subject, "email": email, "email_verified": true])
            let crossed = try await callback(b.state, a.code)
            #expect(crossed.status == 502)
            #expect(crossed.code == "oauth_provider_error")

            // The user said no at the provider.
            let denied = try await api.send(.GET, processes.url("identity", "/v1/auth/oauth/fake/callback?error=access_denied&state=\(a.state)"))
            #expect(denied.code == "oauth_denied")
            #expect(try await api.send(.GET, processes.url("identity", "/v1/auth/oauth/nobody/start")).code == "unknown_provider")
            group.cancelAll()
        }
        try await http.shutdown()
    }
}
