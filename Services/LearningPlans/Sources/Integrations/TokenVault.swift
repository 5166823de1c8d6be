import Crypto
import Foundation

/// Seals provider tokens for storage with AES-256-GCM. Each sealed token is bound to its
/// (learner, provider) row as associated data, so a token copied to another row does not open;
/// `keyID` (a digest of the key) says which key sealed a row.
///
/// Keys rotate without a learner reconnecting: the current key seals; previous keys still open
/// what they sealed, and rows under them are sealed again under the current key
/// (`Integrations.reseal`); next keys (the one a rolling change is about to make current) only
/// open, so a replica not yet changed reads what changed replicas seal, and never seals back.
public struct TokenVault: Sendable {
    let key: SymmetricKey
    public let keyID: String
    /// Keys that open but do not seal, by their id.
    let others: [String: SymmetricKey]
    /// The ids of the previous keys: their rows are to be sealed again.
    public let previousKeyIDs: [String]

    public enum Failure: Error, Equatable {
        case invalidKey
        case cannotOpen
        /// Sealed under a key this vault does not hold.
        case unknownKey(String)
    }

    /// - Parameters:
    ///   - encodedKey: the current key, 32 random bytes, base64 (`openssl rand -base64 32`).
    ///   - previousKeys: keys rotated out (each 32 bytes, base64).
    ///   - nextKeys: keys about to become current.
    public init(encodedKey: String, previousKeys: [String] = [], nextKeys: [String] = []) throws {
        (key, keyID) = try Self.decode(encodedKey)
        var others: [String: SymmetricKey] = [:]
        var previous: [String] = []
        for (encoded, isPrevious) in previousKeys.map({ ($0, true) }) + nextKeys.map({ ($0, false) }) {
            let (other, id) = try Self.decode(encoded)
            guard id != keyID else { continue }
            others[id] = other
            if isPrevious { previous.append(id) }
        }
        self.others = others
        previousKeyIDs = previous.sorted()
    }

    static func decode(_ encoded: String) throws -> (SymmetricKey, String) {
        guard let bytes = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else { throw Failure.invalidKey }
        return (SymmetricKey(data: bytes), SHA256.hash(data: bytes).prefix(6).map { String(format: "%02x", $0) }.joined())
    }

    /// The ids of every key but the current one.
    public var otherKeyIDs: [String] { others.keys.sorted() }

    static func context(user: UUID, provider: String) -> Data { Data("\(user.lowercased)/\(provider)".utf8) }

    public func seal(_ token: String, user: UUID, provider: String) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(token.utf8), using: key, authenticating: Self.context(user: user, provider: provider)).combined else {
            throw Failure.cannotOpen
        }
        return combined
    }

    /// Opens a token sealed under the key `keyID` (the current one by default).
    public func open(_ sealed: Data, keyID sealedWith: String? = nil, user: UUID, provider: String) throws -> String {
        let id = sealedWith ?? keyID
        guard let key = id == keyID ? key : others[id] else { throw Failure.unknownKey(id) }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return String(decoding: try AES.GCM.open(box, using: key, authenticating: Self.context(user: user, provider: provider)), as: UTF8.self)
        } catch {
            throw Failure.cannotOpen
        }
    }
}
