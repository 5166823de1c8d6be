import Content
import ServiceKit

let configuration = ServiceConfiguration.load(
    service: .content,
    secrets: [
        .optional("mux.token.secret"), .optional("mux.signing.key"), .optional("mux.webhook.secret"),
        .optional("integrations.key", minimumLength: 32), .optional("integrations.previous.keys", minimumLength: 32), .optional("integrations.next.keys", minimumLength: 32), .optional("notion.client.secret"), .optional("google.client.secret"),
        .optional("plans.provider.key"),
    ])
Observability.bootstrap(configuration)
let app = try await buildContentApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
