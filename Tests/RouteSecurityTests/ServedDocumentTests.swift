import Analytics
import Billing
import Content
import Foundation
import Identity
import Notifications
import Progress
import ServiceKit
import TestSupport
import Testing
import Webhooks

/// What each service serves at /openapi.yaml is its openapi.yaml merged with the shared parts
/// exactly as `scripts/openapi.py` merges them (which also checks that no key is defined twice).
@Suite struct ServedDocumentTests {
    static let documents: [(String, String)] = [
        ("identity", IdentityOpenAPI.document), ("billing", BillingOpenAPI.document), ("content", ContentOpenAPI.document),
        ("progress", ProgressOpenAPI.document), ("notifications", NotificationsOpenAPI.document), ("analytics", AnalyticsOpenAPI.document), ("webhooks", WebhooksOpenAPI.document),
    ]

    @Test(arguments: documents.map(\.0))
    func theServedDocumentIsTheCheckedMerge(service: String) async throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/openapi.py").path
        let result = try await blocking { try run("/usr/bin/python3", [script, "show", service]) }
        #expect(result.status == 0, "\(result.output)")
        let served = try #require(Self.documents.first { $0.0 == service }?.1)
        #expect(served == result.output)
        #expect(served.contains("/health/ready:"), "the shared routes are in it")
    }

    @Test func sharedSectionsFollowTheServicesOwnAndMissingOnesAreAdded() {
        let service = """
            openapi: 3.1.0
            paths:
              /mine:
                get: {}

            components:
              schemas:
                Mine: {}
            """
        let common = """
            # shared
            paths:
              /health:
                get: {}
            components:
              schemas:
                Problem: {}
              responses:
                NotFound: {}
            """
        #expect(OpenAPIDocument.merge(service, common: common) == """
            openapi: 3.1.0
            paths:
              /mine:
                get: {}
              /health:
                get: {}
            components:
              schemas:
                Mine: {}
                Problem: {}
              responses:
                NotFound: {}

            """)
    }
}
