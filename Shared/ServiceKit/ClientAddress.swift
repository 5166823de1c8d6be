import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as bytes (4 or 16); an IPv4-mapped IPv6 address is its IPv4 address.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ text: some StringProtocol) {
        var text = String(text).trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        // A zone (`fe80::1%eth0`) names an interface of the sender, not a different address.
        if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let all = withUnsafeBytes(of: &v6) { Array($0) }
        if all[0..<10].allSatisfy({ $0 == 0 }), all[10] == 0xff, all[11] == 0xff {
            bytes = Array(all[12..<16])
        } else {
            bytes = all
        }
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    public var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text form (what `inet_ntop` writes).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        var copy = bytes
        let written = copy.withUnsafeMutableBytes { raw in
            inet_ntop(isIPv4 ? AF_INET : AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard written != nil else { return bytes.map { String($0) }.joined(separator: ".") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first `bits` bits, the rest zeroed.
    func masked(_ bits: Int) -> IPAddress {
        IPAddress(bytes: bytes.enumerated().map { index, byte in
            let keep = max(0, min(8, bits - index * 8))
            return keep == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        })
    }
}

/// A network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`; a bare address is a
/// network of one).
public struct IPNetwork: Sendable, Hashable {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(parts[0]) else { return nil }
        let maximum = address.bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...maximum).contains(given) else { return nil }
            // `::ffff:10.0.0.0/104` means the IPv4 network 10.0.0.0/8.
            length = parts[0].contains(":") && address.isIPv4 ? given - 96 : given
            guard length >= 0 else { return nil }
        }
        self.address = address.masked(length)
        prefixLength = length
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.bytes.count == address.bytes.count && candidate.masked(prefixLength) == address
    }
}

/// Which address a request came from, for throttling: the connection's peer, or — only when the
/// peer is one of the configured proxies — the right-most `X-Forwarded-For` entry that is not a
/// trusted proxy itself. Everything left of that entry was written by the client and is ignored.
public struct ClientAddressResolver: Sendable, Equatable {
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork] = []) {
        self.trustedProxies = trustedProxies
    }

    /// Parses a service's `<SERVICE>_TRUSTED_PROXIES`: comma-separated addresses and CIDR
    /// networks; empty trusts no proxy. Throws on an entry that is neither, naming `variable`.
    public init(configuration text: String, variable: String = "TRUSTED_PROXIES") throws {
        var networks: [IPNetwork] = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            guard let network = IPNetwork(entry) else { throw InvalidProxy(variable: variable, entry: entry) }
            networks.append(network)
        }
        trustedProxies = networks
    }

    public struct InvalidProxy: Error, CustomStringConvertible {
        public let variable: String
        public let entry: String
        public var description: String { "\(variable): \(entry) is neither an IP address nor a CIDR network" }
    }

    func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// The client's address in canonical form. `forwardedFor` holds every `X-Forwarded-For`
    /// field value in the order received. An unreadable peer is `unknown`.
    public func resolve(peer: String?, forwardedFor: [String]) -> String {
        guard let peerText = peer, let peerAddress = IPAddress(peerText) else { return "unknown" }
        guard isTrusted(peerAddress) else { return peerAddress.description }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var nearest = peerAddress
        for hop in hops.reversed() {
            // An entry that is not an address cannot be believed: the last trusted hop is as far
            // as we can see.
            guard let address = IPAddress(hop) else { return nearest.description }
            if !isTrusted(address) { return address.description }
            nearest = address
        }
        return nearest.description
    }

    /// The key an address is throttled under: an IPv4 address itself, an IPv6 address's /64 (one
    /// subscriber commonly holds a whole /64).
    public static func throttleKey(_ address: String) -> String {
        guard let parsed = IPAddress(address) else { return address }
        return parsed.isIPv4 ? parsed.description : parsed.masked(64).description + "/64"
    }
}
