import Crypto
import Foundation

/// Signing as the Standard Webhooks specification (standardwebhooks.com) says: a secret is
/// `whsec_` and the base64 of its key; a signature is `v1,` and the base64 HMAC-SHA256 of
/// `<webhook-id>.<webhook-timestamp>.<body>`; several signatures (one per secret while one
/// rolls) are separated by spaces in `webhook-signature`.
public enum StandardWebhooks {
    public static let prefix = "whsec_"

    /// A new secret: 32 random bytes.
    public static func newSecret() -> String {
        prefix + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    }

    /// The key a secret names, or nil when it is not one.
    public static func key(of secret: String) -> SymmetricKey? {
        guard secret.hasPrefix(prefix), let bytes = Data(base64Encoded: String(secret.dropFirst(prefix.count))), bytes.count >= 24 else {
            return nil
        }
        return SymmetricKey(data: bytes)
    }

    public static func signature(id: String, timestamp: Int64, body: [UInt8], secret: String) -> String? {
        guard let key = key(of: secret) else { return nil }
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    /// The three headers of one attempt, signed with every secret given.
    public static func headers(id: String, timestamp: Int64, body: [UInt8], secrets: [String]) -> [(String, String)] {
        [
            ("webhook-id", id),
            ("webhook-timestamp", "\(timestamp)"),
            ("webhook-signature", secrets.compactMap { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")),
        ]
    }
}

/// What an endpoint subscribes to: routing keys (`progress.lesson.completed.v1`), prefixes
/// ending in `.*` (`progress.*`, `progress.lesson.*`), or `*` for every public type.
public enum EventFilter {
    public static func matches(_ pattern: String, _ routingKey: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") { return routingKey.hasPrefix(String(pattern.dropLast())) }
        return pattern == routingKey
    }

    public static func matches(_ patterns: [String], _ routingKey: String) -> Bool {
        patterns.contains { matches($0, routingKey) }
    }
}
