import Contracts
import Foundation
import Logging
import MessageBus
import ServiceKit

/// Reads a span of time from `events.archive` (the stream every public event is kept in for
/// seven days): from the first event at or after `from` to the last before `to`, at most
/// `limit`, stopping at the end of the stream.
struct ArchiveReader: Sendable {
    let url: String
    let logger: Logger
    /// How long without a message means the end of the stream was reached.
    var quiet: Duration = .seconds(2)
    /// The most time a read may take, whatever it found.
    var deadline: Duration = .seconds(60)

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var _events: [RawEvent] = []
        private var _last = ContinuousClock.now
        private var _finished = false
        private var _received = 0

        func received(_ event: RawEvent?) {
            lock.withLock {
                _received += 1
                _last = .now
                if let event { _events.append(event) }
            }
        }

        func finish() { lock.withLock { _finished = true } }
        var state: (events: [RawEvent], last: ContinuousClock.Instant, finished: Bool, received: Int) {
            lock.withLock { (_events, _last, _finished, _received) }
        }
    }

    func read(from: Date, to: Date, limit: Int) async throws -> [RawEvent] {
        let consumer = try AMQPConsumer(
            url: url, queue: "events.archive", prefetch: 500, name: "webhooks-replay",
            arguments: ["x-stream-offset": .timestamp(UInt64(max(0, from.timeIntervalSince1970)))], logger: logger)
        let collected = Collected()
        let reading = Task {
            for await message in consumer.deliveries {
                consumer.ack(message)
                guard let header = try? EventCoding.decode(CloudEventHeader.self, from: message.body) else {
                    collected.received(nil)
                    continue
                }
                // The stream starts at a chunk boundary: earlier events may come first.
                if header.time >= to {
                    collected.finish()
                    break
                }
                collected.received(header.time >= from ? RawEvent(header: header, body: message.body) : nil)
                if collected.state.events.count >= limit {
                    collected.finish()
                    break
                }
            }
            collected.finish()
        }
        let started = ContinuousClock.now
        defer {
            consumer.stop()
            reading.cancel()
        }
        while true {
            let state = collected.state
            if state.finished { break }
            let now = ContinuousClock.now
            if now - started > deadline { break }
            // Quiet after the last message (or, before the first, after the consumer started):
            // the end of the stream.
            if state.received > 0 ? now - state.last > quiet : consumer.isConsuming && now - started > quiet * 2 { break }
            if state.received == 0, let error = consumer.lastError, now - started > quiet {
                throw DomainError(.unavailable, code: "archive_unavailable", title: "The event archive cannot be read", detail: error)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return Array(collected.state.events.prefix(limit))
    }
}
