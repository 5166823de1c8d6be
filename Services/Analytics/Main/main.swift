import Analytics
import ServiceKit

let configuration = ServiceConfiguration.load(service: .analytics)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildAnalyticsApplication(configuration)
try await app.runService()
