import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing

/// Every route's requests are counted and timed by route template, method and status; a path
/// that carries a secret never reaches the metrics.
@Suite struct RequestMetricsTests {
    @Test func requestsAreCountedByRouteTemplateNeverByPath() async throws {
        let routes = ServiceRuntime.routes(verifier: try await TokenVerifier.jwks(#"{"keys":[]}"#))
        routes.open.get("/v1/metrics-test/{secret}") { _, _ in "fine" }
        routes.open.post("/v1/metrics-test/{secret}") { _, _ -> String in throw Problem(.conflict, code: "taken", title: "Taken") }
        StandardRoutes.add(to: routes.router, service: "test", health: HealthChecks(), openAPI: nil)
        let secret = "s3cret-\(UUID().uuidString)"
        try await Application(router: routes.router).test(.router) { client in
            for _ in 0..<3 { #expect(try await client.execute(uri: "/v1/metrics-test/\(secret)", method: .get).status == .ok) }
            #expect(try await client.execute(uri: "/v1/metrics-test/\(secret)", method: .post).status == .conflict)
            #expect(try await client.execute(uri: "/v1/no-such-route/\(secret)", method: .get).status == .notFound)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"http_server_requests_total{route="/v1/metrics-test/{secret}",method="GET",status="200"} 3"#), "\(metrics)")
            #expect(metrics.contains(#"http_server_requests_total{route="/v1/metrics-test/{secret}",method="POST",status="409"} 1"#))
            #expect(metrics.contains(#"http_server_request_duration_seconds_bucket{route="/v1/metrics-test/{secret}",method="GET",status="200",le="+Inf"} 3"#))
            #expect(!metrics.contains(secret), "no path reaches the metrics")
        }
    }
}
