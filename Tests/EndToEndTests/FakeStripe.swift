import Foundation
import Hummingbird

/// Stripe's HTTP API for the tests, in its real wire format (form-encoded requests, JSON answers,
/// bearer key, `Stripe-Version`), recording what it was asked.
final class FakeStripe: @unchecked Sendable {
    let port: Int
    let secretKey = "sk_test_fake"
    private let lock = NSLock()
    private var _requests: [(method: String, path: String, form: [String: String], version: String?)] = []
    private var counter = 0
    /// Subscriptions as Stripe holds them now (JSON), for reads.
    private var subscriptions: [String: String] = [:]

    func setSubscription(_ id: String, json: String) { lock.withLock { subscriptions[id] = json } }

    init(port: Int) { self.port = port }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [(method: String, path: String, form: [String: String], version: String?)] { lock.withLock { _requests } }

    /// Ids are unique to this fake, as Stripe's are, so runs against one database never collide.
    private let run = UUID().uuidString.prefix(8).lowercased()

    /// The id the fake gives the `n`th object it makes (counting every kind).
    func id(_ prefix: String, _ n: Int) -> String { "\(prefix)_fake\(run)\(n)" }

    private func next(_ prefix: String) -> String { lock.withLock { counter += 1; return id(prefix, counter) } }

    private func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))))
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(Recorder(stripe: self))
        router.post("/v1/customers") { _, _ in self.json(["id": self.next("cus"), "object": "customer"]) }
        router.post("/v1/checkout/sessions") { _, _ in
            let id = self.next("cs")
            return self.json(["id": id, "object": "checkout.session", "url": "https://checkout.stripe.test/c/\(id)"])
        }
        router.post("/v1/billing_portal/sessions") { _, _ in self.json(["id": self.next("bps"), "url": "https://billing.stripe.test/p/session"]) }
        router.get("/v1/subscriptions/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let object = self.lock.withLock({ self.subscriptions[id] }) else {
                return self.json(["error": ["type": "invalid_request_error", "message": "No such subscription"]], status: .notFound)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: object)))
        }
        router.delete("/v1/subscriptions/:id") { _, context in
            self.json(["id": context.parameters.get("id") ?? "", "object": "subscription", "status": "canceled"])
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }

    struct Recorder: RouterMiddleware {
        let stripe: FakeStripe

        func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            guard request.headers[.authorization] == "Bearer \(stripe.secretKey)" else {
                return stripe.json(["error": ["type": "invalid_request_error", "message": "Invalid API Key provided"]], status: .unauthorized)
            }
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            var components = URLComponents()
            components.percentEncodedQuery = String(buffer: body)
            var form: [String: String] = [:]
            for item in components.queryItems ?? [] { form[item.name] = item.value }
            stripe.lock.withLock {
                stripe._requests.append((request.method.rawValue, request.uri.path, form, request.headers[.init("Stripe-Version")!]))
            }
            return try await next(request, context)
        }
    }
}
