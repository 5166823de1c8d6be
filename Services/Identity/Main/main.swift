import Identity
import ServiceKit

let configuration = ServiceConfiguration.load(service: .identity)
Observability.bootstrap(configuration)
let app = try await buildIdentityApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
