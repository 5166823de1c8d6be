import Billing
import ServiceKit

let configuration = try ServiceConfiguration(service: .billing)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildBillingApplication(configuration)
try await app.runService()
