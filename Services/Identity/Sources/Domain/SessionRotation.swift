import Foundation

/// What presenting a refresh token leads to. A token is good once: exchanged, it is remembered as
/// rotated, and seeing it again means someone copied it, so the session it belonged to ends.
public enum SessionRotation: Sendable, Equatable {
    /// Exchange it for a new token on the same session.
    case rotate
    /// A rotated token came back: end its session, refuse.
    case reused
    /// Unknown, revoked or expired: refuse.
    case invalid

    /// The session the token is current for (when it is), whether its hash is among the rotated
    /// ones, and now.
    public static func decide(session: (revokedAt: Date?, expiresAt: Date)?, rotatedBefore: Bool, now: Date) -> SessionRotation {
        if let session {
            return session.revokedAt == nil && session.expiresAt > now ? .rotate : .invalid
        }
        return rotatedBefore ? .reused : .invalid
    }
}
