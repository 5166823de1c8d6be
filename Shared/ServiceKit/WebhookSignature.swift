import Crypto
import Foundation

/// The webhook signature Stripe (`Stripe-Signature`) and Mux (`Mux-Signature`) both send:
/// `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">` (several `v1` while a secret rolls). Checked
/// on the raw body, before anything is parsed.
public enum WebhookSignature {
    public enum Failure: Error, Equatable {
        case missing
        case malformed
        case staleTimestamp
        case mismatch

        /// The 400 answered for it; `header` names the provider's header.
        public func problem(header: String) -> Problem {
            switch self {
            case .missing: Problem(.badRequest, code: "signature_missing", title: "The \(header) header is missing")
            case .malformed: Problem(.badRequest, code: "signature_malformed", title: "The \(header) header cannot be read")
            case .staleTimestamp: Problem(.badRequest, code: "signature_expired", title: "The signature's timestamp is outside the tolerance")
            case .mismatch: Problem(.badRequest, code: "signature_invalid", title: "The signature does not match the body")
            }
        }
    }

    public static let tolerance: TimeInterval = 300

    /// nil when the header carries a valid signature of `body` made within the tolerance.
    public static func verify(header: String?, body: [UInt8], secret: String, now: Date, tolerance: TimeInterval = tolerance) -> Failure? {
        guard let header, !header.isEmpty else { return .missing }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            if key == "t" { timestamp = Int64(value) }
            if key == "v1", let bytes = hexBytes(value) { signatures.append(bytes) }
        }
        guard let timestamp, !signatures.isEmpty else { return .malformed }
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { return .staleTimestamp }
        let expected = mac(body: body, timestamp: timestamp, secret: secret)
        // Every candidate is compared in full, in constant time.
        var matched = false
        for signature in signatures where constantTimeEqual(signature, expected) { matched = true }
        return matched ? nil : .mismatch
    }

    /// The header the provider would send for `body` at `timestamp` (for `syllabus stripe send` and tests).
    public static func header(body: [UInt8], secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(mac(body: body, timestamp: timestamp, secret: secret).map { String(format: "%02x", $0) }.joined())"
    }

    static func mac(body: [UInt8], timestamp: Int64, secret: String) -> [UInt8] {
        var message = Data("\(timestamp).".utf8)
        message.append(contentsOf: body)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8))))
    }

    /// Whether two secrets are equal, taking the same time wherever they differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
