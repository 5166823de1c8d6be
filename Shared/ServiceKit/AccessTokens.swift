import Contracts
import Crypto
import Foundation
import Hummingbird
import JWTKit

/// The claims of a Syllabus access token (ES256, 15 minutes, signed by identity).
public struct AccessClaims: JWTPayload, Equatable {
    public static let issuer = "syllabus-identity"
    public static let audience = "syllabus"

    public var sub: SubjectClaim
    public var role: String
    public var iss: IssuerClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim

    public init(userID: String, role: String, issuedAt: Date, lifetime: TimeInterval) {
        sub = SubjectClaim(value: userID)
        self.role = role
        iss = IssuerClaim(value: Self.issuer)
        aud = AudienceClaim(value: [Self.audience])
        iat = IssuedAtClaim(value: issuedAt)
        exp = ExpirationClaim(value: issuedAt.addingTimeInterval(lifetime))
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == Self.issuer else {
            throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "issuer is not \(Self.issuer)")
        }
        try aud.verifyIntendedAudience(includes: Self.audience)
    }
}

/// Who made a request, as their access token says.
public struct AuthenticatedUser: Sendable, Equatable {
    public let id: UUID
    public let role: String

    public init(id: UUID, role: String) {
        self.id = id
        self.role = role
    }

    public var isAdmin: Bool { Role(rawValue: role) == .admin }
}

/// Verifies access tokens locally against a key set (several keys, so keys can rotate); no call
/// to identity.
public struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    /// Why a token of this user, issued at this time, no longer counts (the account is gone, or
    /// its role changed after the token was issued), or nil when it still does.
    private let revoked: @Sendable (UUID, Date) async throws -> String?
    /// Tokens already verified (signature and claims), until they expire.
    private let verified: VerifiedTokens

    public init(keys: JWTKeyCollection, revoked: @escaping @Sendable (UUID, Date) async throws -> String? = { _, _ in nil }) {
        self.init(keys: keys, revoked: revoked, verified: VerifiedTokens())
    }

    private init(keys: JWTKeyCollection, revoked: @escaping @Sendable (UUID, Date) async throws -> String?, verified: VerifiedTokens) {
        self.keys = keys
        self.revoked = revoked
        self.verified = verified
    }

    /// The same keys, refusing the tokens `revoked` names a reason for.
    public func refusing(_ revoked: @escaping @Sendable (UUID, Date) async throws -> String?) -> TokenVerifier {
        TokenVerifier(keys: keys, revoked: revoked, verified: verified)
    }

    /// A verifier for the keys of a JWKS document.
    public static func jwks(_ json: String) async throws -> TokenVerifier {
        let keys = JWTKeyCollection()
        try await keys.add(jwksJSON: json)
        return TokenVerifier(keys: keys)
    }

    public static func jwks(file path: String) async throws -> TokenVerifier {
        try await jwks(String(contentsOfFile: path, encoding: .utf8))
    }

    /// The user of a valid token, or a 401 problem saying what is wrong with it. A token seen
    /// before is not verified again until it expires (kept by the SHA-256 of the whole token, so
    /// no other string can match it); whether its user's tokens were revoked is asked every time.
    public func verify(_ token: String, now: Date = Date()) async throws -> AuthenticatedUser {
        let digest = SHA256.hash(data: Data(token.utf8))
        let entry: VerifiedTokens.Entry
        if let known = verified.entry(for: digest, now: now) {
            entry = known
        } else {
            let claims: AccessClaims
            do {
                claims = try await keys.verify(token, as: AccessClaims.self)
            } catch let error as JWTError {
                throw Problem.invalidToken(Self.reason(error))
            } catch {
                throw Problem.invalidToken("the token could not be read")
            }
            guard let id = UUID(uuidString: claims.sub.value) else {
                throw Problem.invalidToken("the subject is not a user id")
            }
            // The same clock as the kept tokens' (the library checks against its own).
            guard claims.exp.value > now else { throw Problem.invalidToken("the token has expired") }
            entry = VerifiedTokens.Entry(user: AuthenticatedUser(id: id, role: claims.role), issuedAt: claims.iat.value, expires: claims.exp.value)
            verified.keep(entry, for: digest, now: now)
        }
        if let reason = try await revoked(entry.user.id, entry.issuedAt) { throw Problem.invalidToken(reason) }
        return entry.user
    }

    /// The user of the request's bearer token, who must be an admin: 401 without a valid token,
    /// 403 for anyone else.
    public func authenticateAdmin(_ request: Request) async throws -> AuthenticatedUser {
        let user = try await authenticate(request)
        guard user.isAdmin else { throw Problem(.forbidden, code: "admin_only", title: "Only admins may do this") }
        return user
    }

    /// The user of the request's bearer token; 401 without one.
    public func authenticate(_ request: Request) async throws -> AuthenticatedUser {
        guard let header = request.headers[.authorization] else { throw Problem.unauthenticated }
        let parts = header.utf8.split(separator: UInt8(ascii: " "), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, String(decoding: parts[0], as: UTF8.self).lowercased() == "bearer" else { throw Problem.unauthenticated }
        // Spaces and tabs around the token are allowed (RFC 9110's optional whitespace); a token
        // holds none itself. (Foundation's trimming took a tenth of a request's time.)
        let token = parts[1].drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let end = token.lastIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        return try await verify(end.map { String(decoding: token[...$0], as: UTF8.self) } ?? "")
    }

    private static func reason(_ error: JWTError) -> String {
        switch error.errorType {
        case .claimVerificationFailure:
            if error.failedClaim is ExpirationClaim { return "the token has expired" }
            if error.failedClaim is AudienceClaim { return "the token is not meant for this audience" }
            if error.failedClaim is IssuerClaim { return "the token was not issued by identity" }
            return "a claim of the token is not valid"
        case .signatureVerificationFailed: return "the signature does not verify"
        case .unknownKID: return "the token was signed with an unknown key"
        default: return "the token is malformed"
        }
    }
}

/// An ES256 signing key and what others need to verify its signatures.
public struct SigningKey: Sendable {
    public let privateKey: P256.Signing.PrivateKey
    public let kid: String

    public init(pem: String) throws {
        privateKey = try P256.Signing.PrivateKey(pemRepresentation: pem)
        kid = Self.thumbprint(privateKey.publicKey)
    }

    public init(generate: Void = ()) {
        privateKey = P256.Signing.PrivateKey()
        kid = Self.thumbprint(privateKey.publicKey)
    }

    public var pem: String { privateKey.pemRepresentation }

    /// The public key as a JWK (RFC 7517), with `kid`, `alg` and `use`.
    public var publicJWK: [String: String] {
        let raw = privateKey.publicKey.rawRepresentation
        return [
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": Base64URL.encode(raw.prefix(32)), "y": Base64URL.encode(raw.suffix(32)),
        ]
    }

    /// A JWKS document with the public keys of `keys`.
    public static func jwks(_ keys: [SigningKey]) -> String {
        let document = ["keys": keys.map(\.publicJWK)]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The RFC 7638 thumbprint of the public key: a stable `kid`.
    static func thumbprint(_ key: P256.Signing.PublicKey) -> String {
        let raw = key.rawRepresentation
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))"}"#
        return Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))))
    }

    /// Adds the key to a collection for signing.
    public func add(to keys: JWTKeyCollection) async throws {
        await keys.add(ecdsa: try ES256PrivateKey(pem: pem), kid: JWKIdentifier(string: kid))
    }
}

public enum Base64URL {
    public static func encode<D: DataProtocol>(_ data: D) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Verified tokens by the SHA-256 of the whole token, each until it expires; at most `capacity`
/// (past that, expired ones go, then everything).
final class VerifiedTokens: @unchecked Sendable {
    struct Entry: Sendable {
        let user: AuthenticatedUser
        let issuedAt: Date
        let expires: Date
    }

    private let lock = NSLock()
    private var entries: [SHA256Digest: Entry] = [:]
    private let capacity: Int

    init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    func entry(for digest: SHA256Digest, now: Date) -> Entry? {
        lock.withLock {
            guard let entry = entries[digest] else { return nil }
            guard entry.expires > now else {
                entries[digest] = nil
                return nil
            }
            return entry
        }
    }

    func keep(_ entry: Entry, for digest: SHA256Digest, now: Date) {
        lock.withLock {
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[digest] = entry
        }
    }
}
