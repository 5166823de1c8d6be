import Progress
import ServiceKit

let configuration = try ServiceConfiguration(service: .progress)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildProgressApplication(configuration)
try await app.runService()
