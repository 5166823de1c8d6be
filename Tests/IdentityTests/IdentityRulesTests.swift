import Foundation
import Hummingbird
import Identity
import ServiceKit
import Testing

@Suite struct SessionRotationTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aCurrentTokenOfALiveSessionRotates() {
        #expect(SessionRotation.decide(session: (revokedAt: nil, expiresAt: now.addingTimeInterval(60)), rotatedBefore: false, now: now) == .rotate)
    }

    @Test func anEndedOrExpiredSessionRefuses() {
        #expect(SessionRotation.decide(session: (revokedAt: now, expiresAt: now.addingTimeInterval(60)), rotatedBefore: false, now: now) == .invalid)
        #expect(SessionRotation.decide(session: (revokedAt: nil, expiresAt: now), rotatedBefore: false, now: now) == .invalid)
    }

    @Test func aRotatedTokenSeenAgainIsReuse() {
        #expect(SessionRotation.decide(session: nil, rotatedBefore: true, now: now) == .reused)
        #expect(SessionRotation.decide(session: nil, rotatedBefore: false, now: now) == .invalid, "never issued")
    }
}

@Suite struct AdminRosterTests {
    let ada = UUID(), grace = UUID()

    @Test func onlyTheLastAdminIsKept() {
        #expect(AdminRoster.wouldLoseLastAdmin(userID: ada, role: "ADMIN", admins: [ada]))
        #expect(!AdminRoster.wouldLoseLastAdmin(userID: ada, role: "ADMIN", admins: [ada, grace]))
        #expect(!AdminRoster.wouldLoseLastAdmin(userID: ada, role: "USER", admins: [grace]))
    }

    @Test func eachChangeHasItsOwnAnswer() {
        #expect(AdminRoster.refusal(.demotion) == DomainError(.conflict, code: "last_admin", title: "The last admin cannot stop being one"))
        #expect(AdminRoster.refusal(.deletion).title == "The last admin cannot be deleted")
        #expect(AdminRoster.refusal(.selfDeletion).title == "The last admin cannot delete their account")
        #expect(Problem(AdminRoster.refusal(.deletion)).status == .conflict)
    }
}

@Suite struct EmailChangeStepTests {
    func step(_ requested: String?, password: String? = "secret words", hasPassword: Bool = true, otherErrors: Bool = false) -> EmailChangeStep {
        EmailChangeStep.decide(
            requested: requested, currentEmail: "Ada@Example.com", currentPassword: password, hasPassword: hasPassword, otherErrors: otherErrors)
    }

    @Test func theSameAddressOrNoneIsNoChange() {
        #expect(step(nil) == .none)
        #expect(step("ada@example.COM", password: nil) == .none, "a change of case needs no password")
        #expect(step("not an address", password: nil) == .none, "an invalid address is a field error of its own")
    }

    @Test func aNewAddressTakesTheCurrentPassword() {
        #expect(step("new@example.com", password: nil) == .passwordMissing)
        #expect(step("new@example.com", password: "") == .passwordMissing)
        #expect(step("new@example.com") == .checkPassword("secret words"))
    }

    @Test func noPasswordIsCheckedWhileOtherFieldsAreWrong() {
        #expect(step("new@example.com", otherErrors: true) == .waitForValidFields)
        #expect(step("new@example.com", password: nil, otherErrors: true) == .passwordMissing)
    }

    @Test func anAccountWithoutPasswordCannotChangeItsAddress() {
        #expect(step("new@example.com", hasPassword: false) == .passwordNotSet)
    }
}

@Suite struct PresentedInputTests {
    func fields(_ body: () throws -> Void) -> [String] {
        do {
            try body()
            return []
        } catch let error as DomainError {
            #expect(error.kind == .invalid && error.code == "validation_failed")
            return error.errors.map(\.field)
        } catch {
            return ["unexpected"]
        }
    }

    @Test func signInNeedsBothFields() throws {
        let credentials = try Credentials.validate(email: " ada@example.com ", password: "x")
        #expect(credentials.email == "ada@example.com" && credentials.password == "x")
        #expect(fields { _ = try Credentials.validate(email: "  ", password: nil) } == ["email", "password"])
    }

    @Test func tokensAreRequiredAndBounded() throws {
        #expect(try PresentedToken.refreshToken("abc") == "abc")
        #expect(fields { _ = try PresentedToken.refreshToken(nil) } == ["refreshToken"])
        #expect(fields { _ = try PresentedToken.linkToken(String(repeating: "a", count: 201)) } == ["token"])
        #expect(fields { _ = try PresentedToken.passwordReset(token: nil, password: "short") } == ["token", "password"])
        #expect(fields { _ = try PresentedToken.resetEmail("nope") } == ["email"])
    }

    @Test func identityErrorsKeepTheirStatuses() {
        #expect(Problem(.invalidCredentials).status == .unauthorized)
        #expect(Problem(.refreshTokenReused).status == .unauthorized)
        #expect(Problem(.invalidLink).status == .badRequest)
        #expect(Problem(.busy).status == .serviceUnavailable && Problem(.busy).headers[.retryAfter] == "2")
        #expect(Problem(.tooManyAttempts(7)).status == .tooManyRequests && Problem(.tooManyAttempts(7)).headers[.retryAfter] == "7")
        #expect(Problem(.oauthProviderFailed).status == .badGateway)
        #expect(Problem(.emailTaken).status == .conflict)
    }
}
