import Database
import Foundation
import Logging
import MessageBus

/// A stack `make test` started: `test` for the parallel tests, `fault` for the fault tests, which
/// restart its servers, and `ha` for the failures of the highly available stack.
public struct StackProfile: Sendable {
    public let name: String
    let variable: String

    public static let test = StackProfile(name: "test", variable: "SYLLABUS_TEST_ENV")
    public static let fault = StackProfile(name: "fault", variable: "SYLLABUS_FAULT_ENV")
    /// The HA stack (`scripts/ha.sh up`): three broker nodes, Patroni, two replicas of each service.
    public static let ha = StackProfile(name: "ha", variable: "SYLLABUS_HA_ENV")
    /// A second Postgres server (`scripts/stack.sh up second`), for a service on a server of its own.
    public static let second = StackProfile(name: "second", variable: "SYLLABUS_SECOND_ENV")
    /// The stack with backups (`scripts/stack.sh up drill`): the restore drill restores it.
    public static let drill = StackProfile(name: "drill", variable: "SYLLABUS_DRILL_ENV")

    public func values() throws -> [String: String] { try TestEnvironment.values(self) }
    public func value(_ key: String) throws -> String { try TestEnvironment.value(key, self) }

    /// Runs `scripts/stack.sh <command> <profile>` (restart-broker, stop-postgres …) and waits.
    @discardableResult
    public func stack(_ command: String, _ arguments: String...) throws -> String {
        let result = try run(TestEnvironment.repositoryRoot.appendingPathComponent("scripts/stack.sh").path, [command, name] + arguments)
        guard result.status == 0 else {
            throw TestEnvironment.Missing(description: "stack.sh \(command) \(name) failed: \(result.output)")
        }
        return result.output
    }
}

/// The servers `make test` started, read from the environment file it wrote. Integration tests
/// fail — never skip — when that file is missing or its servers do not answer.
public enum TestEnvironment {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// The key/value pairs of the stack's `syllabus.env`.
    public static func values(_ profile: StackProfile = .test) throws -> [String: String] {
        let environment = ProcessInfo.processInfo.environment
        let path = environment[profile.variable] ?? repositoryRoot.appendingPathComponent(".stack/\(profile.name)/syllabus.env").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Missing(description: "no test stack at \(path): run `make test`, which starts Postgres and RabbitMQ for the tests")
        }
        return parse(text)
    }

    /// The key/value pairs of one service's environment file (`<stack>/services/<service>.env`),
    /// all that the stack gives that service.
    public static func serviceValues(_ service: String, _ profile: StackProfile = .test) throws -> [String: String] {
        let path = URL(fileURLWithPath: try value("SYLLABUS_STACK_DIR", profile)).appendingPathComponent("services/\(service).env").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Missing(description: "no environment file for \(service) at \(path): the stack scripts write one per service")
        }
        return parse(text)
    }

    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = shellUnquoted(line[line.index(after: equals)...])
        }
        return values
    }

    /// A value as the shell reads it: the stack scripts single-quote one that holds `&`.
    static func shellUnquoted(_ value: Substring) -> String {
        guard value.count >= 2, value.first == "'", value.last == "'" else { return String(value) }
        return value.dropFirst().dropLast().replacingOccurrences(of: "'\\''", with: "'")
    }

    public static func value(_ key: String, _ profile: StackProfile = .test) throws -> String {
        guard let value = try values(profile)[key], !value.isEmpty else {
            throw Missing(description: "\(key) is not in the test stack's environment file")
        }
        return value
    }

    /// Where `swift build` put the executables.
    public static func binaryDirectory() throws -> URL {
        if let dir = ProcessInfo.processInfo.environment["SYLLABUS_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        // The test bundle lives in the same directory as the executables.
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle.deletingLastPathComponent(), bundle, repositoryRoot.appendingPathComponent(".build/debug")]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("identity").path) {
            return candidate
        }
        throw Missing(description: "cannot find the built executables; set SYLLABUS_BIN_DIR")
    }

    public static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()
}

/// Waits for `condition` to hold, checking every `interval`, and fails after `timeout`. For
/// effects that travel across processes (an event consumed, a file written) — a deadline on an
/// observed condition, not a sleep that hopes the work is done. A check that throws (a server
/// being restarted) counts as "not yet"; the last error is reported if the deadline passes.
public func eventually(
    timeout: Duration = .seconds(10), interval: Duration = .milliseconds(20), _ what: @autoclosure () -> String = "condition",
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    var lastError: (any Error)?
    while true {
        do {
            if try await condition() { return }
            lastError = nil
        } catch {
            lastError = error
        }
        if clock.now >= deadline {
            throw TimedOut(description: "timed out after \(timeout) waiting for \(what())" + (lastError.map { "; last error: \($0)" } ?? ""))
        }
        try await Task.sleep(for: interval)
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// A schema of its own for one test, created as the stack's administrator and dropped after.
public func withTemporarySchema<T: Sendable>(
    poolSize: Int = 4, stack: StackProfile = .test, _ body: (DatabasePool, String) async throws -> T
) async throws -> T {
    let adminURL = try stack.value("ADMIN_DATABASE_URL")
    let schema = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    let admin = DatabasePool(url: adminURL, size: 1, name: "test-admin", logger: TestEnvironment.logger)
    defer { admin.shutdown() }
    try await admin.execute("CREATE SCHEMA \(identifier: String(schema))")
    let pool = DatabasePool(url: adminURL, size: poolSize, searchPath: String(schema), name: "test", logger: TestEnvironment.logger)
    do {
        let result = try await body(pool, String(schema))
        pool.shutdown()
        try await admin.execute("DROP SCHEMA \(identifier: String(schema)) CASCADE")
        return result
    } catch {
        pool.shutdown()
        _ = try? await admin.execute("DROP SCHEMA \(identifier: String(schema)) CASCADE")
        throw error
    }
}

/// Runs a program and returns its exit status and combined output; a program still running after
/// `timeout` seconds is terminated (its status then says so).
///
/// posix_spawn and waitpid rather than Foundation's Process, whose `waitUntilExit` can miss the
/// exit of a child that started a daemon; and output goes to a file, not a pipe, since a daemon a
/// script starts (stack.sh start-broker) keeps the script's stdout open.
/// Runs blocking work (a program, a wait) on a thread of its own, so that it does not hold one of
/// the few threads Swift concurrency shares with every test running at the same time (HTTP
/// servers in the tests answer on those threads).
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

public func run(
    _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil, timeout: TimeInterval = 300
) throws -> (status: Int32, output: String) {
    let directory = FileManager.default.temporaryDirectory
    let outputPath = directory.appendingPathComponent("syllabus-run-\(UUID().uuidString).log").path
    let inputPath = directory.appendingPathComponent("syllabus-run-\(UUID().uuidString).in").path
    defer {
        unlink(outputPath)
        unlink(inputPath)
    }
    FileManager.default.createFile(atPath: inputPath, contents: input ?? Data())

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    closeOnExec()

    let environmentPairs = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    let argv = [executable] + arguments
    var pid: pid_t = 0
    let status = withCStringArray(argv) { argvPointers in
        withCStringArray(environmentPairs) { environmentPointers in
            posix_spawn(&pid, executable, &actions, nil, argvPointers, environmentPointers)
        }
    }
    guard status == 0 else {
        throw TestEnvironment.Missing(description: "cannot start \(executable): errno \(status)")
    }
    let deadline = Date().addingTimeInterval(timeout)
    var exitStatus: Int32 = 0
    while true {
        let result = waitpid(pid, &exitStatus, WNOHANG)
        if result == pid { break }
        if result < 0 && errno != EINTR { break }
        if Date() > deadline { kill(pid, SIGTERM) }
        usleep(10_000)
    }
    let exited = exitStatus & 0x7f == 0
    let code = exited ? (exitStatus >> 8) & 0xff : 128 + (exitStatus & 0x7f)
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (code, output)
}

/// Marks every open descriptor of the test process close-on-exec, so that nothing of it goes to a
/// child: a broker restarted by a test must not inherit (and keep) a test server's listening socket.
private func closeOnExec() {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
    for entry in entries {
        guard let fd = Int32(entry), fd > 2 else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Validates events with the contract's JSON Schemas (`scripts/contracts.py validate`).
public func validateEvents(_ bodies: [[UInt8]]) throws -> (valid: Bool, output: String) {
    let array = "[" + bodies.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
    let result = try run(
        "/usr/bin/python3", [TestEnvironment.repositoryRoot.appendingPathComponent("scripts/contracts.py").path, "validate"],
        input: Data(array.utf8))
    return (result.status == 0, result.output)
}

/// A message put straight into a test's own consumer queue through that queue's retry exchange —
/// the way a retry comes back, and so believed as an event that was judged when it first arrived.
/// Tests of the consumer's delivery mechanics use it; tests of provenance publish through the
/// producers' exchanges instead.
public func intoQueue(_ queue: String, body: [UInt8], id: String) -> OutgoingMessage {
    OutgoingMessage(exchange: Topology.retryExchange(of: queue), routingKey: queue, body: body, properties: AMQPProperties(messageID: id))
}
