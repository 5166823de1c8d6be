import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a delivery may go. HTTPS only (plain HTTP only when allowed, for local development);
/// no credentials in the URL; and every address the host resolves to must be public — loopback,
/// private (RFC 1918, unique-local, shared address space) and link-local addresses are refused
/// unless their class is allowed, and unspecified, multicast and reserved ones always are. The
/// check is made when an endpoint is created or changed and again before each attempt, and the
/// connection is made to an address that was checked, never to a second resolution of the name.
public struct DestinationPolicy: Sendable, Equatable {
    public enum AddressClass: String, Sendable, Hashable, CaseIterable {
        case loopback
        case `private`
        case linkLocal = "link-local"
    }

    public var allowHTTP: Bool
    public var allowed: Set<AddressClass>

    public init(allowHTTP: Bool = false, allowed: Set<AddressClass> = []) {
        self.allowHTTP = allowHTTP
        self.allowed = allowed
    }

    /// A URL that passed the checks that need no network.
    public struct Destination: Sendable, Equatable {
        public var url: String
        public var secure: Bool
        public var host: String
        public var port: Int
        /// The path and query, as sent in the request line.
        public var target: String
        /// Scheme, host and port: what may be shown where the URL may not (a path or query
        /// often carries a secret).
        public var origin: String
        /// The `Host` header.
        public var hostHeader: String
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case notAURL
        case scheme(String)
        case credentials
        case unresolvable(String)
        case address(String, String)

        /// A stable code for the API.
        public var code: String {
            switch self {
            case .notAURL: "invalid_url"
            case .scheme: "scheme_not_allowed"
            case .credentials: "credentials_in_url"
            case .unresolvable: "host_unresolvable"
            case .address: "address_not_allowed"
            }
        }

        public var description: String {
            switch self {
            case .notAURL: "not an absolute http(s) URL with a host"
            case .scheme(let scheme): "\(scheme) URLs are not allowed (HTTPS only)"
            case .credentials: "a URL may not carry a user name or password"
            case .unresolvable(let host): "\(host) does not resolve"
            case .address(let address, let kind): "\(address) is a \(kind) address"
            }
        }
    }

    /// The checks that need no network.
    public func destination(_ text: String) throws(Refusal) -> Destination {
        guard text.count <= 2000, let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            var host = components.host, !host.isEmpty
        else { throw .notAURL }
        guard scheme == "https" || (scheme == "http" && allowHTTP) else { throw .scheme(scheme) }
        guard components.user == nil, components.password == nil else { throw .credentials }
        guard components.fragment == nil else { throw .notAURL }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = host.lowercased()
        let secure = scheme == "https"
        let defaultPort = secure ? 443 : 80
        let port = components.port ?? defaultPort
        guard (1...65535).contains(port) else { throw .notAURL }
        var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?\(query)" }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let hostHeader = port == defaultPort ? shownHost : "\(shownHost):\(port)"
        return Destination(
            url: text, secure: secure, host: host, port: port, target: target, origin: "\(scheme)://\(hostHeader)", hostHeader: hostHeader)
    }

    /// The host's addresses, every one of them allowed; the first is the one to connect to.
    public func addresses(of destination: Destination) throws(Refusal) -> [String] {
        let resolved = Self.resolve(destination.host)
        guard !resolved.isEmpty else { throw .unresolvable(destination.host) }
        for address in resolved {
            let kind = Self.classify(address)
            switch kind {
            case nil: continue
            case .some(.left(let addressClass)) where allowed.contains(addressClass): continue
            case .some(.left(let addressClass)): throw .address(address, addressClass.rawValue)
            case .some(.right(let reserved)): throw .address(address, reserved)
            }
        }
        return resolved
    }

    enum Either<L, R> {
        case left(L)
        case right(R)
    }

    /// nil for a public address; otherwise its class, or why it is never allowed.
    static func classify(_ address: String) -> Either<AddressClass, String>? {
        if let v4 = ipv4Bytes(address) { return classify(v4: v4) }
        guard let v6 = ipv6Bytes(address) else { return .right("unparseable") }
        if v6.allSatisfy({ $0 == 0 }) { return .right("unspecified") }
        if v6[0..<15].allSatisfy({ $0 == 0 }) && v6[15] == 1 { return .left(.loopback) }
        // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d):
        // judged as the IPv4 address they carry.
        if v6[0..<10].allSatisfy({ $0 == 0 }) && ((v6[10] == 0xff && v6[11] == 0xff) || (v6[10] == 0 && v6[11] == 0)) {
            return classify(v4: Array(v6[12..<16]))
        }
        if v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b && v6[4..<12].allSatisfy({ $0 == 0 }) {
            return classify(v4: Array(v6[12..<16]))
        }
        if v6[0] & 0xfe == 0xfc { return .left(.private) }
        if v6[0] == 0xfe && v6[1] & 0xc0 == 0x80 { return .left(.linkLocal) }
        if v6[0] == 0xfe && v6[1] & 0xc0 == 0xc0 { return .left(.private) }  // site-local, deprecated
        if v6[0] == 0xff { return .right("multicast") }
        if v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8 { return .right("documentation") }
        return nil
    }

    static func classify(v4 b: [UInt8]) -> Either<AddressClass, String>? {
        switch (b[0], b[1]) {
        case (0, _): return .right("unspecified")
        case (127, _): return .left(.loopback)
        case (10, _): return .left(.private)
        case (172, 16...31): return .left(.private)
        case (192, 168): return .left(.private)
        case (100, 64...127): return .left(.private)  // shared address space (carrier-grade NAT)
        case (169, 254): return .left(.linkLocal)
        case (192, 0) where b[2] == 0: return .right("reserved")
        case (198, 18...19): return .right("benchmarking")
        case (224...239, _): return .right("multicast")
        case (240...255, _): return .right("reserved")
        default: return nil
        }
    }

    static func ipv4Bytes(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// Every address of `host` (a literal address resolves to itself), through the system's
    /// resolver.
    static func resolve(_ host: String) -> [String] {
        if ipv4Bytes(host) != nil || ipv6Bytes(host) != nil { return [host] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if entry.pointee.ai_family == AF_INET {
                entry.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
                }
            } else if entry.pointee.ai_family == AF_INET6 {
                entry.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
                }
            }
            let text = String(cString: buffer)
            if !text.isEmpty && !addresses.contains(text) { addresses.append(text) }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}
