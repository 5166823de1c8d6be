import Crypto
import Foundation
import ServiceKit

/// One-click unsubscribe links (RFC 8058): a link per user, signed with a secret so that nobody
/// can unsubscribe someone else, and stable so that an old mail's link still works. A token is as
/// good as a password for that one thing: never log a link or a token.
public struct UnsubscribeLinks: Sendable, CustomStringConvertible {
    let key: SymmetricKey
    /// Secrets of earlier links: verified, never signed with (a rotation keeps mail already sent working).
    let previousKeys: [SymmetricKey]
    /// Where notifications is reached from outside, e.g. https://api.example.com.
    public let baseURL: String

    public init(secret: String, previousSecrets: [String] = [], baseURL: String) {
        key = SymmetricKey(data: Data(secret.utf8))
        previousKeys = previousSecrets.map { SymmetricKey(data: Data($0.utf8)) }
        self.baseURL = baseURL.withoutTrailingSlash
    }

    public func token(for user: UUID) -> String {
        Self.token(for: user, key: key)
    }

    static func token(for user: UUID, key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("unsubscribe:\(user.uuidString.lowercased())".utf8), using: key)
        return Base64URL.encode(Data(mac))
    }

    public func url(for user: UUID) -> String {
        "\(baseURL)/v1/notifications/unsubscribe?user=\(user.uuidString.lowercased())&token=\(token(for: user))"
    }

    public var description: String { "UnsubscribeLinks(\(baseURL))" }

    /// Whether `token` is the user's under the current secret or a previous one, compared in
    /// constant time.
    public func verify(_ token: String, for user: UUID) -> Bool {
        ([key] + previousKeys).contains { WebhookSignature.constantTimeEqual(Array(Self.token(for: user, key: $0).utf8), Array(token.utf8)) }
    }
}
