import Foundation
import ServiceKit

/// Stripe's HTTP API, as far as billing uses it: customers, Checkout and portal sessions, and
/// cancelling a subscription. The base URL is configurable (tests point it at a local fake);
/// every request pins `Stripe-Version`.
public struct StripeClient: Sendable {
    public static let apiVersion = "2025-03-31.basil"

    public var baseURL: String
    public var secretKey: String

    public init(baseURL: String, secretKey: String) {
        self.baseURL = baseURL.withoutTrailingSlash
        self.secretKey = secretKey
    }

    public struct Failure: Error, CustomStringConvertible {
        public let status: Int
        public let message: String
        public var description: String { "Stripe answered \(status): \(message)" }
    }

    func send(_ method: String, _ path: String, form: [(String, String)] = [], idempotencyKey: String? = nil) async throws -> JSONValue {
        var headers = ["Stripe-Version": Self.apiVersion]
        if let idempotencyKey { headers["Idempotency-Key"] = idempotencyKey }
        let status: Int, body: JSONValue
        do {
            (status, body) = try await OutgoingHTTP.sendJSON(
                OutgoingHTTP.request(method, baseURL + path, authorization: "Bearer \(secretKey)", body: form.isEmpty ? nil : .form(form), headers: headers))
        } catch {
            throw Failure(status: 0, message: "\(error)")
        }
        guard (200..<300).contains(status) else {
            throw Failure(status: status, message: body["error"]["message"].string ?? "no message")
        }
        return body
    }

    /// A customer for the user, with `metadata[userId]`.
    public func createCustomer(userID: UUID, email: String?) async throws -> String {
        var form = [("metadata[userId]", userID.uuidString.lowercased())]
        if let email { form.append(("email", email)) }
        let customer = try await send("POST", "/v1/customers", form: form, idempotencyKey: "customer-\(userID.uuidString.lowercased())")
        guard let id = customer["id"].string else { throw Failure(status: 200, message: "no customer id") }
        return id
    }

    /// A Checkout Session for one subscription, carrying the user id in both places the webhook
    /// may look (`client_reference_id`, `subscription_data.metadata.userId`).
    public func createCheckoutSession(
        customer: String, userID: UUID, priceID: String, successURL: String, cancelURL: String
    ) async throws -> (id: String, url: String) {
        let user = userID.uuidString.lowercased()
        let session = try await send("POST", "/v1/checkout/sessions", form: [
            ("mode", "subscription"), ("customer", customer), ("client_reference_id", user),
            ("line_items[0][price]", priceID), ("line_items[0][quantity]", "1"),
            ("subscription_data[metadata][userId]", user), ("metadata[userId]", user),
            ("success_url", successURL), ("cancel_url", cancelURL),
        ])
        guard let id = session["id"].string, let url = session["url"].string else { throw Failure(status: 200, message: "no session url") }
        return (id, url)
    }

    public func createPortalSession(customer: String, returnURL: String) async throws -> String {
        let session = try await send("POST", "/v1/billing_portal/sessions", form: [("customer", customer), ("return_url", returnURL)])
        guard let url = session["url"].string else { throw Failure(status: 200, message: "no portal url") }
        return url
    }

    public func retrieveSubscription(_ id: String) async throws -> JSONValue {
        try await send("GET", "/v1/subscriptions/\(id)")
    }

    public func cancelSubscription(_ id: String) async throws {
        _ = try await send("DELETE", "/v1/subscriptions/\(id)", idempotencyKey: "cancel-\(id)")
    }
}
