import Identity
import ServiceKit

let configuration = try ServiceConfiguration(service: .identity)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildIdentityApplication(configuration)
try await app.runService()
