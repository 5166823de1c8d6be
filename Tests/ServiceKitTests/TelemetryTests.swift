import Foundation
import Testing

@testable import ServiceKit

@Suite struct TelemetryTests {
    @Test func whoseTraceARequestMayContinue() throws {
        let gateway = try #require(IPNetwork("10.0.0.0/8"))
        let trusted = try IncomingTraceTrust("trusted", trustedProxies: [gateway])
        #expect(trusted.allows(IPAddress("10.1.2.3")))
        #expect(!trusted.allows(IPAddress("192.0.2.7")))
        #expect(!trusted.allows(nil))
        #expect(try IncomingTraceTrust(nil, trustedProxies: []) == .all)
        #expect(try IncomingTraceTrust("ALL", trustedProxies: []).allows(IPAddress("192.0.2.7")))
        #expect(!(try IncomingTraceTrust("none", trustedProxies: [gateway]).allows(IPAddress("10.1.2.3"))))
        #expect(throws: ConfigurationError.self) { try IncomingTraceTrust("sometimes", trustedProxies: []) }
    }

    @Test func logLinesAreJSONWhateverTheMessageHolds() throws {
        let message = "quote \" backslash \\ newline \n tab \t bell \u{7} emoji 🎓 <tag>"
        let quoted = JSONLogHandler.quoted(message)
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(quoted)]".utf8)) as? [String]
        #expect(decoded == [message])
        #expect(!quoted.contains("\n"))
    }
}
