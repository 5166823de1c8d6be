import Content
import ServiceKit

let configuration = try ServiceConfiguration(service: .content)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildContentApplication(configuration)
try await app.runService()
