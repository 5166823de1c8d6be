import ServiceKit
import Webhooks

let configuration = ServiceConfiguration.load(service: .webhooks)
Observability.bootstrap(configuration)
let app = try await buildWebhooksApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
