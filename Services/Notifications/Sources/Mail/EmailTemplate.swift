/// The mails notifications sends. Transactional mail goes to everyone; marketing mail respects
/// the opt-out and carries an unsubscribe link.
public enum EmailTemplate: String, Sendable, CaseIterable, Codable {
    case welcome = "WELCOME"
    case verifyEmail = "VERIFY_EMAIL"
    case passwordReset = "PASSWORD_RESET"

    public enum Kind: Sendable { case transactional, marketing }

    public var kind: Kind {
        switch self {
        case .welcome, .verifyEmail, .passwordReset: .transactional
        }
    }
}
