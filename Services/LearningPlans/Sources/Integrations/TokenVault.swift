import Crypto
import Foundation

/// Seals provider tokens for storage with AES-256-GCM. Each sealed token is bound to its
/// (learner, provider) row as associated data, so a token copied to another row does not open;
/// `keyID` (a digest of the key) says which key sealed a row, for rotation.
public struct TokenVault: Sendable {
    let key: SymmetricKey
    public let keyID: String

    public enum Failure: Error, Equatable {
        case invalidKey
        case cannotOpen
    }

    /// `encodedKey`: 32 random bytes, base64 (`openssl rand -base64 32`).
    public init(encodedKey: String) throws {
        guard let bytes = Data(base64Encoded: encodedKey.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else { throw Failure.invalidKey }
        key = SymmetricKey(data: bytes)
        keyID = SHA256.hash(data: bytes).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    static func context(user: UUID, provider: String) -> Data { Data("\(user.lowercased)/\(provider)".utf8) }

    public func seal(_ token: String, user: UUID, provider: String) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(token.utf8), using: key, authenticating: Self.context(user: user, provider: provider)).combined else {
            throw Failure.cannotOpen
        }
        return combined
    }

    public func open(_ sealed: Data, user: UUID, provider: String) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return String(decoding: try AES.GCM.open(box, using: key, authenticating: Self.context(user: user, provider: provider)), as: UTF8.self)
        } catch {
            throw Failure.cannotOpen
        }
    }
}
