import Foundation
import JWTKit
import ServiceKit

/// A signing key of the test's own, the verifier that trusts it, and access tokens it signs:
/// what identity does for the other services, for routes tested in process.
public struct TestTokens: Sendable {
    public let key: SigningKey
    public let verifier: TokenVerifier
    private let keys: JWTKeyCollection

    public init() async throws {
        key = SigningKey()
        verifier = try await TokenVerifier.jwks(SigningKey.jwks([key]))
        keys = JWTKeyCollection()
        try await key.add(to: keys)
    }

    /// An access token of `user` with `role`, issued now.
    public func token(for user: UUID = UUID(), role: String = "USER", issuedAt: Date = Date()) async throws -> String {
        let claims = AccessClaims(userID: user.uuidString.lowercased(), role: role, issuedAt: issuedAt, lifetime: 900)
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.kid))
    }

    /// `Authorization: Bearer …` for `user`.
    public func bearer(for user: UUID = UUID(), role: String = "USER") async throws -> String {
        "Bearer " + (try await token(for: user, role: role))
    }
}
