import Foundation
import Testing
import TestSupport

/// What outside systems build on stays true: the subscribers' guide matches the contract and the
/// compose stack validates (the example subscriber is checked end to end, with the services).
@Suite struct PublicContractTests {
    func script(_ path: String) -> String { TestEnvironment.repositoryRoot.appendingPathComponent(path).path }

    @Test func theSubscribersGuideIsGeneratedFromTheContract() async throws {
        let result = try await blocking { try run("/usr/bin/python3", [script("scripts/events-doc.py"), "--check"]) }
        #expect(result.status == 0, "docs/events.md is stale; run scripts/events-doc.py\n\(result.output.suffix(3000))")
    }

    @Test func theComposeStackValidates() async throws {
        let result = try await blocking { try run("/bin/bash", [script("scripts/check-compose.sh")], timeout: 300) }
        #expect(result.status == 0, "\(result.output.suffix(4000))")
    }
}
