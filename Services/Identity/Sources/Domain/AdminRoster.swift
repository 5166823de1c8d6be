import Contracts
import Foundation
import ServiceKit

/// Who may stop being an admin: anyone but the last one. Admins are counted under lock, so two
/// admins demoting or deleting each other at once cannot both succeed.
public enum AdminRoster {
    /// Whether `user` (now in `role`) losing the admin role, or the account, leaves `admins`
    /// (every admin's id) without one.
    public static func wouldLoseLastAdmin(userID: UUID, role: String, admins: [UUID]) -> Bool {
        Role(rawValue: role) == .admin && admins == [userID]
    }

    /// The roles an admin may give: the ones this version knows.
    public static let roles = Set(Role.known.map(\.rawValue))
}

extension AdminRoster {
    /// What would take the last admin away.
    public enum Change: Sendable {
        case demotion, deletion, selfDeletion
    }

    /// The answer to a change that would leave no admin.
    public static func refusal(_ change: Change) -> DomainError {
        switch change {
        case .demotion: .lastAdmin("The last admin cannot stop being one")
        case .deletion: .lastAdmin("The last admin cannot be deleted")
        case .selfDeletion: .lastAdmin("The last admin cannot delete their account")
        }
    }
}
