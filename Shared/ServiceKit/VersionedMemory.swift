import Foundation

/// A value read from the database, kept in memory with the version it was read at and used while
/// that version holds: the caller reads the version (one small query, often with other work) and
/// the value only when the version moved.
public final class VersionedMemory<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var version: Int64?
    private var value: Value?

    public init() {}

    /// The value kept at `version`, if that is the one kept.
    public func kept(at version: Int64) -> Value? {
        lock.withLock { self.version == version ? value : nil }
    }

    /// The value kept at `version`, else `load()`, kept under it. Load after reading the version:
    /// a value is then never older than the version it is kept under (at worst newer, and
    /// replaced when the version moves).
    public func value(at version: Int64, load: () throws -> Value) rethrows -> Value {
        if let kept = kept(at: version) { return kept }
        let loaded = try load()
        lock.withLock {
            self.version = version
            value = loaded
        }
        return loaded
    }
}
