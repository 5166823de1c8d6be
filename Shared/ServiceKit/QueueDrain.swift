import Database
import Foundation
import Logging
import ServiceLifecycle

/// The loop of a worker that drains a table-backed queue: woken at once by the queue's NOTIFY
/// channel, and at least every second anyway (for work that becomes due with time, or a signal
/// missed while reconnecting), until graceful shutdown.
public enum QueueDrain {
    /// Runs `step` again and again; `step` answers whether more work may be waiting right now.
    public static func run(
        channel: String, listenURL: String, name: String, logger: Logger, step: @escaping @Sendable () async throws -> Bool
    ) async {
        let listener = PostgresListener(url: listenURL, channels: [channel], name: name, logger: logger)
        let wake = WakeSignal()
        await withDiscardingTaskGroup { group in
            group.addTask { for await _ in listener.events { wake.signal() } }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        if try await !step() { await wake.wait(timeout: .seconds(1)) }
                    } catch {
                        logger.warning("\(name) queue: a step failed, retrying", metadata: ["error": "\(error)"])
                        await wake.wait(timeout: .seconds(2))
                    }
                }
            }
            listener.stop()
            group.cancelAll()
        }
    }
}
