import Foundation
import ServiceKit
import Testing

@testable import Identity

@Suite struct ThrottleTests {
    let throttle = Throttle()
    /// 5 minutes into a 15-minute window (1_800_000_000 is a multiple of 900).
    let now = Date(timeIntervalSince1970: 1_800_000_300)

    @Test func signInHasATightPairKeyAndLooserAccountAndAddressKeys() {
        let keys = throttle.signIn(email: " Ada@Example.com", address: "10.0.0.1")
        #expect(keys.map(\.key) == ["login:account-address:ada@example.com 10.0.0.1", "login:account:ada@example.com", "login:address:10.0.0.1"])
        #expect(keys.map(\.limit) == [5, 20, 100])
        #expect(keys.allSatisfy { $0.window == 900 })
    }

    @Test func allowsUpToTheLimitAndRefusesPastIt() {
        let keys = throttle.signIn(email: "ada@example.com", address: "10.0.0.1")
        #expect(Throttle.retryAfter([(keys[0], 5), (keys[1], 5), (keys[2], 5)], now: now) == nil, "the fifth attempt is allowed")
        // A full key is reported as nil (the database did not count it); the wait is until its window ends.
        #expect(Throttle.retryAfter([(keys[0], nil)], now: now) == 600)
        #expect(Throttle.retryAfter([(keys[0], 6)], now: now) == 600)
    }

    @Test func windowsAreFixedAndRetryAfterIsAtLeastASecond() {
        let key = throttle.signIn(email: "a@b.co", address: "10.0.0.1")[0]
        #expect(key.windowStart(at: now) == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(key.retryAfter(at: Date(timeIntervalSince1970: 1_800_000_899.5)) == 1)
        #expect(key.retryAfter(at: Date(timeIntervalSince1970: 1_800_000_900)) == 900, "a new window starts")
    }

    @Test func wrongGuessesForOneAccountDoNotReachOtherAccountsFromTheSameAddress() {
        // Five failures for ada from 10.0.0.1 fill ada's pair key only.
        let ada = throttle.signIn(email: "ada@example.com", address: "10.0.0.1")
        let grace = throttle.signIn(email: "grace@example.com", address: "10.0.0.1")
        #expect(ada[0] != grace[0] && ada[1] != grace[1])
        #expect(ada[2] == grace[2], "the address key is shared, with a far higher limit")
        #expect(Throttle.retryAfter([(grace[0], 1), (grace[1], 1), (grace[2], 6)], now: now) == nil)
    }

    @Test func otherActionsCountPerAddressAndResetLinksPerEmail() {
        #expect(throttle.action("register", address: "10.0.0.1").key == "register:address:10.0.0.1")
        #expect(throttle.action("register", address: "10.0.0.1").limit == 100)
        let links = throttle.resetLinks(email: "Ada@Example.com")
        #expect(links.key == "reset-link:email:ada@example.com")
        #expect(links.limit == 3 && links.window == 3600)
    }

    @Test func longKeysAreHashed() {
        let long = String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 200) + ".com"
        let key = throttle.signIn(email: long, address: "10.0.0.1")[1].key
        #expect(key.hasPrefix("login:account:sha256:"))
        #expect(key.utf8.count <= AttemptKey.maxLength)
        #expect(throttle.signIn(email: long.uppercased(), address: "10.0.0.1")[1].key == key, "normalised before hashing")
    }

    @Test func ipv6AddressesAreThrottledByTheirSlash64() {
        let a = throttle.action("register", address: "2001:db8:1:2:aaaa::1")
        let b = throttle.action("register", address: "2001:db8:1:2:bbbb::9")
        #expect(a == b)
        #expect(a.key == "register:address:2001:db8:1:2::/64")
        #expect(throttle.action("register", address: "::ffff:10.1.2.3").key == "register:address:10.1.2.3")
    }
}

@Suite struct ClientAddressTests {
    let proxies = try! ClientAddressResolver(configuration: "127.0.0.1, ::1, 10.0.0.0/8")

    @Test func parsesAddressesAndNetworks() throws {
        #expect(proxies.trustedProxies.count == 3)
        #expect(try ClientAddressResolver(configuration: "").trustedProxies.isEmpty)
        #expect(try ClientAddressResolver(configuration: " , ").trustedProxies.isEmpty)
        #expect(throws: ClientAddressResolver.InvalidProxy.self) { try ClientAddressResolver(configuration: "gateway") }
        #expect(throws: ClientAddressResolver.InvalidProxy.self) { try ClientAddressResolver(configuration: "10.0.0.0/33") }
        #expect(throws: ClientAddressResolver.InvalidProxy.self) { try ClientAddressResolver(configuration: "true") }
        let network = try #require(IPNetwork("172.16.0.0/12"))
        #expect(network.contains(try #require(IPAddress("172.31.255.255"))))
        #expect(!network.contains(try #require(IPAddress("172.32.0.1"))))
        #expect(try #require(IPNetwork("fd00::/8")).contains(try #require(IPAddress("fd12::1"))))
        #expect(!(try #require(IPNetwork("fd00::/8"))).contains(try #require(IPAddress("10.0.0.1"))))
    }

    @Test func anUntrustedPeerIsTheClientWhateverItForwards() {
        #expect(proxies.resolve(peer: "203.0.113.7", forwardedFor: ["198.51.100.1"]) == "203.0.113.7")
        #expect(ClientAddressResolver().resolve(peer: "127.0.0.1", forwardedFor: ["198.51.100.1"]) == "127.0.0.1", "no proxy trusted")
    }

    @Test func behindATrustedProxyTheRightMostUntrustedEntryIsTheClient() {
        #expect(proxies.resolve(peer: "10.1.1.1", forwardedFor: ["198.51.100.1"]) == "198.51.100.1")
        // The client wrote the first entry itself; the proxy appended what it saw.
        #expect(proxies.resolve(peer: "10.1.1.1", forwardedFor: ["1.2.3.4, 198.51.100.1"]) == "198.51.100.1")
        #expect(proxies.resolve(peer: "127.0.0.1", forwardedFor: ["1.2.3.4", "198.51.100.1, 10.2.2.2"]) == "198.51.100.1", "across fields, skipping trusted hops")
        #expect(proxies.resolve(peer: "::1", forwardedFor: ["2001:DB8::1"]) == "2001:db8::1", "canonical form")
    }

    @Test func withoutUsableEntriesTheNearestTrustedHopIsTheClient() {
        #expect(proxies.resolve(peer: "127.0.0.1", forwardedFor: []) == "127.0.0.1")
        #expect(proxies.resolve(peer: "127.0.0.1", forwardedFor: ["10.0.0.5"]) == "10.0.0.5")
        #expect(proxies.resolve(peer: "127.0.0.1", forwardedFor: ["1.2.3.4, not-an-address, 10.0.0.5"]) == "10.0.0.5")
        #expect(proxies.resolve(peer: "127.0.0.1", forwardedFor: ["unknown"]) == "127.0.0.1")
        #expect(proxies.resolve(peer: nil, forwardedFor: ["1.2.3.4"]) == "unknown")
    }

    @Test func ipv4MappedPeersMatchIPv4Proxies() {
        #expect(proxies.resolve(peer: "::ffff:127.0.0.1", forwardedFor: ["198.51.100.1"]) == "198.51.100.1")
    }
}

@Suite struct PasswordHasherQueueTests {
    @Test func aFullQueueIsRefusedAtOnce() async throws {
        let hasher = PasswordHasher(cost: 4, threads: 1, maxQueued: 0)
        let hash = try await hasher.hash("correct horse")
        #expect(try await hasher.verify("correct horse", hash: hash))
        // One job may run, none wait: a second at the same time is refused.
        let slow = PasswordHasher(cost: 12, threads: 1, maxQueued: 0)
        async let first = slow.hash("one password")
        try await Task.sleep(for: .milliseconds(50))
        await #expect(throws: PasswordHasher.Busy.self) { try await slow.hash("another password") }
        _ = try await first
        #expect(slow.inFlight == 0)
        try await hasher.shutdown()
        try await slow.shutdown()
    }
}
