import HummingbirdBcrypt
import Metrics
import NIOConcurrencyHelpers
import NIOPosix

/// bcrypt, run on threads of its own so that hashing (hundreds of milliseconds by design) never
/// holds up request handling. The queue in front of the threads is bounded: past `maxQueued`
/// waiting jobs a request is turned away at once (`Busy`) instead of waiting behind work it
/// cannot overtake, so a flood of hashing requests cannot stall every sign-in for minutes.
public final class PasswordHasher: Sendable {
    public let cost: UInt8
    public let threads: Int
    public let maxQueued: Int
    private let threadPool: NIOThreadPool
    private let pending = NIOLockedValueBox(0)
    private let hashes = Counter(label: "password_hashes_total", dimensions: [("operation", "hash")])
    private let verifications = Counter(label: "password_hashes_total", dimensions: [("operation", "verify")])
    private let rejected = Counter(label: "password_hash_rejected_total")

    /// Too many hashes are waiting already.
    public struct Busy: Error, Equatable {}

    /// `maxQueued` defaults to eight jobs per thread waiting.
    public init(cost: UInt8, threads: Int = 2, maxQueued: Int? = nil) {
        self.cost = cost
        self.threads = max(1, threads)
        self.maxQueued = max(0, maxQueued ?? self.threads * 8)
        threadPool = NIOThreadPool(numberOfThreads: self.threads)
        threadPool.start()
    }

    /// Jobs running or waiting now.
    public var inFlight: Int { pending.withLockedValue { $0 } }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await run(hashes) { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await run(verifications) { Bcrypt.verify(password, hash: hash) }
    }

    private func run<T: Sendable>(_ counter: Counter, _ work: @escaping @Sendable () -> T) async throws -> T {
        let limit = threads + maxQueued
        let admitted = pending.withLockedValue { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else {
            rejected.increment()
            throw Busy()
        }
        defer { pending.withLockedValue { $0 -= 1 } }
        counter.increment()
        return try await threadPool.runIfActive(work)
    }

    public func shutdown() async throws {
        try await threadPool.shutdownGracefully()
    }
}
