import Foundation
import Testing

@testable import Notifications

/// Rotating the unsubscribe secret: new links are signed with the new secret, links already in
/// learners' mailboxes keep working while the previous secret is listed, and no longer after.
@Suite struct UnsubscribeLinksTests {
    @Test func linksSignedWithAPreviousSecretAreHonouredUntilItIsDropped() {
        let user = UUID()
        let before = UnsubscribeLinks(secret: "first-secret-0123456789abcdef0123", baseURL: "https://api.example.com")
        let sent = before.token(for: user)
        let rotated = UnsubscribeLinks(
            secret: "second-secret-0123456789abcdef012", previousSecrets: ["first-secret-0123456789abcdef0123"], baseURL: "https://api.example.com")
        #expect(rotated.token(for: user) != sent, "new links are signed with the new secret")
        #expect(rotated.verify(sent, for: user))
        #expect(rotated.verify(rotated.token(for: user), for: user))
        #expect(!rotated.verify(sent, for: UUID()), "a token is still bound to its learner")
        let pruned = UnsubscribeLinks(secret: "second-secret-0123456789abcdef012", baseURL: "https://api.example.com")
        #expect(!pruned.verify(sent, for: user))
        #expect(pruned.verify(rotated.token(for: user), for: user))
    }
}
