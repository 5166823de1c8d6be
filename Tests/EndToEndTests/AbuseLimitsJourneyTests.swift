import AsyncHTTPClient
import Database
import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// What an anonymous caller can make the services do is bounded, and what it sends is stored as
/// sent or not at all.
extension EndToEndTests {
    struct AbuseLimitsJourneyTests {}
}

extension EndToEndTests.AbuseLimitsJourneyTests {
    @Test func analyticsLimitsAnAddressWhateverSessionsItClaimsAndNoServiceCutsANULShort() async throws {
        let processes = try ServiceProcesses(portBase: 10440)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        // The client's address is the one this test's client forwards (a fresh one per run), as a
        // gateway in front of analytics would pass it on.
        try processes.start(["ANALYTICS_ADDRESS_RATE_LIMIT": "3", "ANALYTICS_RATE_LIMIT": "100", "ANALYTICS_TRUSTED_PROXIES": "127.0.0.1,::1"])
        try await runJourney {
            try await processes.waitUntilReady(api)
            let now = RFC3339Text.now()
            func send(session: String) async throws -> JSONClient.Answer {
                try await api.send(
                    .POST, processes.url("analytics", "/v1/analytics/events"),
                    json: #"{"sessionId":"\#(session)","events":[{"event":"signup_started","timestamp":"\#(now)"}]}"#)
            }
            // A fresh session id per batch: the per-session limit never bites, the address's does.
            // The limit counts per calendar minute: start well inside one, so all six fall in it.
            let second = Calendar(identifier: .gregorian).component(.second, from: Date())
            if second >= 50 { try await Task.sleep(for: .seconds(61 - second)) }
            var statuses: [Int] = []
            for _ in 0..<5 { statuses.append(try await send(session: "s\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))").status) }
            #expect(statuses == [202, 202, 202, 429, 429], "\(statuses)")
            let refused = try await send(session: "s\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))")
            #expect(refused.code == "rate_limited")
            #expect(Int(refused.headers.first(name: "retry-after") ?? "") != nil)

            // A NUL in a query parameter is a 400 in every service, never a value cut at it.
            for service in ServiceProcesses.services {
                let answer = try await api.send(.GET, processes.url(service, "/health/live?q=kept%00dropped"))
                #expect(answer.status == 400 && answer.code == "invalid_character", "\(service): \(answer.status) \(answer.code ?? "-")")
            }
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }
}

extension EndToEndTests.AbuseLimitsJourneyTests {
    /// A connection cannot be held open by sending a request slowly or nothing at all: after
    /// `HTTP_IDLE_TIMEOUT_SECONDS` of silence the service closes it. A whole request is answered
    /// first. The control, a service without the limit, keeps the same half request open.
    @Test func aSilentOrHalfSentConnectionIsClosedAfterTheIdleTimeout() async throws {
        let processes = try ServiceProcesses(portBase: 10_460)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        try processes.start("analytics", ["HTTP_IDLE_TIMEOUT_SECONDS": "1"])
        try processes.start("webhooks", ["HTTP_IDLE_TIMEOUT_SECONDS": "0"])
        try await runJourney {
            try await processes.waitUntilReady(api, services: ["analytics", "webhooks"])
            let half = "GET /health/live HTTP/1.1\r\nHost: loc"
            let halfSent = try await RawConnection.send(half, port: processes.port("analytics"), watchFor: .seconds(20))
            #expect(halfSent.closed, "a half-sent request head holds the connection")
            let whole = try await RawConnection.send(
                "GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n", port: processes.port("analytics"), watchFor: .seconds(20))
            #expect(whole.answer.hasPrefix("HTTP/1.1 200"), "\(whole.answer.prefix(40))")
            #expect(whole.closed, "an idle keep-alive connection stays open")
            let control = try await RawConnection.send(half, port: processes.port("webhooks"), watchFor: .seconds(3))
            #expect(!control.closed && control.answer.isEmpty, "without the limit the connection waits for the rest")
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }
}

/// A TCP connection of the test's own, below any HTTP client, to see what a server does with
/// what a client sends (or does not).
enum RawConnection {
    /// Connects to 127.0.0.1:`port`, sends `text`, then reads until the server closes the
    /// connection or `watchFor` has passed. Runs on a thread of its own (the calls block).
    static func send(_ text: String, port: Int, watchFor limit: Duration) async throws -> (closed: Bool, answer: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try exchange(text, port: port, limit: limit) })
            }.start()
        }
    }

    private static func exchange(_ text: String, port: Int, limit: Duration) throws -> (closed: Bool, answer: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.init(rawValue: errno) ?? .ECONNREFUSED) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw POSIXError(.EIO) }
        var answer: [UInt8] = []
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline - ContinuousClock.now
            let milliseconds = Int32(max(1, left.milliseconds))
            guard poll(&poller, 1, milliseconds) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { return (true, String(decoding: answer, as: UTF8.self)) }
            answer += buffer[0..<count]
        }
        return (false, String(decoding: answer, as: UTF8.self))
    }
}

enum RFC3339Text {
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
