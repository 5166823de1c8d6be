import Foundation

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

    /// Sends the request, giving up after its `timeoutInterval` (FoundationNetworking does not
    /// enforce it on a server that accepts the connection and then says nothing).
    public static func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
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
