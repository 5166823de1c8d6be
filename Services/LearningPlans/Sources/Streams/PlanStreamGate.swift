import Foundation
import ServiceKit

/// Counts the plan streams open on this replica and refuses one over `StreamLimits`
/// (`too_many_streams`). The table holds a learner only while they have a stream open, so it
/// never holds more learners than `overall`.
public final class PlanStreamGate: @unchecked Sendable {
    public let limits: StreamLimits
    private let lock = NSLock()
    private var open: [UUID: Int] = [:]
    private var total = 0

    public init(_ limits: StreamLimits) { self.limits = limits }

    /// A slot for one stream of `user`'s, held until released (or dropped).
    public func enter(_ user: UUID) throws -> PlanStreamSlot {
        let refusal: DomainError? = lock.withLock {
            if let refusal = limits.refusal(learnerOpen: open[user] ?? 0, overallOpen: total) { return refusal }
            open[user, default: 0] += 1
            total += 1
            return nil
        }
        if let refusal { throw refusal }
        return PlanStreamSlot { [self] in leave(user) }
    }

    private func leave(_ user: UUID) {
        lock.withLock {
            total -= 1
            if let count = open[user], count > 1 { open[user] = count - 1 } else { open[user] = nil }
        }
    }

    /// Streams open now: for `user`, and in all.
    func count(_ user: UUID) -> (learner: Int, overall: Int) { lock.withLock { (open[user] ?? 0, total) } }

    /// How many learners the table holds.
    var learners: Int { lock.withLock { open.count } }
}

/// One open stream's place. Released once, by `release()` or when the last reference goes (a
/// response never written still gives its place back).
public final class PlanStreamSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var onRelease: (@Sendable () -> Void)?

    init(_ onRelease: @escaping @Sendable () -> Void) { self.onRelease = onRelease }

    public func release() {
        let action = lock.withLock {
            defer { onRelease = nil }
            return onRelease
        }
        action?()
    }

    deinit { release() }
}
