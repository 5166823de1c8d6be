import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One request to an outside provider's HTTP API (Stripe, Mux, …): the status and body, or the
/// transport's error. Providers' base URLs are configurable, so tests point them at local fakes.
public enum OutgoingHTTP {
    public struct TransportError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(status: Int, body: Data), any Error>) in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: TransportError(message: error.localizedDescription))
                } else {
                    continuation.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
                }
            }.resume()
        }
    }
}
