import Foundation
import Logging

/// Publishes with publisher confirms on a connection that lives on a thread of its own.
///
/// A batch is pipelined: up to `confirmWindow` messages are in flight before the thread waits
/// for acks. Each message's outcome is reported (`confirmed`, `nacked`, `returned`); a message
/// whose answer never came because the connection broke is reported by the thrown error — treat
/// every message of that batch not reported confirmed as not sent.
public final class AMQPPublisher: Sendable {
    private let shared: PublisherShared

    public init(
        url: String, name: String, confirmWindow: Int = 1000, confirmTimeout: TimeInterval = 30, logger: Logger
    ) throws {
        let endpoint = try AMQPEndpoint(url: url)
        shared = PublisherShared()
        let loop = PublisherLoop(
            endpoint: endpoint, window: max(1, confirmWindow), confirmTimeout: confirmTimeout, shared: shared,
            logger: logger)
        let thread = Thread { loop.run() }
        thread.name = "\(name)-amqp-publish"
        thread.start()
    }

    /// Publishes `messages` in order and returns each one's outcome, in the same order.
    ///
    /// - Parameter orderingHeader: a header naming each message's ordering key (an aggregate).
    ///   A message is sent only once the broker has confirmed the batch's previous message with
    ///   the same key; when that one was refused, the rest of that key's messages are `held`, so
    ///   no message ever overtakes a refused one of its key. Messages of different keys stay in
    ///   flight together.
    public func publish(_ messages: [OutgoingMessage], orderingHeader: String? = nil) async throws -> [PublishOutcome] {
        if messages.isEmpty { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let request = PublishRequest(messages: messages, orderingHeader: orderingHeader, continuation: continuation)
            if !shared.enqueue(request) {
                continuation.resume(throwing: AMQPError.shutdown)
            }
        }
    }

    /// Publishes one message and returns its outcome.
    public func publish(_ message: OutgoingMessage) async throws -> PublishOutcome {
        try await publish([message])[0]
    }

    /// Whether the publishing connection is up (it connects on first use and after a loss).
    public var isConnected: Bool { shared.connected }

    /// Why the broker blocks this connection (a memory or disk alarm), while it does. Publishing
    /// waits meanwhile instead of timing out and reconnecting in a loop.
    public var blockedReason: String? { shared.blocked }

    /// How many times an established connection was lost. Messages in flight then are reported
    /// by the thrown error and are sent again by whoever retries them: at least once, never lost.
    public var connectionsLost: Int { shared.connectionsLost }

    /// Stops the thread once the queued batches are done.
    public func shutdown() { shared.shutdown() }
}

struct PublishRequest: Sendable {
    let messages: [OutgoingMessage]
    let orderingHeader: String?
    let continuation: CheckedContinuation<[PublishOutcome], any Error>
}

final class PublisherShared: @unchecked Sendable {
    let wakeup = Wakeup()
    private let lock = NSLock()
    private var requests: [PublishRequest] = []
    private var stopped = false
    private var _connected = false
    private var _blocked: String?
    private var _connectionsLost = 0

    var connected: Bool {
        get { lock.withLock { _connected } }
        set { lock.withLock { _connected = newValue } }
    }

    var blocked: String? {
        get { lock.withLock { _blocked } }
        set { lock.withLock { _blocked = newValue } }
    }

    var connectionsLost: Int { lock.withLock { _connectionsLost } }

    func connectionLost() { lock.withLock { _connectionsLost += 1 } }

    func enqueue(_ request: PublishRequest) -> Bool {
        let accepted = lock.withLock {
            if stopped { return false }
            requests.append(request)
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    /// The next request, or `.stop` after `shutdown()` once nothing is queued.
    enum Next { case request(PublishRequest), idle, stop }

    func next() -> Next {
        lock.withLock {
            if !requests.isEmpty { return .request(requests.removeFirst()) }
            return stopped ? .stop : .idle
        }
    }

    func shutdown() {
        lock.withLock { stopped = true }
        wakeup.signal()
    }
}

final class PublisherLoop: @unchecked Sendable {
    let endpoint: AMQPEndpoint
    let window: Int
    let confirmTimeout: TimeInterval
    let shared: PublisherShared
    let logger: Logger
    private var connection: AMQPConnection?
    private var tracker = ConfirmTracker()
    private var nextAttempt = Date.distantPast
    private var backoff: TimeInterval = 0.1
    /// The node the next connection tries first (see `ConsumerLoop.nextNode`).
    private var nextNode: Int

    init(endpoint: AMQPEndpoint, window: Int, confirmTimeout: TimeInterval, shared: PublisherShared, logger: Logger) {
        self.endpoint = endpoint
        nextNode = Int.random(in: 0..<endpoint.nodes.count)
        self.window = window
        self.confirmTimeout = confirmTimeout
        self.shared = shared
        self.logger = logger
    }

    func run() {
        _ = try? connected() // connect early, so readiness reflects the broker before the first publish
        while true {
            switch shared.next() {
            case .stop:
                connection?.close()
                connection = nil
                shared.connected = false
                return
            case .idle:
                idle()
            case .request(let request):
                do {
                    let outcomes = try publish(request.messages, orderingHeader: request.orderingHeader)
                    request.continuation.resume(returning: outcomes)
                } catch {
                    drop(error)
                    request.continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Nothing to publish: wait for work while answering heartbeats and noticing a dead socket.
    private func idle() {
        _ = shared.wakeup.wait(socket: connection?.socketDescriptor ?? -1, timeout: 1)
        guard let connection else {
            if Date() >= nextAttempt { _ = try? connected() }
            return
        }
        do {
            while let frame = try connection.nextFrame(timeout: 0) {
                if case .cancelled = frame { break }
                noteBlocking(frame)
            }
        } catch {
            drop(error)
        }
    }

    private func connected() throws -> AMQPConnection {
        if let connection { return connection }
        let now = Date()
        if now < nextAttempt {
            throw AMQPError.connection("reconnecting in \(String(format: "%.1f", nextAttempt.timeIntervalSince(now))) s")
        }
        do {
            let fresh = try AMQPConnection.open(endpoint, firstNode: nextNode)
            nextNode = (fresh.nodeIndex + 1) % endpoint.nodes.count
            try fresh.enableConfirms()
            connection = fresh
            tracker = ConfirmTracker()
            backoff = 0.1
            shared.connected = true
            logger.info("publisher connected", metadata: ["node": "\(fresh.node)"])
            return fresh
        } catch {
            nextAttempt = Date().addingTimeInterval(backoff)
            backoff = min(backoff * 2, 5)
            throw error
        }
    }

    private func drop(_ error: any Error) {
        if connection != nil {
            logger.warning("publisher connection dropped", metadata: ["error": "\(error)"])
            shared.connectionLost()
        }
        connection?.close()
        connection = nil
        shared.connected = false
        shared.blocked = nil
    }

    /// Follows the broker's `connection.blocked` and `connection.unblocked`.
    private func noteBlocking(_ frame: AMQPConnection.Frame) {
        switch frame {
        case .blocked(let reason):
            shared.blocked = reason.isEmpty ? "blocked by the broker" : reason
            logger.warning("the broker blocks publishing; waiting", metadata: ["reason": "\(reason)"])
        case .unblocked:
            shared.blocked = nil
            logger.info("the broker unblocked publishing")
        default:
            break
        }
    }

    private func publish(_ messages: [OutgoingMessage], orderingHeader: String?) throws -> [PublishOutcome] {
        let connection = try connected()
        var outcomes = [PublishOutcome?](repeating: nil, count: messages.count)
        var indexByMessageID = [String: Int]()
        var lastByKey = [String: Int]()
        for (index, message) in messages.enumerated() {
            if let orderingHeader, let key = message.properties.headers[orderingHeader]?.stringValue {
                if let previous = lastByKey[key] {
                    while outcomes[previous] == nil { try readConfirm(connection, &outcomes, indexByMessageID) }
                    if outcomes[previous] != .confirmed {
                        outcomes[index] = .held
                        lastByKey[key] = index
                        continue
                    }
                }
                lastByKey[key] = index
            }
            // A blocked connection is not read by the broker: writing more would only fill the
            // socket. Wait for `connection.unblocked`, answering heartbeats meanwhile.
            while shared.blocked != nil {
                if let frame = try connection.nextFrame(timeout: 1) { try settle(frame, &outcomes, indexByMessageID) }
            }
            while tracker.outstanding >= window {
                try readConfirm(connection, &outcomes, indexByMessageID)
            }
            if let id = message.properties.messageID { indexByMessageID[id] = index }
            try connection.publish(message)
            tracker.published(index: index)
        }
        while tracker.outstanding > 0 {
            try readConfirm(connection, &outcomes, indexByMessageID)
        }
        let result = outcomes.map { $0 ?? .nacked }
        if result.contains(.nacked) {
            // A queue refused. After a failover a channel can keep a stale view of a queue's
            // leader and refuse everything routed there from then on, while a fresh channel is
            // served: the next batch starts on a new connection (and node).
            logger.info("the broker refused messages; reconnecting before the next batch")
            connection.close()
            self.connection = nil
            shared.connected = false
        }
        return result
    }

    /// Reads one confirm-related frame, or fails after `confirmTimeout` without one.
    private func readConfirm(
        _ connection: AMQPConnection, _ outcomes: inout [PublishOutcome?], _ indexByMessageID: [String: Int]
    ) throws {
        guard let frame = try connection.nextFrame(timeout: confirmTimeout) else {
            // While the broker blocks the connection, confirms wait for it: not a failure.
            if shared.blocked != nil { return }
            throw AMQPError.timeout("no publisher confirm within \(confirmTimeout) s")
        }
        try settle(frame, &outcomes, indexByMessageID)
    }

    private func settle(_ frame: AMQPConnection.Frame, _ outcomes: inout [PublishOutcome?], _ indexByMessageID: [String: Int]) throws {
        switch frame {
        case .ack(let tag, let multiple):
            for index in tracker.settle(tag: tag, multiple: multiple) where outcomes[index] == nil {
                outcomes[index] = .confirmed
            }
        case .nack(let tag, let multiple):
            for index in tracker.settle(tag: tag, multiple: multiple) where outcomes[index] == nil {
                outcomes[index] = .nacked
            }
        case .returned(let code, let text, let messageID):
            // The return comes before the ack of the same message; the ack must not hide it.
            if let messageID, let index = indexByMessageID[messageID] {
                outcomes[index] = .returned(code: code, text: text)
            }
        case .blocked, .unblocked:
            noteBlocking(frame)
        case .cancelled, .other:
            break
        }
    }
}
