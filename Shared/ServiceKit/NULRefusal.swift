import Hummingbird

/// Refuses a request with a NUL character in its path or query (raw or `%00`), a header, or
/// anywhere in its body (raw, or escaped as `\u0000` in JSON) with 400 `invalid_character` before
/// any route sees it: Postgres cannot store NUL in text, and a value cut short at it would be
/// stored as something the caller did not send. The database layer refuses one that gets past
/// (`DatabaseError.nulInParameter`), mapped to the same problem.
public struct NULRefusalMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    static var problem: Problem {
        Problem(.badRequest, code: "invalid_character", title: "Text must not contain NUL characters")
    }

    /// A NUL in a URI, raw or percent-encoded.
    public static func uriContainsNUL(_ uri: String) -> Bool {
        uri.utf8.contains(0) || uri.range(of: "%00", options: .caseInsensitive) != nil
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.uriContainsNUL(request.uri.description) { throw Self.problem }
        for field in request.headers where field.value.utf8.contains(0) { throw Self.problem }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        if Self.containsNUL(body.readableBytesView) { throw Self.problem }
        return try await next(request, context)
    }

    /// A raw NUL byte, or a `\u0000` escape (one preceded by an odd run of backslashes; an even
    /// run is escaped backslashes followed by the literal text).
    public static func containsNUL(_ bytes: some Collection<UInt8>) -> Bool {
        let bytes = Array(bytes)
        var index = 0
        var backslashes = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0 { return true }
            if byte == UInt8(ascii: "\\") {
                backslashes += 1
                index += 1
                continue
            }
            if byte == UInt8(ascii: "u"), backslashes % 2 == 1, index + 4 < bytes.count,
                bytes[(index + 1)...(index + 4)].allSatisfy({ $0 == UInt8(ascii: "0") })
            {
                return true
            }
            backslashes = 0
            index += 1
        }
        return false
    }
}
