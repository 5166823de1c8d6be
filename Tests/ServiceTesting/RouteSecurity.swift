import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit

/// Who the OpenAPI document says may call each operation, from its `security`: none (or `[]`)
/// is open, `[{}, {bearerAuth: []}]` takes a token when sent, `bearerAuth: []` needs one and
/// `bearerAuth: [admin]` an admin's.
public enum DocumentedSecurity {
    /// "GET /v1/progress" → access, for every operation of `document`.
    public static func operations(_ document: String) -> [String: Access] {
        var result: [String: Access] = [:]
        var inPaths = false
        var path: String?
        var method: String?
        var requirements: [String]?
        var collecting = false
        func finish() {
            guard let path, let method else { return }
            result["\(method.uppercased()) \(path)"] = access(requirements)
        }
        for line in document.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !text.hasPrefix("#") else { continue }
            if indent == 0 {
                finish()
                (path, method, requirements, collecting) = (nil, nil, nil, false)
                inPaths = text == "paths:"
                continue
            }
            guard inPaths else { continue }
            if indent <= 6 { collecting = false }
            if indent == 2, text.hasSuffix(":") {
                finish()
                (path, method, requirements) = (String(text.dropLast()), nil, nil)
            } else if indent == 4, ["get:", "put:", "post:", "delete:", "patch:"].contains(text) {
                finish()
                (method, requirements) = (String(text.dropLast()), nil)
            } else if indent == 4 {
                finish()
                (method, requirements) = (nil, nil)
            } else if indent == 6, method != nil, text.hasPrefix("security:") {
                requirements = []
                collecting = text == "security:"
            } else if collecting, indent == 8, text.hasPrefix("- ") {
                requirements?.append(String(text.dropFirst(2)))
            }
        }
        finish()
        return result
    }

    static func access(_ requirements: [String]?) -> Access {
        guard let requirements, !requirements.isEmpty else { return .open }
        if requirements.contains("{}") { return .identified }
        if requirements.contains(where: { $0.contains("[admin]") }) { return .admin }
        return .learner
    }
}

/// Calls every route of a router in process as nobody, as a learner and (for admin routes) as a
/// learner again, and compares what it answers with what its OpenAPI document says: a route left
/// open, guarded though documented open, undocumented, or documented and missing is reported.
public struct RouteSecurityCheck {
    public let router: Router<ServiceRequestContext>
    public let document: String
    public let tokens: TestTokens
    /// Routes the document need not list (added by the runtime, not the service).
    public var undocumented: Set<String> = []

    /// What `StandardRoutes` adds to every service.
    public static let standardRoutes: Set = ["GET /health/live", "GET /health/ready", "GET /metrics", "GET /openapi.yaml"]

    /// `router` as a service builds it; the routes every service has (health, metrics, its
    /// document) are added here as the runtime adds them.
    public init(router: Router<ServiceRequestContext>, document: String, tokens: TestTokens) {
        StandardRoutes.add(to: router, service: "test", health: HealthChecks(), openAPI: document)
        self.router = router
        self.document = document
        self.tokens = tokens
    }

    /// "METHOD /path" of every route the router has.
    public var routes: [String] {
        router.routes.map { "\($0.method.rawValue) \($0.path.description)" }.sorted()
    }

    /// What is wrong, one line per route; empty when every route is as documented.
    public func mismatches() async throws -> [String] {
        let documented = DocumentedSecurity.operations(document)
        var found: [String] = []
        let routes = self.routes
        for route in Set(documented.keys).subtracting(routes).sorted() {
            found.append("\(route): documented but not routed")
        }
        let learner = try await tokens.bearer(role: "USER")
        let app = Application(router: router)
        let undocumented = self.undocumented
        found += try await app.test(.router) { client in
            var found: [String] = []
            for route in routes {
                guard let access = documented[route] else {
                    if !undocumented.contains(route) { found.append("\(route): routed but not documented") }
                    continue
                }
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                let uri = Self.uri(String(parts[1]))
                let anonymous = try await client.execute(uri: uri, method: method, headers: [:], body: ByteBuffer(string: "{}"))
                let refusedAnonymous = anonymous.status == .unauthorized && Self.code(anonymous) == "unauthenticated"
                if access == .learner || access == .admin {
                    // What an attacker tries to slip past a guard: another spelling of the path, or
                    // HEAD for a GET. Each must be refused, or not be a route at all.
                    var probes = [(method, uri + "/"), (method, "/" + uri), (method, uri + "?"), (method, uri.replacingOccurrences(of: "/v1/", with: "/v1//"))]
                    if method == .get { probes.append((.head, uri)) }
                    for (probeMethod, probeURI) in probes {
                        let answer = try await client.execute(uri: probeURI, method: probeMethod, headers: [:], body: ByteBuffer(string: "{}"))
                        if ![.unauthorized, .notFound, .methodNotAllowed].contains(answer.status) {
                            found.append("\(route): \(probeMethod) \(probeURI) without a token answers \(answer.status.code)")
                        }
                    }
                }
                switch access {
                case .open, .identified:
                    if refusedAnonymous { found.append("\(route): documented \(access), but refuses a caller without a token") }
                case .learner, .admin:
                    if !refusedAnonymous {
                        found.append("\(route): documented \(access), but answers \(anonymous.status.code) without a token")
                    }
                }
                let signedIn = try await client.execute(
                    uri: uri, method: method, headers: [.authorization: learner], body: ByteBuffer(string: "{}"))
                let refusedLearner = signedIn.status == .forbidden && Self.code(signedIn) == "admin_only"
                switch access {
                case .admin:
                    if !refusedLearner { found.append("\(route): documented admin, but answers \(signedIn.status.code) to a learner") }
                case .learner, .identified:
                    if refusedLearner || signedIn.status == .unauthorized {
                        found.append("\(route): documented \(access), but refuses a learner's valid token")
                    }
                case .open:
                    if refusedLearner { found.append("\(route): documented open, but refuses a learner") }
                }
                if access == .identified {
                    let forged = try await client.execute(
                        uri: uri, method: method, headers: [.authorization: "Bearer not-a-token"], body: ByteBuffer(string: "{}"))
                    if forged.status != .unauthorized { found.append("\(route): takes a token when sent, but accepts an invalid one") }
                }
            }
            return found
        }
        return found
    }

    /// The route's path with each parameter filled in (a fresh id; a provider name where one is
    /// expected is not needed: the guard answers before the handler reads it).
    static func uri(_ template: String) -> String {
        template.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") ? UUID().uuidString.lowercased() : String(part)
        }.joined(separator: "/")
    }

    static func code(_ response: TestResponse) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        return object?["code"] as? String
    }
}
