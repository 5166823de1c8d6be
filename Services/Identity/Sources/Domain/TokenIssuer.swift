import Crypto
import Foundation
import JWTKit
import ServiceKit

/// Signs access tokens (ES256, with the signing key's `kid`) and makes refresh tokens, which are
/// opaque random strings stored only as their SHA-256.
public struct TokenIssuer: Sendable {
    public static let accessTokenLifetime: TimeInterval = 15 * 60
    public static let refreshTokenLifetime: TimeInterval = 30 * 24 * 3600

    private let keys: JWTKeyCollection
    public let signingKey: SigningKey
    /// Public keys still accepted (the current one and any being retired).
    public let verificationKeys: [SigningKey]

    public init(signingKey: SigningKey, verificationKeys: [SigningKey] = []) async throws {
        let keys = JWTKeyCollection()
        try await signingKey.add(to: keys)
        self.keys = keys
        self.signingKey = signingKey
        self.verificationKeys = [signingKey] + verificationKeys.filter { $0.kid != signingKey.kid }
    }

    public func accessToken(userID: UUID, role: String, now: Date = Date()) async throws -> String {
        let claims = AccessClaims(userID: userID.uuidString.lowercased(), role: role, issuedAt: now, lifetime: Self.accessTokenLifetime)
        return try await keys.sign(claims, kid: JWKIdentifier(string: signingKey.kid))
    }

    /// The JWKS document identity publishes.
    public var jwks: String { SigningKey.jwks(verificationKeys) }

    /// A new refresh token and the hash to store.
    public static func newRefreshToken() -> (token: String, hash: Data) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token = Base64URL.encode(bytes)
        return (token, hash(refreshToken: token))
    }

    public static func hash(refreshToken: String) -> Data {
        Data(SHA256.hash(data: Data(refreshToken.utf8)))
    }
}
