import Progress
import ServiceKit

let configuration = ServiceConfiguration.load(service: .progress)
Observability.bootstrap(configuration)
let app = try await buildProgressApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
