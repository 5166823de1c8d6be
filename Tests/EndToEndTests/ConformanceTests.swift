import Foundation
import Testing
import TestSupport

/// Every service's responses hold to the OpenAPI document it serves, and no generated input makes
/// it fail (schemathesis, bounded examples per operation).
extension EndToEndTests {
    struct ConformanceTests {}
}

extension EndToEndTests.ConformanceTests {
    @Test func everyServiceConformsToItsOpenAPIDocument() async throws {
        let processes = try ServiceProcesses(portBase: 9680)
        try processes.start()
        defer { processes.stop() }
        let bases = ServiceProcesses.services.map { processes.url($0, "") }
        try await eventually(timeout: .seconds(60), "all five services to be ready") {
            for base in bases {
                let check = try run("/usr/bin/curl", ["-fs", "-o", "/dev/null", "\(base)/health/ready"], timeout: 5)
                if check.status != 0 { return false }
            }
            return true
        }
        // Signed in as an admin, so the authenticated operations are exercised too, not only refused.
        let email = "conformance.\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let created = try processes.syllabus(["admin", "create", "--email", email, "--password", "conformance password", "--name", "Conformance"])
        #expect(created.status == 0, "\(created.output)")
        let login = try run(
            "/usr/bin/curl",
            ["-sS", "-H", "content-type: application/json", "-H", "x-forwarded-for: 10.99.\(Int.random(in: 0...255)).\(Int.random(in: 1...254))", "-d", #"{"email":"\#(email)","password":"conformance password"}"#, "\(bases[0])/v1/auth/login"],
            timeout: 30)
        let token = try #require(
            (try JSONSerialization.jsonObject(with: Data(login.output.utf8)) as? [String: Any])?["accessToken"] as? String, "\(login.output)")
        var scriptEnvironment = ProcessInfo.processInfo.environment
        scriptEnvironment["CONFORMANCE_TOKEN"] = token
        let result = try run(
            TestEnvironment.repositoryRoot.appendingPathComponent("scripts/conformance.sh").path, bases,
            environment: scriptEnvironment, timeout: 900)
        print(result.output.split(separator: "\n").filter { $0.hasPrefix("==") || $0.contains("passed") || $0.contains("failed") || $0.contains("Error") }.joined(separator: "\n"))
        #expect(result.status == 0, "\(result.output.suffix(6000))")
        #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
    }
}
