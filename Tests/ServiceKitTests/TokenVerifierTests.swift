import Foundation
import JWTKit
import ServiceKit
import Testing

@Suite struct TokenVerifierTests {
    let key = SigningKey()
    let userID = UUID()

    func sign(_ claims: AccessClaims, with key: SigningKey) async throws -> String {
        let keys = JWTKeyCollection()
        try await key.add(to: keys)
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.kid))
    }

    func claims(issuedAt: Date = Date(), lifetime: TimeInterval = 900) -> AccessClaims {
        AccessClaims(userID: userID.uuidString.lowercased(), role: "USER", issuedAt: issuedAt, lifetime: lifetime)
    }

    @Test func acceptsAValidTokenFromTheKeySet() async throws {
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key]))
        let user = try await verifier.verify(try await sign(claims(), with: key))
        #expect(user == AuthenticatedUser(id: userID, role: "USER"))
    }

    @Test func acceptsTokensOfEveryKeyInTheSet() async throws {
        let next = SigningKey()
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key, next]))
        _ = try await verifier.verify(try await sign(claims(), with: key))
        _ = try await verifier.verify(try await sign(claims(), with: next))
    }

    @Test func refusesExpiredTokens() async throws {
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key]))
        let token = try await sign(claims(issuedAt: Date().addingTimeInterval(-3600)), with: key)
        await #expect(throws: Problem.invalidToken("the token has expired")) { try await verifier.verify(token) }
    }

    @Test func refusesAnotherAudience() async throws {
        var other = claims()
        other.aud = AudienceClaim(value: ["somebody-else"])
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key]))
        let token = try await sign(other, with: key)
        await #expect(throws: Problem.invalidToken("the token is not meant for this audience")) { try await verifier.verify(token) }
    }

    @Test func refusesAnotherIssuer() async throws {
        var other = claims()
        other.iss = IssuerClaim(value: "evil")
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key]))
        let token = try await sign(other, with: key)
        await #expect(throws: Problem.self) { try await verifier.verify(token) }
    }

    @Test func refusesUnknownKeysAndForgeries() async throws {
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key]))
        let stranger = SigningKey()
        let unknown = try await sign(claims(), with: stranger)
        await #expect(throws: Problem.self) { try await verifier.verify(unknown) }
        // A token signed by another key but claiming our kid.
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: stranger.pem), kid: JWKIdentifier(string: key.kid))
        let forged = try await keys.sign(claims(), kid: JWKIdentifier(string: key.kid))
        await #expect(throws: Problem.invalidToken("the signature does not verify")) { try await verifier.verify(forged) }
        await #expect(throws: Problem.self) { try await verifier.verify("not.a.token") }
    }

    @Test func keyIDIsTheStableThumbprint() throws {
        let again = try SigningKey(pem: key.pem)
        #expect(again.kid == key.kid)
        #expect(SigningKey().kid != key.kid)
        let jwks = try JSONSerialization.jsonObject(with: Data(SigningKey.jwks([key]).utf8)) as! [String: [[String: String]]]
        #expect(jwks["keys"]?.first?["kid"] == key.kid)
        #expect(jwks["keys"]?.first?["d"] == nil, "the JWKS holds no private part")
    }

    @Test func aVerifiedTokenIsKeptUntilItExpiresAndRevocationIsAskedEveryTime() async throws {
        let revoked = RevokedUsers()
        let verifier = try await TokenVerifier.jwks(SigningKey.jwks([key])).refusing { id, _ in
            revoked.contains(id) ? "the account no longer exists" : nil
        }
        let issued = Date()
        let token = try await sign(claims(issuedAt: issued, lifetime: 60), with: key)
        #expect(try await verifier.verify(token, now: issued) == AuthenticatedUser(id: userID, role: "USER"))
        #expect(try await verifier.verify(token, now: issued.addingTimeInterval(30)) == AuthenticatedUser(id: userID, role: "USER"))
        // Kept, but its expiry still counts.
        await #expect(throws: Problem.self) { try await verifier.verify(token, now: issued.addingTimeInterval(61)) }
        // Kept, but a revocation after it was first verified still refuses it.
        let fresh = try await sign(claims(issuedAt: issued, lifetime: 600), with: key)
        _ = try await verifier.verify(fresh, now: issued)
        revoked.add(userID)
        await #expect(throws: Problem.invalidToken("the account no longer exists")) { try await verifier.verify(fresh, now: issued) }
        // A token that differs in one character is verified on its own (and refused).
        var tampered = Array(fresh)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
        await #expect(throws: Problem.self) { try await verifier.verify(String(tampered), now: issued) }
    }
}

final class RevokedUsers: @unchecked Sendable {
    private let lock = NSLock()
    private var users: Set<UUID> = []
    func add(_ id: UUID) { lock.withLock { _ = users.insert(id) } }
    func contains(_ id: UUID) -> Bool { lock.withLock { users.contains(id) } }
}
