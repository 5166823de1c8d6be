import Testing

@testable import MessageBus

@Suite struct ConfirmTrackerTests {
    @Test func tagsCountUpFromOne() {
        var tracker = ConfirmTracker()
        #expect(tracker.published(index: 0) == 1)
        #expect(tracker.published(index: 1) == 2)
        #expect(tracker.outstanding == 2)
    }

    @Test func multipleAckSettlesEverythingUpToTheTag() {
        var tracker = ConfirmTracker()
        for index in 0..<5 { tracker.published(index: index) }
        #expect(tracker.settle(tag: 3, multiple: true) == [0, 1, 2])
        #expect(tracker.outstanding == 2)
        #expect(tracker.settle(tag: 5, multiple: true) == [3, 4])
        #expect(tracker.outstanding == 0)
    }

    @Test func singleAcksOutOfOrder() {
        var tracker = ConfirmTracker()
        for index in 0..<4 { tracker.published(index: index) }
        #expect(tracker.settle(tag: 3, multiple: false) == [2])
        #expect(tracker.outstanding == 3)
        #expect(tracker.settle(tag: 1, multiple: false) == [0])
        // A multiple ack now covers the remaining tags but not the one settled already.
        #expect(tracker.settle(tag: 4, multiple: true) == [1, 3])
        #expect(tracker.outstanding == 0)
    }

    @Test func unknownOrRepeatedTagsSettleNothing() {
        var tracker = ConfirmTracker()
        tracker.published(index: 0)
        #expect(tracker.settle(tag: 9, multiple: false) == [])
        #expect(tracker.settle(tag: 1, multiple: false) == [0])
        #expect(tracker.settle(tag: 1, multiple: false) == [])
        #expect(tracker.settle(tag: 1, multiple: true) == [])
    }

    @Test func tagsKeepCountingAcrossBatches() {
        var tracker = ConfirmTracker()
        for round in 0..<3 {
            for index in 0..<1000 { tracker.published(index: index) }
            let settled = tracker.settle(tag: UInt64((round + 1) * 1000), multiple: true)
            #expect(settled == Array(0..<1000))
        }
        #expect(tracker.nextTag == 3001)
        #expect(tracker.outstanding == 0)
    }
}

@Suite struct EndpointTests {
    @Test func parsesURLs() throws {
        let endpoint = try AMQPEndpoint(url: "amqp://svc:p%40ss@127.0.0.1:5692/syllabus")
        #expect(endpoint == AMQPEndpoint(host: "127.0.0.1", port: 5692, user: "svc", password: "p@ss", vhost: "syllabus"))
        #expect(try AMQPEndpoint(url: "amqp://localhost").vhost == "/")
        #expect(try AMQPEndpoint(url: "amqp://u:p@h/%2f").vhost == "/")
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "http://localhost") }
    }

    @Test func parsesAListOfNodes() throws {
        let endpoint = try AMQPEndpoint(url: "amqp://svc:pw@127.0.0.1:5722/syllabus, amqp://svc:pw@127.0.0.1:5723/syllabus,amqp://svc:pw@10.0.0.3/syllabus")
        #expect(endpoint.nodes == [.init(host: "127.0.0.1", port: 5722), .init(host: "127.0.0.1", port: 5723), .init(host: "10.0.0.3", port: 5672)])
        #expect(endpoint.user == "svc" && endpoint.password == "pw" && endpoint.vhost == "syllabus")
        // One broker, one identity: nodes may not disagree on the user, password or vhost.
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://a:pw@h1/v,amqp://b:pw@h2/v") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://a:pw@h1/v,amqp://a:pw@h2/w") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://a:pw@h1/v,") }
    }

    @Test func anAMQPSURLIsTLSVerifiedAgainstItsAuthorities() throws {
        let endpoint = try AMQPEndpoint(url: "amqps://svc:pw@broker.internal/syllabus?cacertfile=/etc/syllabus/ca.pem")
        #expect(endpoint.nodes == [.init(host: "broker.internal", port: 5671)])
        #expect(endpoint.tls == AMQPTLS(caFile: "/etc/syllabus/ca.pem"))
        #expect(try AMQPEndpoint(url: "amqps://svc:pw@broker.internal/syllabus").tls?.caFile == AMQPTLS.systemCAFile)
        #expect(try AMQPEndpoint(url: "amqp://svc:pw@broker.internal/syllabus").tls == nil)
        let client = try AMQPEndpoint(url: "amqps://svc:pw@b:5671/v?cacertfile=/ca.pem&certfile=/c.pem&keyfile=/k.pem")
        #expect(client.tls == AMQPTLS(caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem"))
        // An IP address could never be verified (librabbitmq checks DNS names): refused, not downgraded.
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqps://svc:pw@127.0.0.1:5671/v") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqps://svc:pw@[::1]:5671/v") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqps://svc:pw@b/v?certfile=/c.pem") }
        // A parameter it would ignore (a misspelt cacertfile would quietly trust the system's CAs).
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqps://svc:pw@b/v?cacert=/ca.pem") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://svc:pw@b/v?cacertfile=/ca.pem") }
        // The nodes of one broker agree on TLS.
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqps://a:pw@h1/v?cacertfile=/ca.pem,amqp://a:pw@h2/v") }
        #expect(try AMQPEndpoint(url: "amqps://a:pw@h1/v?cacertfile=/ca.pem,amqps://a:pw@h2/v?cacertfile=/ca.pem").nodes.count == 2)
    }

    @Test func anInvalidURLIsReportedWithoutItsPassword() {
        do {
            _ = try AMQPEndpoint(url: "amqp://svc:hunter2-secret@h1/v,http://svc:hunter2-secret@h2/v")
            Issue.record("an http URL was accepted")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
            #expect("\(error)".contains("svc:***@h1"))
        }
    }

    @Test func topologyArgumentsRouteRetriesBackToTheConsumerOnly() {
        let consumer = Topology.ConsumerQueue(service: "notifications", bindings: [], deliveryLimit: 5, retryDelays: [1000])
        let retry = Topology.retryQueueArguments(consumer, delay: 1000)
        // Back through the consumer's own retry exchange: never the default exchange, which no
        // service may write to, nor the producer's, which would copy it to every subscriber.
        #expect(consumer.retryExchange == "notifications.retry")
        #expect(retry["x-dead-letter-exchange"] == .string("notifications.retry"))
        #expect(retry["x-dead-letter-routing-key"] == .string("notifications"))
        #expect(retry["x-message-ttl"] == .int(1000))
        let main = Topology.mainQueueArguments(consumer)
        #expect(main["x-dead-letter-exchange"] == .string("notifications.retry"))
        #expect(main["x-dead-letter-routing-key"] == .string("notifications.dlq"))
        #expect(main["x-delivery-limit"] == .int(5))
        #expect(main["x-dead-letter-strategy"] == .string("at-least-once"))
        #expect(main["x-overflow"] == .string("reject-publish"))
    }
}

@Suite struct TopicPatternTests {
    @Test(arguments: [
        ("#", "identity.user.registered.v1", true),
        ("identity.#", "identity.user.registered.v1", true),
        ("identity.#", "identity", true),
        ("identity.*.registered.v1", "identity.user.registered.v1", true),
        ("identity.*", "identity.user.registered.v1", false),
        ("*.user.#", "billing.user.x", true),
        ("#.v1", "progress.lesson.completed.v1", true),
        ("#.v2", "progress.lesson.completed.v1", false),
        ("identity.user.registered.v1", "identity.user.registered.v1", true),
        ("identity.user.registered.v1", "identity.user.registered.v10", false),
        ("a.#.z", "a.z", true),
        ("a.#.z", "a.b.c.z", true),
        ("a.#.z", "a.b.c", false),
    ])
    func matchesLikeABinding(pattern: String, key: String, expected: Bool) {
        #expect(TopicPattern(pattern).matches(key) == expected)
    }
}
