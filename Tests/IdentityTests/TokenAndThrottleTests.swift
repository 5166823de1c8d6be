import Foundation
import ServiceKit
import Testing

@testable import Identity

@Suite struct KeyRotationTests {
    @Test func aRetiredKeyStillVerifiesWhileTheNewOneSigns() async throws {
        let old = SigningKey()
        let new = SigningKey()
        let before = try await TokenIssuer(signingKey: old)
        let after = try await TokenIssuer(signingKey: new, verificationKeys: [old])
        let jwks = try JSONSerialization.jsonObject(with: Data(after.jwks.utf8)) as! [String: [[String: String]]]
        #expect(Set(jwks["keys"]!.compactMap { $0["kid"] }) == [old.kid, new.kid])
        let verifier = try await TokenVerifier.jwks(after.jwks)
        let user = UUID()
        #expect(try await verifier.verify(try await before.accessToken(userID: user, role: "USER")).id == user, "a token of the old key")
        #expect(try await verifier.verify(try await after.accessToken(userID: user, role: "ADMIN")).role == "ADMIN")
        // Once the old key is dropped, its tokens are refused.
        let pruned = try await TokenVerifier.jwks(SigningKey.jwks([new]))
        await #expect(throws: Problem.self) { try await pruned.verify(try await before.accessToken(userID: user, role: "USER")) }
    }

    @Test func refreshTokensAreRandomAndStoredAsHashes() {
        let a = TokenIssuer.newRefreshToken(), b = TokenIssuer.newRefreshToken()
        #expect(a.token != b.token)
        #expect(a.token.count == 43, "32 random bytes, base64url")
        #expect(TokenIssuer.hash(refreshToken: a.token) == a.hash)
        #expect(a.hash.count == 32)
    }

    @Test func pkceChallengeIsS256OfTheVerifier() {
        let (verifier, challenge) = OAuthProvider.pkce()
        #expect((43...128).contains(verifier.count))
        #expect(OAuthProvider.challenge(for: verifier) == challenge)
        // BASE64URL(SHA256(verifier)), as computed independently by Python's hashlib.
        #expect(OAuthProvider.challenge(for: "dBjftJeZ4CVP-mJ92K9fxE7KqrkE9jF2EaX1dB1r_zA") == "MbwGn8dXaueLHLF6ID1etJEyp5AbZmsdFpXpVa3BXSU")
    }
}

@Suite struct ProfileValidationTests {
    func patch(_ json: String) throws -> ProfileChange {
        try JSONDecoder().decode(ProfileChange.self, from: Data(json.utf8))
    }

    @Test func nullClearsAndAbsentKeeps() throws {
        let value = try patch(#"{"timeZone": null, "weeklyHours": 5}"#)
        #expect(value.timeZone == .clear)
        #expect(value.weeklyHours == .set(5))
        #expect(value.userType == nil)
        #expect(value.validate().isEmpty)
    }

    @Test func refusesUnknownChoicesZonesAndRanges() throws {
        let errors = try patch(
            #"{"timeZone": "Atlantis/Capital", "weeklyHours": -1, "skillLevel": "guru", "email": "no", "name": " "}"#).validate()
        #expect(Set(errors.map(\.field)) == ["timeZone", "weeklyHours", "skillLevel", "email", "name"])
    }
}

@Suite struct EmailChangePatchTests {
    @Test func readsTheCurrentPassword() throws {
        let patch = try JSONDecoder().decode(
            ProfileChange.self, from: Data(#"{"email": "new@example.com", "currentPassword": "secret words"}"#.utf8))
        #expect(patch.currentPassword == "secret words")
        #expect(patch.validate().isEmpty)
    }
}
