import Foundation
import Logging

/// Consumes one queue with manual acknowledgements and a bounded prefetch, on a connection that
/// lives on a thread of its own. Acks are handed to that thread, which folds them: it sends one
/// `basic.ack` with `multiple` up to the highest delivery whose predecessors are all settled, so
/// deliveries may be acknowledged in any order and a batch costs one frame.
/// After a lost connection it reconnects with backoff and consumes again; messages that were
/// delivered but not acknowledged are redelivered by the broker.
public final class AMQPConsumer: Sendable {
    /// Every delivery, in order, until `stop()`.
    public let deliveries: AsyncStream<IncomingMessage>
    private let shared: ConsumerShared

    /// - Parameters:
    ///   - arguments: `basic.consume` arguments, e.g. `x-stream-offset` for a stream.
    public init(url: String, queue: String, prefetch: UInt16, name: String, arguments: AMQPTable = [:], logger: Logger) throws {
        let endpoint = try AMQPEndpoint(url: url)
        let (stream, continuation) = AsyncStream<IncomingMessage>.makeStream()
        deliveries = stream
        shared = ConsumerShared()
        let loop = ConsumerLoop(
            endpoint: endpoint, queue: queue, prefetch: prefetch, consumerTag: "\(name).\(ProcessInfo.processInfo.processIdentifier)",
            arguments: arguments, shared: shared, continuation: continuation, logger: logger)
        let thread = Thread { loop.run() }
        thread.name = "\(name)-amqp-consume"
        thread.start()
    }

    /// Acknowledges a delivery: the broker forgets it.
    public func ack(_ message: IncomingMessage) { shared.enqueue(.ack(message.deliveryTag, message.connectionGeneration)) }

    /// Rejects a delivery: back to the queue with `requeue`, else dead-lettered.
    public func reject(_ message: IncomingMessage, requeue: Bool) {
        shared.enqueue(.reject(message.deliveryTag, message.connectionGeneration, requeue: requeue))
    }

    /// Whether the consuming connection is up and consuming now.
    public var isConsuming: Bool { shared.consuming }

    /// The last reason the consumer could not consume, if it cannot now.
    public var lastError: String? { shared.lastError }

    /// Closes the connection (unacknowledged deliveries go back to the queue) and ends `deliveries`.
    public func stop() { shared.stop() }
}

enum ConsumerCommand: Sendable {
    case ack(UInt64, Int)
    case reject(UInt64, Int, requeue: Bool)
}

final class ConsumerShared: @unchecked Sendable {
    let wakeup = Wakeup()
    private let lock = NSLock()
    private var commands: [ConsumerCommand] = []
    private var _stopped = false
    private var _consuming = false
    private var _lastError: String?

    var stopped: Bool { lock.withLock { _stopped } }
    var consuming: Bool {
        get { lock.withLock { _consuming } }
        set { lock.withLock { _consuming = newValue } }
    }
    var lastError: String? {
        get { lock.withLock { _lastError } }
        set { lock.withLock { _lastError = newValue } }
    }

    func enqueue(_ command: ConsumerCommand) {
        lock.withLock { commands.append(command) }
        wakeup.signal()
    }

    func takeCommands() -> [ConsumerCommand] {
        lock.withLock {
            let taken = commands
            commands.removeAll(keepingCapacity: true)
            return taken
        }
    }

    func stop() {
        lock.withLock { _stopped = true }
        wakeup.signal()
    }
}

final class ConsumerLoop: @unchecked Sendable {
    let endpoint: AMQPEndpoint
    let queue: String
    let prefetch: UInt16
    let consumerTag: String
    let arguments: AMQPTable
    let shared: ConsumerShared
    let continuation: AsyncStream<IncomingMessage>.Continuation
    let logger: Logger
    private var generation = 0
    /// The node the next connection tries first: a random one at start, so that replicas spread
    /// over a cluster's nodes, then the one after the node last connected to, so that a connection
    /// lost with its node goes to another.
    private var nextNode: Int

    init(
        endpoint: AMQPEndpoint, queue: String, prefetch: UInt16, consumerTag: String, arguments: AMQPTable, shared: ConsumerShared,
        continuation: AsyncStream<IncomingMessage>.Continuation, logger: Logger
    ) {
        self.arguments = arguments
        self.endpoint = endpoint
        self.queue = queue
        self.prefetch = prefetch
        self.consumerTag = consumerTag
        self.shared = shared
        self.continuation = continuation
        self.logger = logger
        nextNode = Int.random(in: 0..<endpoint.nodes.count)
    }

    func run() {
        var backoff: TimeInterval = 0.1
        while !shared.stopped {
            do {
                let connection = try AMQPConnection.open(endpoint, firstNode: nextNode)
                nextNode = (connection.nodeIndex + 1) % endpoint.nodes.count
                generation += 1
                try connection.setPrefetch(prefetch)
                try connection.declareQueue(queue, passive: true)
                try connection.consume(queue: queue, consumerTag: consumerTag, arguments: arguments)
                shared.consuming = true
                shared.lastError = nil
                backoff = 0.1
                logger.info("consuming", metadata: ["queue": "\(queue)", "node": "\(connection.node)"])
                try follow(connection)
                connection.close()
            } catch {
                shared.consuming = false
                shared.lastError = "\(error)"
                _ = shared.takeCommands() // acks for a dead connection's tags mean nothing now
                if shared.stopped { break }
                logger.warning("consumer connection failed, retrying", metadata: ["queue": "\(queue)", "error": "\(error)", "backoffSeconds": "\(backoff)"])
                _ = shared.wakeup.wait(socket: -1, timeout: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
        shared.consuming = false
        continuation.finish()
    }

    private func follow(_ connection: AMQPConnection) throws {
        var settlement = AckFolding()
        while !shared.stopped {
            try settle(shared.takeCommands(), &settlement, on: connection)
            if !connection.hasBufferedInput {
                _ = shared.wakeup.wait(socket: connection.socketDescriptor, timeout: 1)
            }
            // A zero timeout: take what has arrived (this also answers heartbeats).
            while let message = try connection.nextDelivery(timeout: 0, generation: generation) {
                settlement.delivered(message.deliveryTag)
                continuation.yield(message)
                if !connection.hasBufferedInput { break }
            }
        }
        // Apply the acks already given before closing, so finished work is not redelivered.
        try? settle(shared.takeCommands(), &settlement, on: connection)
    }

    private func settle(_ commands: [ConsumerCommand], _ settlement: inout AckFolding, on connection: AMQPConnection) throws {
        guard !commands.isEmpty else { return }
        for command in commands {
            switch command {
            case .ack(let tag, let generation) where generation == self.generation:
                settlement.acked(tag)
            case .reject(let tag, let generation, let requeue) where generation == self.generation:
                try connection.reject(tag, requeue: requeue)
                settlement.rejected(tag)
            default:
                break
            }
        }
        if let upTo = settlement.takeAck() { try connection.ack(upTo, multiple: true) }
    }
}

/// Folds acknowledgements given in any order into cumulative ones: `takeAck()` answers the
/// highest acknowledged tag below which every delivery is settled (acknowledged or rejected), once.
struct AckFolding {
    /// Deliveries not yet folded, in delivery order, and how each was settled (nil: not yet).
    private var pending: [(tag: UInt64, acked: Bool?)] = []
    private var head = 0
    private var index: [UInt64: Int] = [:]

    mutating func delivered(_ tag: UInt64) {
        index[tag] = pending.count
        pending.append((tag, nil))
    }

    mutating func acked(_ tag: UInt64) { mark(tag, acked: true) }
    mutating func rejected(_ tag: UInt64) { mark(tag, acked: false) }

    private mutating func mark(_ tag: UInt64, acked: Bool) {
        guard let position = index.removeValue(forKey: tag) else { return }
        pending[position].acked = acked
    }

    /// The tag to acknowledge with `multiple`, if the settled prefix holds an acknowledged one.
    mutating func takeAck() -> UInt64? {
        var upTo: UInt64?
        while head < pending.count, let acked = pending[head].acked {
            if acked { upTo = pending[head].tag }
            head += 1
        }
        if head > 1024 && head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
            for (position, entry) in pending.enumerated() where entry.acked == nil { index[entry.tag] = position }
        }
        return upTo
    }

    var outstanding: Int { index.count }
}
