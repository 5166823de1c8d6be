import Foundation
import Testing
import TestSupport

/// A rolling deploy from the previous release (the commit in scripts/previous-release), on the HA
/// stack: identity and notifications start from the previous release's executables, which
/// migrate their schemas; during a burst of registrations through the gateway each replica is
/// stopped gracefully and started from this build, one at a time. For a while the two releases
/// run side by side against one schema and one broker, and this build's replicas start on a
/// database the previous release migrated (and migrate it forward). Every registration answered
/// 201 has its account and exactly one welcome mail; nothing is answered 500.
@Suite(.serialized) struct RollingDeployTests {
    static let rolled = ["identity", "notifications"]

    /// The executable a replica runs, from its pid file.
    func executable(_ service: String, _ replica: Int) throws -> String {
        let stack = try ha.value("SYLLABUS_STACK_DIR")
        let pid = try String(contentsOfFile: "\(stack)/pids/\(service)-\(replica).pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
    }

    @Test func thePreviousReleaseRollsToThisOneDuringRegistrations() async throws {
        let current = try TestEnvironment.binaryDirectory().resolvingSymlinksInPath().path
        for service in Self.rolled {
            for replica in [1, 2] {
                let path = try executable(service, replica)
                #expect(path.contains("/previous-release/"), "\(service) replica \(replica) starts from the previous release: \(path)")
                // Another build, not a copy of this one.
                #expect(!FileManager.default.contentsEqual(atPath: path, andPath: "\(current)/\(service)"), "\(path) is this build")
            }
        }
        #expect(try executable("billing", 1).hasPrefix(current))

        let burst = RegistrationBurst()
        let outcomes = try await burst {
            for replica in ["1", "2"] {
                for service in Self.rolled {
                    try await haScript("roll-service", service, replica)
                }
            }
        }
        try await checkBurst("rolling deploy of identity and notifications from the previous release", burst, outcomes)
        for service in Self.rolled {
            for replica in [1, 2] {
                let path = try executable(service, replica)
                #expect(path.hasPrefix(current), "\(service) replica \(replica) runs this build: \(path)")
            }
        }
    }
}
