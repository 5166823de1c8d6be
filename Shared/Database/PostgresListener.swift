import CLibPQ
import Foundation
import Logging

/// A `NOTIFY` received on a channel the listener follows.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
}

/// Follows `LISTEN` channels on a connection and a thread of its own. After a lost connection it
/// reconnects with backoff and yields `.reconnected`, since notifications sent meanwhile are gone:
/// whoever listens should look again at what they watch.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Equatable {
        case notification(PostgresNotification)
        case reconnected
    }

    public let events: AsyncStream<Event>
    private let state: ListenerState

    public init(url: String, channels: [String], name: String = "listen", logger: Logger) {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        self.events = stream
        let state = ListenerState()
        self.state = state
        let thread = Thread {
            ListenerLoop(url: url, channels: channels, state: state, continuation: continuation, logger: logger).run()
        }
        thread.name = "\(name)-pg-listen"
        thread.start()
    }

    /// Whether the listening connection is up now.
    public var isConnected: Bool { state.connected }

    /// Stops the thread and ends `events`.
    public func stop() { state.stop() }
}

final class ListenerState: @unchecked Sendable {
    private let lock = NSLock()
    private var _stopped = false
    private var _connected = false

    var stopped: Bool { lock.withLock { _stopped } }
    var connected: Bool {
        get { lock.withLock { _connected } }
        set { lock.withLock { _connected = newValue } }
    }
    func stop() { lock.withLock { _stopped = true } }
}

struct ListenerLoop {
    let url: String
    let channels: [String]
    let state: ListenerState
    let continuation: AsyncStream<PostgresListener.Event>.Continuation
    let logger: Logger

    func run() {
        var backoff = 0.1
        var everConnected = false
        while !state.stopped {
            do {
                let connection = try PostgresConnection(url: url, applicationName: "syllabus-listen")
                for channel in channels {
                    try connection.executeScript("LISTEN \(Query.quoteIdentifier(channel))")
                }
                state.connected = true
                if everConnected { continuation.yield(.reconnected) }
                everConnected = true
                backoff = 0.1
                try follow(connection)
            } catch {
                state.connected = false
                if state.stopped { break }
                logger.warning("listener connection failed, retrying", metadata: ["error": "\(error)", "backoffSeconds": "\(backoff)"])
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
        state.connected = false
        continuation.finish()
    }

    private func follow(_ connection: PostgresConnection) throws {
        while !state.stopped {
            var descriptor = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 250)
            if ready < 0 && errno != EINTR { throw DatabaseError.connection("poll failed: \(errno)") }
            if ready > 0 {
                for notification in try connection.drainNotifications() {
                    continuation.yield(.notification(notification))
                }
            } else if !connection.isHealthy {
                throw DatabaseError.connection("listener connection lost")
            }
        }
    }
}
