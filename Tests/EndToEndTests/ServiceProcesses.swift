import Foundation
import NIOHTTP1
import TestSupport

/// The built service executables, started as processes against the test stack on ports of their
/// own, and stopped (SIGTERM, then SIGKILL) at the end.
final class ServiceProcesses: @unchecked Sendable {
    static let services = ["identity", "billing", "content", "progress", "notifications", "analytics", "webhooks"]

    let portBase: Int
    let profile: StackProfile
    let mailDirectory: URL
    let logDirectory: URL
    private var processes: [String: Process] = [:]

    init(portBase: Int, profile: StackProfile = .test) throws {
        self.portBase = portBase
        self.profile = profile
        let stack = URL(fileURLWithPath: try profile.value("SYLLABUS_STACK_DIR"))
        let run = stack.appendingPathComponent("e2e-\(portBase)")
        mailDirectory = run.appendingPathComponent("mail")
        logDirectory = run.appendingPathComponent("logs")
        try? FileManager.default.removeItem(at: run)
        try FileManager.default.createDirectory(at: mailDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    func port(_ service: String) -> Int {
        portBase + (Self.services.firstIndex(of: service) ?? 0) + 1
    }

    func url(_ service: String, _ path: String) -> String {
        "http://127.0.0.1:\(port(service))\(path)"
    }

    /// The environment each service starts with: its own file of the stack's (nothing of any
    /// other service's), then `extra` — a `<SERVICE>_` key only for that service, any other key
    /// for all.
    func environment(of service: String, _ extra: [String: String] = [:]) throws -> [String: String] {
        let prefix = service.uppercased() + "_"
        let others = Self.services.filter { $0 != service }.map { $0.uppercased() + "_" }
        var environment = try TestEnvironment.serviceValues(service, profile)
        for (key, value) in extra where key.hasPrefix(prefix) || !others.contains(where: key.hasPrefix) {
            environment[key] = value
        }
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        environment["LOG_LEVEL"] = "info"
        environment["\(prefix)HTTP_PORT"] = String(port(service))
        switch service {
        case "notifications": environment["MAIL_DIR"] = mailDirectory.path
        case "identity": environment["IDENTITY_TRUSTED_PROXIES"] = environment["IDENTITY_TRUSTED_PROXIES"] ?? "127.0.0.1,::1"
        default: break
        }
        return environment
    }

    func start(_ extra: [String: String] = [:]) throws {
        for service in Self.services { try start(service, extra) }
    }

    /// Starts one service (again, after `terminate`), its log continued.
    func start(_ service: String, _ extra: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = try TestEnvironment.binaryDirectory().appendingPathComponent(service)
        process.environment = try environment(of: service, extra)
        let log = logDirectory.appendingPathComponent("\(service).log")
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[service] = process
    }

    /// Sends SIGTERM to a running service and waits for it to end (at most `timeout`); returns
    /// how it ended, or nil if it was still running.
    func terminate(_ service: String, timeout: Duration = .seconds(30)) async throws -> (reason: Process.TerminationReason, status: Int32)? {
        guard let process = processes[service], process.isRunning else { return nil }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : (process.terminationReason, process.terminationStatus)
    }

    /// The services whose log holds any of `secrets` (tokens must never be logged in full).
    func logsContaining(_ secrets: [String]) -> [String] {
        Self.services.filter { service in
            let text = log(service)
            return secrets.contains { !$0.isEmpty && text.contains($0) }
        }
    }

    func log(_ service: String) -> String {
        (try? String(contentsOf: logDirectory.appendingPathComponent("\(service).log"), encoding: .utf8)) ?? ""
    }

    func stop() {
        for process in processes.values where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(10)
        for process in processes.values {
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    var exited: [String] { processes.filter { !$0.value.isRunning }.map(\.key) }

    /// The process id of a running service.
    func pid(_ service: String) -> Int32? { processes[service].map(\.processIdentifier) }

    /// Registers `email` through identity, with the journeys' password.
    func register(_ email: String, name: String, api: JSONClient) async throws -> JSONClient.Answer {
        try await api.send(
            .POST, url("identity", "/v1/auth/register"), json: #"{"email":"\#(email)","password":"correct horse battery","name":"\#(name)"}"#)
    }

    /// How many welcome mails went to `email`.
    func welcomeMails(to email: String) throws -> Int {
        try mails(in: mailDirectory).filter { $0.contains("<\(email)>") && $0.contains("Subject: Welcome") }.count
    }

    /// Waits until `email` has its welcome mail.
    func awaitWelcome(_ email: String, timeout: Duration = .seconds(15)) async throws {
        try await eventually(timeout: timeout, "the welcome mail to \(email)") { try self.welcomeMails(to: email) > 0 }
    }

    /// Waits until `services` (all of them by default) answer ready.
    func waitUntilReady(_ api: JSONClient, services: [String] = ServiceProcesses.services) async throws {
        try await eventually(timeout: .seconds(60), "\(services.joined(separator: ", ")) to be ready") {
            for service in services {
                let ready = try? await api.send(.GET, self.url(service, "/health/ready"))
                if ready?.status != 200 { return false }
            }
            return true
        }
    }

    /// Runs the `syllabus` command against the test stack.
    func syllabus(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        var environment = try profile.values()
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        let program = try TestEnvironment.binaryDirectory().appendingPathComponent("syllabus").path
        let settings = environment
        return try await blocking { try run(program, arguments, environment: settings, timeout: 60) }
    }
}
