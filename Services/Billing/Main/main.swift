import Billing
import ServiceKit

let configuration = ServiceConfiguration.load(
    service: .billing, secrets: [.required("stripe.webhook.secret"), .optional("stripe.secret.key")])
Observability.bootstrap(configuration)
let app = try await buildBillingApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
