import Notifications
import ServiceKit

let configuration = try ServiceConfiguration(service: .notifications)
Observability.bootstrap(level: configuration.logLevel)
let app = try await buildNotificationsApplication(configuration)
try await app.runService()
