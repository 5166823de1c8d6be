import Analytics
import ServiceKit

let configuration = try ServiceConfiguration(service: .analytics)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildAnalyticsApplication(configuration)
try await app.runService()
