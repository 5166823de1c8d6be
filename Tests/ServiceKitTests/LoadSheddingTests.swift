import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing

/// A service handling as many requests as it takes refuses the next one at once, with a stable
/// code and `Retry-After`, and still answers its health checks.
@Suite struct LoadSheddingTests {
    /// Holds requests until opened; counts those waiting.
    actor Gate {
        private var held: [CheckedContinuation<Void, Never>] = []
        private var arrivals: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        private var isOpen = false

        private func arrived() {
            arrivals.removeAll { waiter in
                guard held.count >= waiter.count else { return false }
                waiter.continuation.resume()
                return true
            }
        }

        func enter() async {
            if isOpen { return }
            await withCheckedContinuation { continuation in
                held.append(continuation)
                arrived()
            }
        }

        func untilHolding(_ count: Int) async {
            if held.count >= count { return }
            await withCheckedContinuation { arrivals.append((count, $0)) }
        }

        func open() {
            isOpen = true
            for continuation in held { continuation.resume() }
            held = []
        }
    }

    @Test(.timeLimit(.minutes(1))) func beyondTheLimitARequestIsRefusedAtOnceAndHealthStillAnswers() async throws {
        let gate = Gate()
        // As every service builds its router: the limit in place before the routes.
        let router = ServiceRuntime.router(context: BasicRequestContext.self, maxConcurrentRequests: 2)
        router.get("/held") { _, _ -> String in
            await gate.enter()
            return "done"
        }
        router.get("/health/live") { _, _ -> String in "live" }
        try await Application(router: router).test(.router) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<2 {
                    group.addTask { try await client.execute(uri: "/held", method: .get) { $0.status } }
                }
                await gate.untilHolding(2)
                try await client.execute(uri: "/held", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "1")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    #expect(body?["code"] as? String == "overloaded")
                }
                try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
                await gate.open()
                for try await status in group { #expect(status == .ok) }
            }
            // The held ones done, the next is taken again.
            try await client.execute(uri: "/held", method: .get) { #expect($0.status == .ok) }
        }
    }
}
