import Database
import Foundation
import Logging
import ServiceLifecycle

/// The loop of every background worker: it runs a step again and again until graceful shutdown.
/// A step answers when it wants to run again: at once (more work may be waiting), after a
/// while (work becomes due then), or when woken (nil). Waiting, the loop wakes on the queue's
/// NOTIFY channel (when it has one), on the worker's own signal (when given one), or once `idle`
/// has passed, whichever comes first; a step that fails is logged and tried again after `backoff`.
public enum QueueDrain {
    public static func run(
        channel: String? = nil, listenURL: String? = nil, wake: WakeSignal = WakeSignal(), name: String, idle: Duration = .seconds(1),
        backoff: Duration = .seconds(2), logger: Logger, next step: @escaping @Sendable () async throws -> Duration?
    ) async {
        let listener = channel.flatMap { channel in
            listenURL.map { PostgresListener(url: $0, channels: [channel], name: name, logger: logger) }
        }
        await withDiscardingTaskGroup { group in
            if let listener {
                group.addTask { for await _ in listener.events { wake.signal() } }
            }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        let again = try await step().map { min($0, idle) } ?? idle
                        if again > .zero { await wake.wait(timeout: again) }
                    } catch {
                        logger.warning("\(name): a step failed, retrying", metadata: ["error": "\(error)"])
                        await wake.wait(timeout: backoff)
                    }
                }
            }
            listener?.stop()
            group.cancelAll()
        }
    }

    /// A loop whose step answers whether more work may be waiting right now.
    public static func run(
        channel: String? = nil, listenURL: String? = nil, name: String, idle: Duration = .seconds(1), backoff: Duration = .seconds(2),
        logger: Logger, step: @escaping @Sendable () async throws -> Bool
    ) async {
        await run(channel: channel, listenURL: listenURL, name: name, idle: idle, backoff: backoff, logger: logger) {
            try await step() ? .zero : nil
        }
    }
}

/// A background worker as a lifecycle service: its step on the drain loop, beside the HTTP
/// server, stopped with it.
public struct DrainingWorker: Service {
    public let name: String
    let channel: String?
    let listenURL: String?
    let wake: WakeSignal
    let idle: Duration
    let backoff: Duration
    let logger: Logger
    let step: @Sendable () async throws -> Duration?

    /// - Parameters:
    ///   - channel: the NOTIFY channel that wakes the worker at once (nil for work that only
    ///     becomes due with time), listened to on `listenURL`.
    ///   - idle: how long the worker waits when a step found nothing more to do.
    ///   - backoff: how long it waits after a step failed (a periodic sweep gives its own period,
    ///     so a sweep that keeps failing does not run every few seconds).
    ///   - step: answers whether more work may be waiting right now.
    public init(
        _ name: String, channel: String? = nil, listenURL: String? = nil, idle: Duration = .seconds(1), backoff: Duration = .seconds(2),
        logger: Logger, step: @escaping @Sendable () async throws -> Bool
    ) {
        self.init(name, channel: channel, listenURL: listenURL, idle: idle, backoff: backoff, logger: logger) { try await step() ? .zero : nil }
    }

    /// A worker whose step answers when it wants to run again (nil: when woken, or after `idle`),
    /// woken early by `wake` as well as by `channel`.
    public init(
        _ name: String, channel: String? = nil, listenURL: String? = nil, wake: WakeSignal = WakeSignal(), idle: Duration = .seconds(1),
        backoff: Duration = .seconds(2), logger: Logger, next step: @escaping @Sendable () async throws -> Duration?
    ) {
        self.name = name
        self.channel = channel
        self.listenURL = listenURL
        self.wake = wake
        self.idle = idle
        self.backoff = backoff
        self.logger = logger
        self.step = step
    }

    public func run() async throws {
        await QueueDrain.run(
            channel: channel, listenURL: listenURL, wake: wake, name: name, idle: idle, backoff: backoff, logger: logger, next: step)
    }
}

/// Runs `step` every `interval` until the service group shuts down; a failed step is logged as a
/// warning and tried again at the next tick (for gauges, sweeps and other periodic work).
public struct PeriodicTask: Service {
    let name: String
    let interval: Duration
    let step: @Sendable () async throws -> Void

    public init(_ name: String, every interval: Duration, _ step: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.step = step
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await step()
                } catch {
                    Logger(label: "syllabus.\(name)").warning("periodic task failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
