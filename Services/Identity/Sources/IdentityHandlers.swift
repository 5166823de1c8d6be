import Contracts
import ServiceKit

/// The events identity consumes: the marketing choice a user made through notifications'
/// one-click unsubscribe link.
enum IdentityHandlers {
    static func all(users: UserRepository) -> [EventHandler] {
        [
            EventHandler(NotificationsConsentChangedV1.self, name: "profile.consent") { event, connection in
                try users.applyConsent(event, on: connection)
            }
        ]
    }
}
