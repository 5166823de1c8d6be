import Foundation

/// A wake-up call between tasks: `signal()` wakes the task in `wait(timeout:)`, or the next one to
/// wait if none is waiting now. Used to start work at once on a NOTIFY and to fall back to a
/// timer when notifications are lost.
public final class WakeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: CheckedContinuation<Void, Never>?

    public init() {}

    public func signal() {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume()
        } else {
            pending = true
            lock.unlock()
        }
    }

    /// Returns on a signal, after `timeout`, or when the task is cancelled.
    public func wait(timeout: Duration) async {
        if consumePending() { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    self.signal()
                } catch {}
            }
            group.addTask {
                await withTaskCancellationHandler {
                    await self.suspend()
                } onCancel: {
                    self.signal()
                }
            }
            await group.next()
            group.cancelAll()
        }
        // A timer that fired while a real signal was being delivered leaves nothing behind.
        _ = consumePending()
    }

    private func consumePending() -> Bool {
        lock.withLock {
            let was = pending
            pending = false
            return was
        }
    }

    private func suspend() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if pending {
                pending = false
                lock.unlock()
                continuation.resume()
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
