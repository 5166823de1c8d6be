import AsyncHTTPClient
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

enum RFC3339Text {
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
