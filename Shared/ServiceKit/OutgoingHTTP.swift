import Database
import Foundation
import Tracing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One request to an outside provider's HTTP API (Stripe, Mux, …): the status and body, or the
/// transport's error. Providers' base URLs are configurable, so tests point them at local fakes.
public enum OutgoingHTTP {
    public struct TransportError: Error, CustomStringConvertible {
        public let message: String
        /// The request's `timeoutInterval` passed without an answer.
        public var timedOut = false
        public var description: String { message }
    }

    /// What a request carries: a JSON document, or form fields (`application/x-www-form-urlencoded`).
    public enum Body: Sendable {
        case json(JSONValue)
        case form([(String, String)])
    }

    /// A request to a provider's API: `authorization` is the whole header value (`Bearer …`,
    /// `Basic …`, see `basic(_:_:)`).
    public static func request(
        _ method: String, _ url: String, authorization: String? = nil, body: Body? = nil, headers: [String: String] = [:], timeout: TimeInterval = 15
    ) throws -> URLRequest {
        guard let target = URL(string: url), target.scheme != nil else { throw TransportError(message: "not a URL: \(url)") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = method
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        switch body {
        case .json(let document):
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONEncoder().encode(document)
        case .form(let fields):
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(form(fields).utf8)
        case nil:
            break
        }
        return request
    }

    /// HTTP Basic credentials, as an `Authorization` value.
    public static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// Form fields encoded as a body: everything but RFC 3986's unreserved characters escaped.
    public static func form(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// A value percent-encoded for a URL path segment or a form field.
    public static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// Sends the request and reads the answer as JSON (`null` when it is empty or not JSON).
    public static func sendJSON(_ request: URLRequest) async throws -> (status: Int, body: JSONValue) {
        let (status, data) = try await send(request)
        return (status, (try? JSONValue(parsing: data)) ?? .null)
    }

    /// Sends the request, giving up after its `timeoutInterval` (FoundationNetworking does not
    /// enforce it on a server that accepts the connection and then says nothing).
    ///
    /// Within a trace, the call is a client span (named by method and host: the path and query,
    /// which may carry identifiers or secrets, are not recorded) and carries its `traceparent`.
    public static func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        guard TraceContext.isRecording, let current = ServiceContext.current, TraceContext.traceparent(of: current) != nil else {
            return try await sendUntraced(request)
        }
        let method = request.httpMethod ?? "GET"
        return try await withSpan("\(method) \(request.url?.host ?? "-")", context: current, ofKind: .client) { span in
            span.attributes["http.request.method"] = method
            span.attributes["server.address"] = request.url?.host ?? ""
            var traced = request
            if let traceparent = TraceContext.traceparent(of: span.context) { traced.setValue(traceparent, forHTTPHeaderField: "traceparent") }
            let answer = try await sendUntraced(traced)
            span.attributes["http.response.status_code"] = answer.status
            if answer.status >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return answer
        }
    }

    static func sendUntraced(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        let limit = request.timeoutInterval > 0 ? request.timeoutInterval : 60
        return try await withThrowingTaskGroup(of: (status: Int, body: Data).self) { group in
            group.addTask { try await transfer(request) }
            group.addTask {
                try await Task.sleep(for: .seconds(limit))
                throw TransportError(message: "no answer within \(limit) s", timedOut: true)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    static func transfer(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        let box = TaskBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(status: Int, body: Data), any Error>) in
                let task = URLSession.shared.dataTask(with: request) { data, response, error in
                    if let error {
                        continuation.resume(throwing: TransportError(message: error.localizedDescription, timedOut: (error as? URLError)?.code == .timedOut))
                    } else {
                        continuation.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
                    }
                }
                box.set(task)
                task.resume()
            }
        } onCancel: {
            box.cancel()
        }
    }

    /// The running transfer, so a cancelled caller stops it.
    final class TaskBox: @unchecked Sendable {
        private let lock = NSLock()
        private var task: URLSessionDataTask?
        private var cancelled = false

        func set(_ task: URLSessionDataTask) {
            let cancelNow = lock.withLock {
                self.task = task
                return cancelled
            }
            if cancelNow { task.cancel() }
        }

        func cancel() {
            let task = lock.withLock {
                cancelled = true
                return self.task
            }
            task?.cancel()
        }
    }
}

extension String {
    /// A base URL as configured, without the trailing slash paths are appended after.
    public var withoutTrailingSlash: String {
        var text = self
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
