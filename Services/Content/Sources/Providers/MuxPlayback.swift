import Foundation
import JWTKit

/// Signed playback for Mux videos with a `signed` playback policy: a short-lived RS256 token per
/// request, signed with the account's signing key (`kid` names it to Mux), never stored.
public struct MuxPlayback: Sendable {
    /// Mux's audiences: `v` video, `t` thumbnail.
    public enum Audience: String, Sendable {
        case video = "v"
        case thumbnail = "t"
    }

    public struct Claims: JWTPayload, Equatable {
        public var sub: SubjectClaim
        public var aud: AudienceClaim
        public var exp: ExpirationClaim

        public func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    public struct Grant: Codable, Sendable, Equatable {
        public var playbackId: String
        public var streamUrl: String
        public var thumbnailUrl: String
        public var token: String
        public var thumbnailToken: String
        public var expiresAt: Date
    }

    public static let lifetime: TimeInterval = 3600

    let keys: JWTKeyCollection
    let keyID: String
    let streamBase: String
    let imageBase: String

    /// - Parameter privateKey: the signing key as Mux hands it out (base64 of a PEM) or as a PEM.
    public init(keyID: String, privateKey: String, streamBase: String = "https://stream.mux.com", imageBase: String = "https://image.mux.com") async throws {
        let pem: String
        if privateKey.contains("-----BEGIN") {
            pem = privateKey
        } else if let data = Data(base64Encoded: privateKey.trimmingCharacters(in: .whitespacesAndNewlines)),
            let decoded = String(data: data, encoding: .utf8), decoded.contains("-----BEGIN")
        {
            pem = decoded
        } else {
            throw MuxKeyError.unreadable
        }
        let key = try Insecure.RSA.PrivateKey(pem: pem)
        keys = JWTKeyCollection()
        await keys.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: keyID))
        self.keyID = keyID
        self.streamBase = streamBase
        self.imageBase = imageBase
    }

    public enum MuxKeyError: Error { case unreadable }

    /// A token for `playbackID` and `audience`, valid for an hour from `now`.
    public func token(playbackID: String, audience: Audience, now: Date) async throws -> String {
        let claims = Claims(sub: SubjectClaim(value: playbackID), aud: AudienceClaim(value: audience.rawValue), exp: ExpirationClaim(value: now.addingTimeInterval(Self.lifetime)))
        return try await keys.sign(claims, kid: JWKIdentifier(string: keyID))
    }

    public func grant(playbackID: String, now: Date) async throws -> Grant {
        let video = try await token(playbackID: playbackID, audience: .video, now: now)
        let thumbnail = try await token(playbackID: playbackID, audience: .thumbnail, now: now)
        return Grant(
            playbackId: playbackID,
            streamUrl: "\(streamBase)/\(playbackID).m3u8?token=\(video)",
            thumbnailUrl: "\(imageBase)/\(playbackID)/thumbnail.jpg?token=\(thumbnail)",
            token: video, thumbnailToken: thumbnail,
            expiresAt: now.addingTimeInterval(Self.lifetime))
    }
}
