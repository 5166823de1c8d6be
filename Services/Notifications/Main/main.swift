import Notifications
import ServiceKit

let configuration = ServiceConfiguration.load(
    service: .notifications, secrets: [.required("unsubscribe.secret", minimumLength: 32), .optional("unsubscribe.previous.secrets", minimumLength: 32), .optional("mail.smtp.password")])
Observability.bootstrap(configuration)
let app = try await buildNotificationsApplication(configuration)
try await app.runService(draining: configuration.shutdownDrain)
