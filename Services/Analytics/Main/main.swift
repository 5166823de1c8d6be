import Analytics
import ServiceKit

let configuration = ServiceConfiguration.load(service: .analytics)
Observability.bootstrap(configuration)
let app = try await buildAnalyticsApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
