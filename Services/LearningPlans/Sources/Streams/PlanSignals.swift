import Database
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// One listener on `plan_progress` for the whole process, however many plan streams are open: a
/// stream waits on its plan's signal and is woken only when that plan moves (the worker sends the
/// plan's id), or when the listener (re)connected and a signal may have been missed.
public final class PlanSignals: Service, @unchecked Sendable {
    let listenURL: String
    let logger: Logger
    private let lock = NSLock()
    private var waiting: [String: [ObjectIdentifier: WakeSignal]] = [:]

    public init(listenURL: String, logger: Logger) {
        self.listenURL = listenURL
        self.logger = logger
    }

    /// A signal for the plan's moves, until `stop(watching:_:)`.
    func watch(_ plan: String) -> WakeSignal {
        let signal = WakeSignal()
        lock.withLock { waiting[plan, default: [:]][ObjectIdentifier(signal)] = signal }
        return signal
    }

    func stop(watching plan: String, _ signal: WakeSignal) {
        lock.withLock {
            waiting[plan]?[ObjectIdentifier(signal)] = nil
            if waiting[plan]?.isEmpty == true { waiting[plan] = nil }
        }
    }

    private func wake(_ plan: String?) {
        let signals = lock.withLock { plan.map { Array((waiting[$0] ?? [:]).values) } ?? waiting.values.flatMap(\.values) }
        for signal in signals { signal.signal() }
    }

    public func run() async throws {
        let listener = PostgresListener(url: listenURL, channels: [PlanStore.progressChannel], name: "plan-streams", logger: logger)
        await withDiscardingTaskGroup { group in
            group.addTask {
                // The first LISTEN is not announced as a reconnection, but a stream that began
                // watching before it may have missed a move: every stream looks again once it is up.
                while !listener.isConnected, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)) }
                self.wake(nil)
            }
            group.addTask {
                for await event in listener.events {
                    switch event {
                    case .notification(let notification): self.wake(notification.payload)
                    case .reconnected: self.wake(nil)
                    }
                }
            }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
            listener.stop()
            group.cancelAll()
        }
    }
}
