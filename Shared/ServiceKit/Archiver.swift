import Database
import Foundation
import Logging
import MessageBus
import Metrics
import ServiceLifecycle

/// Copies every public event into the archive stream (`events.archive`).
///
/// It consumes the archive's feed (`events.archive.feed`, bound to every `<service>.events`
/// exchange) and publishes each message as it came — body, properties, routing key — to the
/// exchange bound to the stream alone (`events.archive.in`); a message is acknowledged once the
/// stream has confirmed its copy. While the stream refuses or does not answer (a node that held
/// its leader is lost, and no new one is elected yet), the copies wait and are tried again with
/// a growing pause, and the feed keeps everything after them: the archive falls behind, and no
/// producer waits for it.
///
/// The feed has a single active consumer, so one replica copies at a time, in the feed's order;
/// another takes over when it stops. A copy whose acknowledgement is lost with its connection is
/// delivered again and archived twice, with the same id.
public final class Archiver: Service, Sendable {
    private let consumer: AMQPConsumer
    private let publisher: AMQPPublisher
    private let exchange: String
    private let batchSize: Int
    private let logger: Logger
    private let stopping = StopFlag()
    private let copied = Counter(label: "archive_events_copied_total")
    private let refused = Counter(label: "archive_copies_refused_total")

    /// - Parameters:
    ///   - topology: names the feed and the exchange (`ContractTopology.make()` by default).
    ///   - batchSize: the most copies in flight at once (and the feed's prefetch).
    public init(amqpURL: String, topology: Topology = ContractTopology.make(), batchSize: Int = 500, logger: Logger) throws {
        self.batchSize = max(1, batchSize)
        self.exchange = topology.archiveExchange
        self.logger = logger
        consumer = try AMQPConsumer(
            url: amqpURL, queue: topology.archiveFeed, prefetch: UInt16(clamping: self.batchSize), name: "archiver", logger: logger)
        publisher = try AMQPPublisher(url: amqpURL, name: "archiver", logger: logger)
    }

    /// Whether this replica consumes the feed now (the others wait as standby consumers).
    public var isConsuming: Bool { consumer.isConsuming }

    public func run() async throws {
        let buffer = LaneBuffer()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await message in self.consumer.deliveries { buffer.push(message) }
                    buffer.finish()
                }
                while let batch = await buffer.take(max: self.batchSize) {
                    await self.copy(batch)
                }
            }
        } onGracefulShutdown: {
            self.stopping.set()
            // Unacknowledged copies go back to the feed, for whichever replica consumes it next.
            self.consumer.stop()
        }
        publisher.shutdown()
    }

    /// Publishes the batch to the stream and acknowledges each message the stream confirmed;
    /// the rest are published again after a pause, until confirmed or the archiver stops.
    private func copy(_ batch: [IncomingMessage]) async {
        var waiting = batch
        var pause: Duration = .milliseconds(200)
        while !waiting.isEmpty && !stopping.isSet {
            let copies = waiting.map {
                OutgoingMessage(exchange: exchange, routingKey: $0.routingKey, body: $0.body, properties: $0.properties, mandatory: true)
            }
            var failure = ""
            do {
                let outcomes = try await publisher.publish(copies)
                var left: [IncomingMessage] = []
                for (message, outcome) in zip(waiting, outcomes) {
                    if outcome == .confirmed {
                        consumer.ack(message)
                    } else {
                        left.append(message)
                        failure = "\(outcome)"
                    }
                }
                copied.increment(by: waiting.count - left.count)
                waiting = left
            } catch {
                failure = "\(error)"
            }
            guard !waiting.isEmpty, !stopping.isSet else { break }
            refused.increment(by: waiting.count)
            logger.warning(
                "the archive did not take these events; trying again",
                metadata: ["count": "\(waiting.count)", "reason": "\(failure)", "pauseSeconds": "\(pause.timeInterval)"])
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(10))
        }
    }
}

/// Set once, read from anywhere.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
