import Database
import Foundation
import Logging
import MessageBus

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
    public static func values() throws -> [String: String] {
        let environment = ProcessInfo.processInfo.environment
        let path = environment["SYLLABUS_TEST_ENV"] ?? repositoryRoot.appendingPathComponent(".stack/test/syllabus.env").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Missing(description: "no test stack at \(path): run `make test`, which starts Postgres and RabbitMQ for the tests")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    public static func value(_ key: String) throws -> String {
        guard let value = try values()[key], !value.isEmpty else {
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
/// observed condition, not a sleep that hopes the work is done.
public func eventually(
    timeout: Duration = .seconds(10), interval: Duration = .milliseconds(20), _ what: @autoclosure () -> String = "condition",
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while true {
        if try await condition() { return }
        if clock.now >= deadline { throw TimedOut(description: "timed out after \(timeout) waiting for \(what())") }
        try await Task.sleep(for: interval)
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// A schema of its own for one test, created as the stack's administrator and dropped after.
public func withTemporarySchema<T: Sendable>(
    poolSize: Int = 4, _ body: (DatabasePool, String) async throws -> T
) async throws -> T {
    let adminURL = try TestEnvironment.value("ADMIN_DATABASE_URL")
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

/// Runs a program and returns its exit status and combined output.
public func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = TestEnvironment.repositoryRoot
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    if let input {
        inputPipe.fileHandleForWriting.write(input)
        try inputPipe.fileHandleForWriting.close()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Validates events with the contract's JSON Schemas (`scripts/contracts.py validate`).
public func validateEvents(_ bodies: [[UInt8]]) throws -> (valid: Bool, output: String) {
    let array = "[" + bodies.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
    let result = try run(
        "/usr/bin/python3", [TestEnvironment.repositoryRoot.appendingPathComponent("scripts/contracts.py").path, "validate"],
        input: Data(array.utf8))
    return (result.status == 0, result.output)
}
