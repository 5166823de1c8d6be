import Crypto
import Foundation
import Hummingbird

/// An OAuth 2.0 / OpenID Connect provider for the tests, speaking the real wire format: a token
/// endpoint that checks the PKCE verifier against the challenge of the code it issued, and a
/// userinfo endpoint. The test plays the browser and the user's consent by issuing codes.
final class FakeOAuthProvider: @unchecked Sendable {
    struct Grant {
        var challenge: String
        var claims: [String: any Sendable]
    }

    let port: Int
    let clientSecret = "fake-secret"
    private let lock = NSLock()
    private var grants: [String: Grant] = [:]
    private(set) var tokenRequests = 0

    init(port: Int) {
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The user consents: a code for the challenge the authorization request carried.
    func issueCode(challenge: String, claims: [String: any Sendable]) -> String {
        let code = "code-\(UUID().uuidString.lowercased())"
        lock.withLock { grants[code] = Grant(challenge: challenge, claims: claims) }
        return code
    }

    private func grant(_ code: String) -> Grant? { lock.withLock { grants[code] } }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/token") { request, _ -> Response in
            self.lock.withLock { self.tokenRequests += 1 }
            let body = try await request.body.collect(upTo: 1 << 16)
            var components = URLComponents()
            components.percentEncodedQuery = String(buffer: body)
            var form: [String: String] = [:]
            for item in components.queryItems ?? [] { form[item.name] = item.value }
            guard form["grant_type"] == "authorization_code", form["client_secret"] == self.clientSecret,
                let code = form["code"], let grant = self.grant(code), let verifier = form["code_verifier"],
                Self.base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))) == grant.challenge
            else {
                return Response(status: .badRequest, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_grant"}"#)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"access_token":"at-\#(code)","token_type":"Bearer","expires_in":3600}"#)))
        }
        router.get("/userinfo") { request, _ -> Response in
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer at-"),
                let grant = self.grant(String(header.dropFirst("Bearer at-".count)))
            else { return Response(status: .unauthorized) }
            let data = try JSONSerialization.data(withJSONObject: grant.claims)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}
