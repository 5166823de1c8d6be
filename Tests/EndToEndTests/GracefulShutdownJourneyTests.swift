import AsyncHTTPClient
import Database
import Foundation
import NIOHTTP1
import Synchronization
import Testing
import TestSupport

/// SIGTERM to a service during traffic: it says it is not ready while it still serves (the
/// drain), finishes what it has, exits cleanly, and when it is started again nothing was lost or
/// applied twice.
extension EndToEndTests {
    struct GracefulShutdownJourneyTests {}
}

/// What a registration got: an answer, or no connection (the service was not listening).
private enum Outcome: Sendable {
    case answered(Int, email: String)
    case refused
    /// The connection broke after the request was sent: the account may exist.
    case broken(email: String)
}

/// The registrations' outcomes as they come, and when to stop sending.
private final class TrafficLog: Sendable {
    let outcomes = Mutex<[(Outcome, ContinuousClock.Instant)]>([])
    let stopped = Atomic<Bool>(false)
    func add(_ outcome: Outcome) { outcomes.withLock { $0.append((outcome, .now)) } }
    var all: [(Outcome, ContinuousClock.Instant)] { outcomes.withLock { $0 } }
}

extension EndToEndTests.GracefulShutdownJourneyTests {
    @Test func aSIGTERMDuringTrafficLosesNothingAndAnswersNo5xx() async throws {
        let processes = try ServiceProcesses(portBase: 10_780)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        let settings = ["SHUTDOWN_DRAIN_SECONDS": "2", "IDENTITY_THROTTLE_ADDRESS": "100000"]
        try processes.start(settings)
        try await runJourney {
            try await processes.waitUntilReady(api)
            let log = TrafficLog()
            let run = UUID().uuidString.prefix(8).lowercased()
            let traffic = Task {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<4 {
                        group.addTask {
                            var index = 0
                            while !log.stopped.load(ordering: .relaxed) {
                                index += 1
                                let email = "drain.\(run).\(worker).\(index)@example.com"
                                do {
                                    let answer = try await api.send(
                                        .POST, processes.url("identity", "/v1/auth/register"),
                                        json: #"{"email":"\#(email)","password":"correct horse battery","name":"Drain"}"#)
                                    log.add(.answered(answer.status, email: email))
                                } catch let error as HTTPClientError where error == .remoteConnectionClosed || error == .readTimeout {
                                    log.add(.broken(email: email))
                                } catch {
                                    // Nothing listens: the request never reached a service.
                                    log.add(.refused)
                                    try? await Task.sleep(for: .milliseconds(50))
                                }
                            }
                        }
                    }
                }
            }

            // The consumer first: notifications stops while identity's events keep coming.
            try await Task.sleep(for: .seconds(2))
            let notifications = try await processes.terminate("notifications")
            #expect(notifications?.reason == .exit && notifications?.status == 0, "notifications ended \(String(describing: notifications))")
            try processes.start("notifications", settings)
            try await processes.waitUntilReady(api, services: ["notifications"])

            // Then the service taking the requests: not ready at once, still serving for the drain.
            try await Task.sleep(for: .seconds(1))
            let signalled = ContinuousClock.now
            async let ended = processes.terminate("identity")
            var notReadyAt: ContinuousClock.Instant?
            while notReadyAt == nil, ContinuousClock.now - signalled < .seconds(2) {
                if let ready = try? await api.send(.GET, processes.url("identity", "/health/ready")), ready.status == 503 {
                    #expect((ready.body["checks"] as? [String: String])?["accepting"] == "down")
                    notReadyAt = .now
                }
            }
            let identity = try await ended
            #expect(identity?.reason == .exit && identity?.status == 0, "identity ended \(String(describing: identity))")
            let notReady = try #require(notReadyAt, "identity said it was not ready within 2 s of SIGTERM")
            try processes.start("identity", settings)
            try await processes.waitUntilReady(api, services: ["identity"])
            try await Task.sleep(for: .seconds(2))
            log.stopped.store(true, ordering: .relaxed)
            await traffic.value

            let outcomes = log.all
            let created = outcomes.compactMap { if case .answered(201, let email) = $0.0 { email } else { nil } }
            let other = outcomes.compactMap { if case .answered(let status, _) = $0.0, status != 201 { status } else { nil } }
            let refused = outcomes.filter { if case .refused = $0.0 { true } else { false } }.count
            let broken = outcomes.compactMap { if case .broken(let email) = $0.0 { email } else { nil } }
            let servedWhileDraining = outcomes.filter { outcome in
                if case .answered(201, _) = outcome.0 { outcome.1 > notReady } else { false }
            }.count
            print(
                "graceful shutdown: \(outcomes.count) registrations, \(created.count) × 201, other answers \(other), \(refused) refused while identity was down, \(broken.count) broken, \(servedWhileDraining) answered 201 after it said not ready"
            )
            #expect(other.isEmpty, "every answer is 201; got \(other)")
            #expect(servedWhileDraining > 0, "identity still served while it drained")
            #expect(created.count > 50)

            // Every account answered 201 exists; a request whose connection broke (a kept-alive
            // connection the stopping server closed as the request went out) made one or none.
            // Every account got exactly one welcome mail.
            let pool = DatabasePool(url: try TestEnvironment.value("ADMIN_DATABASE_URL"), size: 1, name: "drain-test", logger: TestEnvironment.logger)
            defer { pool.shutdown() }
            let accounts = try await pool.query("SELECT email FROM identity.users WHERE email LIKE \("drain.\(run).%")").map { try $0.decode("email", as: String.self) }
            #expect(Set(created).isSubset(of: accounts) && Set(accounts).isSubset(of: Set(created + broken)))
            func welcomes() throws -> [String: Int] {
                try mails(in: processes.mailDirectory).filter { $0.contains("Subject: Welcome") }.reduce(into: [:]) { counts, mail in
                    if let email = accounts.first(where: { mail.contains("<\($0)>") }) { counts[email, default: 0] += 1 }
                }
            }
            try await eventually(timeout: .seconds(60), "a welcome mail for each of \(accounts.count) accounts") { try welcomes().count == accounts.count }
            #expect(try welcomes().values.allSatisfy { $0 == 1 }, "one welcome mail each")
            // No other welcome mail to this run's addresses (the services of other suites share the
            // test stack's queues, so the directory may hold their mail too).
            #expect(try mails(in: processes.mailDirectory).filter { $0.contains("Subject: Welcome") && $0.contains("drain.\(run).") }.count == accounts.count)
        } finish: {
            processes.stop()
            try await http.shutdown()
        }
    }
}
