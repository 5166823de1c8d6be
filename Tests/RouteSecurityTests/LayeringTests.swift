import Foundation
import TestSupport
import Testing

/// The layers of docs/architecture.md, held by the code: only the HTTP layer speaks HTTP.
@Suite struct LayeringTests {
    /// Every Swift file under a folder of `layer` in any service.
    static func files(in layers: Set<String>) throws -> [URL] {
        let services = TestEnvironment.repositoryRoot.appendingPathComponent("Services")
        guard let walker = FileManager.default.enumerator(at: services, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { url in
            url.pathExtension == "swift" && url.pathComponents.contains { layers.contains($0) }
        }
    }

    static func offenders(in layers: Set<String>, matching pattern: String) throws -> [String] {
        let expression = try NSRegularExpression(pattern: pattern)
        return try files(in: layers).filter { url in
            let text = try String(contentsOf: url, encoding: .utf8)
            return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }.map { $0.path.replacingOccurrences(of: TestEnvironment.repositoryRoot.path + "/", with: "") }
    }

    @Test func domainAndPersistenceThrowDomainErrorsNotProblems() throws {
        #expect(try !Self.files(in: ["Domain", "Persistence"]).isEmpty)
        let found = try Self.offenders(in: ["Domain", "Persistence", "Application", "Providers"], matching: #"\bProblem\b"#)
        #expect(found.isEmpty, "refer to Problem outside the HTTP layer: \(found)")
    }

    @Test func domainRulesKnowNothingOfHTTPOrSQL() throws {
        let found = try Self.offenders(in: ["Domain"], matching: #"import (Hummingbird|Database)\b|PostgresConnection"#)
        #expect(found.isEmpty, "domain files that import HTTP or the database: \(found)")
    }
}
