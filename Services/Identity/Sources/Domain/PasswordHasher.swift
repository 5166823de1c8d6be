import HummingbirdBcrypt
import NIOPosix

/// bcrypt, run on threads of its own so that hashing (hundreds of milliseconds by design) never
/// holds up request handling.
public final class PasswordHasher: Sendable {
    public let cost: UInt8
    private let threadPool: NIOThreadPool

    public init(cost: UInt8, threads: Int = 2) {
        self.cost = cost
        threadPool = NIOThreadPool(numberOfThreads: threads)
        threadPool.start()
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await threadPool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await threadPool.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    public func shutdown() async throws {
        try await threadPool.shutdownGracefully()
    }
}
