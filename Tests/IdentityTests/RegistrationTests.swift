import Identity
import ServiceKit
import Testing

@Suite struct RegistrationTests {
    func codes(_ result: Result<Registration, DomainError>) -> [String: String] {
        guard case .failure(let error) = result else { return [:] }
        return Dictionary(uniqueKeysWithValues: error.errors.map { ($0.field, $0.code) })
    }

    @Test func acceptsAndNormalises() throws {
        let registration = try Registration.validate(email: "  Ada@Example.com ", password: "correct horse", name: " Ada ").get()
        #expect(registration.email == "Ada@Example.com")
        #expect(registration.name == "Ada")
        #expect(EmailAddress.normalized(registration.email) == "ada@example.com")
    }

    @Test func listsEveryBadField() {
        #expect(codes(Registration.validate(email: nil, password: nil, name: nil)) == ["email": "required", "password": "required", "name": "required"])
        #expect(codes(Registration.validate(email: "nope", password: "short", name: String(repeating: "x", count: 201)))
            == ["email": "invalid_email", "password": "too_short", "name": "too_long"])
    }

    @Test func passwordLengthPolicy() {
        #expect(codes(Registration.validate(email: "a@b.co", password: "1234567", name: "A"))["password"] == "too_short")
        #expect(codes(Registration.validate(email: "a@b.co", password: "12345678", name: "A")).isEmpty)
        #expect(codes(Registration.validate(email: "a@b.co", password: String(repeating: "é", count: 37), name: "A"))["password"] == "too_long")
        #expect(codes(Registration.validate(email: "a@b.co", password: String(repeating: "x", count: 72), name: "A")).isEmpty)
    }

    @Test(arguments: ["ada@example.com", "first.last+tag@sub.example.co.uk", "x@a.io"])
    func validEmails(address: String) {
        #expect(EmailAddress.isValid(address))
    }

    @Test(arguments: ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@@example.com",
                      ".ada@example.com", "ada..b@example.com", "ada@-example.com", "ada@example..com", "<ada>@example.com"])
    func invalidEmails(address: String) {
        #expect(!EmailAddress.isValid(address))
    }

    @Test func emailLengthLimit() {
        let local = String(repeating: "a", count: 64)
        let domain = String(repeating: "b", count: 63) + "." + String(repeating: "c", count: 63) + "." + String(repeating: "d", count: 63) + ".com"
        #expect(EmailAddress.isValid("\(local)@\(domain)"))
        #expect(!EmailAddress.isValid(String(repeating: "a", count: 65) + "@example.com"))
    }
}
