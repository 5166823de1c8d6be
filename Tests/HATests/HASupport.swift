import AsyncHTTPClient
import Database
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

let ha = StackProfile.ha

struct HAFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `scripts/ha.sh` with `arguments` (kill-broker 2, switchover, …) and returns its output.
@discardableResult
func haScript(_ arguments: String...) async throws -> String {
    let path = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/ha.sh").path
    let result = try await blocking { try run(path, arguments, timeout: 240) }
    guard result.status == 0 else {
        throw HAFailure( "ha.sh \(arguments.joined(separator: " ")) failed: \(result.output)")
    }
    let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    print("ha.sh \(arguments.joined(separator: " ")): \(output.split(separator: "\n").last ?? "")")
    return output
}

/// How one request of a burst ended: its HTTP status, or the error that stood for one.
enum Outcome: Sendable, Equatable {
    case status(Int)
    case failed(String)

    var isCreated: Bool { self == .status(201) }
}

/// Registrations through the gateway, `concurrency` at a time, from the moment it starts until
/// `fault` has run and `after` more registrations have been answered 201 — so every burst spans
/// its fault, however long the fault takes. `fault` starts once `before` registrations are done.
struct RegistrationBurst {
    let run = "ha\(UUID().uuidString.prefix(8).lowercased())"
    var before = 60
    var after = 60
    var concurrency = 6

    func email(_ n: Int) -> String { "\(run)-\(n)@example.com" }

    func callAsFunction(_ fault: @escaping @Sendable () async throws -> Void) async throws -> [String: Outcome] {
        let gateway = try ha.value("GATEWAY_URL")
        let client = HTTPClient.shared
        let state = BurstState()
        let run = self
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while let n = state.next(before: run.before, after: run.after) {
                        let outcome = await run.register(run.email(n), client: client, gateway: gateway)
                        state.record(run.email(n), outcome)
                    }
                }
            }
            group.addTask {
                while state.done < run.before { try await Task.sleep(for: .milliseconds(20)) }
                try await fault()
                state.faultFinished()
            }
            try await group.waitForAll()
        }
        return state.outcomes
    }

    func register(_ email: String, client: HTTPClient, gateway: String) async -> Outcome {
        var request = HTTPClientRequest(url: "\(gateway)/v1/auth/register")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"email":"\#(email)","password":"correct horse battery","name":"HA"}"#))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return .status(Int(response.status.code))
        } catch {
            return .failed("\(error)")
        }
    }
}

final class BurstState: @unchecked Sendable {
    private let lock = NSLock()
    private var issued = 0
    private var createdAfterFault = 0
    private var faultDone = false
    private(set) var outcomes: [String: Outcome] = [:]
    var done: Int { lock.withLock { outcomes.count } }

    func next(before: Int, after: Int) -> Int? {
        lock.withLock {
            if faultDone && createdAfterFault >= after { return nil }
            // A fault that never finishes must not make the burst endless.
            if issued >= before + after + 5000 { return nil }
            issued += 1
            return issued
        }
    }

    func record(_ email: String, _ outcome: Outcome) {
        lock.withLock {
            outcomes[email] = outcome
            if faultDone && outcome.isCreated { createdAfterFault += 1 }
        }
    }

    func faultFinished() { lock.withLock { faultDone = true } }
}

/// Welcome mails in the stack's mail directory, counted by recipient.
func welcomeMails(run: String) throws -> [String: Int] {
    let directory = URL(fileURLWithPath: try ha.value("MAIL_DIR"))
    var counts: [String: Int] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".eml") {
        guard let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) else { continue }
        guard text.contains("Subject: Welcome to Syllabus"), let to = text.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("To:") }),
            let open = to.firstIndex(of: "<"), let close = to.firstIndex(of: ">")
        else { continue }
        let address = String(to[to.index(after: open)..<close])
        if address.hasPrefix(run + "-") { counts[address, default: 0] += 1 }
    }
    return counts
}

/// The accounts identity holds for a run, read through the multi-host URL (whichever node is primary).
func accounts(run: String) async throws -> Set<String> {
    let pool = DatabasePool(url: try ha.value("ADMIN_DATABASE_URL"), size: 1, name: "ha-test", logger: TestEnvironment.logger)
    defer { pool.shutdown() }
    let rows = try await pool.query("SELECT email FROM identity.users WHERE email LIKE \(run + "-%")")
    return Set(try rows.map { try $0.decode("email", as: String.self) })
}

/// The counts every burst ends with: each registration answered 201 has its account and exactly
/// one welcome mail; any other answer left at most one account and one mail (never two); the
/// error rate is printed.
func checkBurst(_ name: String, _ burst: RegistrationBurst, _ outcomes: [String: Outcome]) async throws {
    let created = Set(outcomes.filter { $0.value.isCreated }.keys)
    var mails: [String: Int] = [:]
    do {
        try await eventually(timeout: .seconds(180), interval: .milliseconds(500), "a welcome mail for each of \(created.count) registrations") {
            mails = try welcomeMails(run: burst.run)
            return created.allSatisfy { mails[$0] != nil }
        }
    } catch {
        print("\(name): mails missing; where the registrations' events are now:\n\(await pipelineDiagnosis(run: burst.run))")
        throw error
    }
    // Redeliveries after a fault come within seconds; the queue is drained when nothing is pending.
    try await eventually(timeout: .seconds(120), interval: .milliseconds(500), "notifications' queue drained") {
        try await queueDepth("notifications") == 0
    }
    mails = try welcomeMails(run: burst.run)
    let stored = try await accounts(run: burst.run)
    let failures = outcomes.values.filter { !$0.isCreated }
    var kinds: [String: Int] = [:]
    for failure in failures {
        switch failure {
        case .status(let code): kinds["HTTP \(code)", default: 0] += 1
        case .failed: kinds["no answer", default: 0] += 1
        }
    }
    let rate = Double(failures.count) / Double(max(1, outcomes.count)) * 100
    print(
        "\(name): \(outcomes.count) registrations, \(created.count) answered 201, \(failures.count) not (\(String(format: "%.1f", rate)) %: "
            + kinds.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            + "); \(stored.count) accounts, \(mails.values.reduce(0, +)) welcome mails")
    // Refusals during a failure say so (502/503/504, or no answer while a process dies); a 500
    // would be a failure the service did not understand.
    #expect(kinds["HTTP 500"] == nil, "answered 500 during \(name)")
    #expect(created.isSubset(of: stored), "\(created.subtracting(stored).count) registrations answered 201 have no account")
    let missing = created.filter { mails[$0] != 1 }
    #expect(missing.isEmpty, "\(missing.count) registrations answered 201 without exactly one welcome mail: \(missing.prefix(5).map { "\($0): \(mails[$0] ?? 0)" })")
    let doubled = mails.filter { $0.value > 1 }
    #expect(doubled.isEmpty, "welcome mails sent twice: \(doubled.prefix(5))")
    let strays = Set(mails.keys).subtracting(stored)
    #expect(strays.isEmpty, "welcome mails for accounts that do not exist: \(strays.prefix(5))")
    #expect(created.count >= burst.before / 2 + burst.after, "the burst mostly succeeded")
}

/// The management API, as the stack's administrator, from the first node that answers (through
/// curl, the credentials on its standard input).
func management(_ path: String) async throws -> Any {
    let admin = try ha.value("ADMIN_AMQP_URL").split(separator: ",")[0]
    guard let components = URLComponents(string: String(admin)), let user = components.user, let password = components.password else {
        throw HAFailure("ADMIN_AMQP_URL has no credentials")
    }
    let config = Data("user = \"\(user):\(password.removingPercentEncoding ?? password)\"\n".utf8)
    var failures: [String] = []
    for base in try ha.value("RABBITMQ_MANAGEMENT_URLS").split(separator: ",") {
        let url = "\(base)/api\(path)"
        let result = try await blocking { try run("/usr/bin/curl", ["-sf", "--max-time", "10", "-K", "-", url], input: config, timeout: 15) }
        guard result.status == 0, let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) else {
            failures.append("\(base): curl exit \(result.status)")
            continue
        }
        return json
    }
    throw HAFailure("GET \(path): \(failures.joined(separator: "; "))")
}

func queueDepth(_ queue: String) async throws -> Int {
    let info = try await management("/queues/syllabus/\(queue)") as? [String: Any]
    return (info?["messages"] as? Int) ?? -1
}

/// The node that leads `queue` (a quorum queue), as a node number of the HA stack (1–3).
func leaderNode(of queue: String) async throws -> Int {
    let info = try await management("/queues/syllabus/\(queue)") as? [String: Any]
    let leader = try #require(info?["leader"] as? String)  // syllabus-ha2@localhost
    return try #require(Int(leader.dropFirst("syllabus-ha".count).prefix { $0.isNumber }))
}

/// Every quorum queue of the topology has all three members online.
func everyQueueFullyReplicated() async throws -> Bool {
    let queues = try await management("/queues/syllabus") as? [[String: Any]] ?? []
    let quorum = queues.filter { ($0["type"] as? String) == "quorum" }
    return !quorum.isEmpty && quorum.allSatisfy { (($0["online"] as? [String]) ?? []).count == 3 }
}

/// Where a run's welcome mails are on their way, stage by stage, for a burst whose mails do not
/// all come: identity's outbox and its relay's leader, notifications' queue (with its consumers
/// and the connections behind them), the mail queue, and the services' last warnings.
func pipelineDiagnosis(run: String) async -> String {
    var lines: [String] = []
    func note(_ label: String, _ body: () async throws -> String) async {
        do { lines.append("  \(label): \(try await body())") } catch { lines.append("  \(label): (\(error))") }
    }
    let pattern = run + "-%"
    await note("identity") {
        let pool = DatabasePool(url: try ha.value("ADMIN_DATABASE_URL"), size: 1, name: "ha-diagnosis", logger: TestEnvironment.logger)
        defer { pool.shutdown() }
        let counts = try await pool.query(
            """
            SELECT (SELECT count(*) FROM identity.users WHERE email LIKE \(pattern)) AS accounts,
                   (SELECT count(*) FROM identity.outbox) AS outbox,
                   (SELECT count(*) FROM identity.outbox WHERE attempts > 0) AS refused,
                   (SELECT count(*) FROM identity.outbox WHERE parked_at IS NOT NULL) AS parked,
                   (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM identity.outbox) AS oldest,
                   (SELECT max(last_error) FROM identity.outbox) AS last_error,
                   (SELECT string_agg(holder || ' epoch ' || epoch || ' since ' || since, '; ') FROM identity.outbox_relay) AS relay
            """
        ).first
        let mail = try await pool.query(
            """
            SELECT coalesce(q.status || CASE WHEN q.claimed_by IS NULL THEN '' ELSE ' (claimed)' END, 'no mail queued') AS stage, count(*) AS n
            FROM identity.users u
            LEFT JOIN notifications.email_queue q ON q.user_id = u.id AND q.template = 'WELCOME'
            WHERE u.email LIKE \(pattern) GROUP BY 1 ORDER BY 1
            """
        ).map { "\(try $0.decode("n", as: Int.self)) \(try $0.decode("stage", as: String.self))" }
        guard let counts else { return "no answer" }
        return "\(try counts.decode("accounts", as: Int.self)) accounts; outbox \(try counts.decode("outbox", as: Int.self)) rows "
            + "(\(try counts.decode("refused", as: Int.self)) refused, \(try counts.decode("parked", as: Int.self)) parked, "
            + "oldest \(Int(try counts.decode("oldest", as: Double.self))) s, last error \(try counts.decode("last_error", as: String?.self) ?? "none")); "
            + "relay \(try counts.decode("relay", as: String?.self) ?? "none"); welcome mails: \(mail.joined(separator: ", "))"
    }
    await note("queues") {
        let queues = try await management("/queues/syllabus") as? [[String: Any]] ?? []
        return queues.filter { ($0["name"] as? String)?.hasPrefix("notifications") == true }.map { queue in
            "\(queue["name"] ?? "?"): \(queue["messages_ready"] ?? "?") ready, \(queue["messages_unacknowledged"] ?? "?") unacked, "
                + "\(queue["consumers"] ?? "?") consumers, leader \(queue["leader"] ?? "?"), online \(queue["online"] ?? "?")"
        }.joined(separator: "; ")
    }
    await note("connections") {
        let connections = try await management("/connections") as? [[String: Any]] ?? []
        var byUser: [String: Int] = [:]
        for connection in connections {
            byUser["\(connection["user"] ?? "?")@\(connection["node"] ?? "?")", default: 0] += 1
        }
        return byUser.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    }
    for replica in ["identity-1", "identity-2", "notifications-1", "notifications-2"] {
        await note(replica) {
            let logs = URL(fileURLWithPath: try ha.value("SYLLABUS_STACK_DIR")).appendingPathComponent("logs")
            let text = try String(contentsOf: logs.appendingPathComponent("\(replica).log"), encoding: .utf8)
            // Text lines ("… warning syllabus.identity: …") or JSON ones ("level":"warning").
            let notable = text.split(separator: "\n").filter { line in
                ["warning", "error"].contains { line.contains(" \($0) ") || line.contains("\"\($0)\"") }
                    || line.contains("consuming") || line.contains("relay")
            }
            return notable.suffix(8).map { "\n    " + $0.prefix(400) }.joined()
        }
    }
    return lines.joined(separator: "\n")
}
