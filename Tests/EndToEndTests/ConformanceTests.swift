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
        // Checkout, video uploads and plan exports reach Stripe's, Mux's, Notion's and Google's APIs
        // (local fakes): unconfigured, they would rightly answer 503.
        let mux = FakeMux(port: 9698)
        let stripe = FakeStripe(port: 9697)
        let notion = FakeNotion(port: 9696)
        let google = FakeGoogleCalendar(port: 9695)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await mux.application().runService() }
            group.addTask { try await stripe.application().runService() }
            group.addTask { try await notion.application().runService() }
            group.addTask { try await google.application().runService() }
            try await conform(mux: mux, stripe: stripe, notion: notion, google: google)
            group.cancelAll()
        }
    }

    func conform(mux: FakeMux, stripe: FakeStripe, notion: FakeNotion, google: FakeGoogleCalendar) async throws {
        let processes = try ServiceProcesses(portBase: 9680)
        try processes.start([
            "CONTENT_PUBLIC_URL": processes.url("content", ""),
            "CONTENT_NOTION_API_URL": notion.baseURL, "CONTENT_NOTION_CLIENT_ID": notion.clientID, "CONTENT_NOTION_CLIENT_SECRET": notion.clientSecret,
            "CONTENT_GOOGLE_OAUTH_URL": google.baseURL, "CONTENT_GOOGLE_CALENDAR_URL": google.baseURL,
            "CONTENT_GOOGLE_CLIENT_ID": google.clientID, "CONTENT_GOOGLE_CLIENT_SECRET": google.clientSecret,
            "CONTENT_MUX_API_URL": mux.baseURL, "CONTENT_MUX_TOKEN_ID": mux.tokenID, "CONTENT_MUX_TOKEN_SECRET": mux.tokenSecret,
            "BILLING_STRIPE_API_URL": stripe.baseURL, "BILLING_STRIPE_SECRET_KEY": stripe.secretKey,
        ])
        defer { processes.stop() }
        let bases = ServiceProcesses.services.map { processes.url($0, "") }
        try await eventually(timeout: .seconds(60), "every service to be ready") {
            for base in bases {
                let check = try await blocking { try run("/usr/bin/curl", ["-fs", "-o", "/dev/null", "\(base)/health/ready"], timeout: 5) }
                if check.status != 0 { return false }
            }
            return true
        }
        // Each service is exercised signed in as an admin of its own, so the authenticated
        // operations are reached too, not only refused (one service's run may sign its admin out
        // or delete it).
        var failures: [String] = []
        for base in bases {
            let email = "conformance.\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let created = try await processes.syllabus(["admin", "create", "--email", email, "--password", "conformance password", "--name", "Conformance"])
            #expect(created.status == 0, "\(created.output)")
            let login = try await blocking { try run(
                "/usr/bin/curl",
                ["-sS", "-H", "content-type: application/json", "-H", "x-forwarded-for: 10.99.\(Int.random(in: 0...255)).\(Int.random(in: 1...254))", "-d", #"{"email":"\#(email)","password":"conformance password"}"#, "\(bases[0])/v1/auth/login"],
                timeout: 30) }
            let token = try #require(
                (try JSONSerialization.jsonObject(with: Data(login.output.utf8)) as? [String: Any])?["accessToken"] as? String, "\(login.output)")
            var scriptEnvironment = ProcessInfo.processInfo.environment
            scriptEnvironment["CONFORMANCE_TOKEN"] = token
            let environment = scriptEnvironment
            let result = try await blocking {
                try run(TestEnvironment.repositoryRoot.appendingPathComponent("scripts/conformance.sh").path, [base], environment: environment, timeout: 900)
            }
            print(result.output.split(separator: "\n").filter { $0.hasPrefix("==") || $0.contains("passed") || $0.contains("failed") || $0.contains("Error") || $0.contains("⚠️") }.joined(separator: "\n"))
            if result.status != 0 { failures.append("\(base):\n\(result.output.suffix(6000))") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n\n"))")
        #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
    }
}
