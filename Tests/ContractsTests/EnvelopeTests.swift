import Contracts
import Foundation
import Testing
import TestSupport

@Suite struct EnvelopeTests {
    let registered = IdentityUserRegisteredV1(
        userId: "0190a5b2-0000-7000-8000-000000000001", email: "ada@example.com", name: "Ada", role: "USER",
        emailVerified: false, marketingOptOut: false, registeredAt: Date(timeIntervalSince1970: 1_795_346_716.123))

    @Test func envelopeAttributes() async throws {
        let event = CloudEvent(registered, sequence: 7, time: Date(timeIntervalSince1970: 1_795_346_716.5))
        let json = try JSONSerialization.jsonObject(with: Data(EventCoding.encode(event))) as! [String: Any]
        #expect(json["specversion"] as? String == "1.0")
        #expect(json["type"] as? String == "org.syllabus.identity.user.registered.v1")
        #expect(json["source"] as? String == "/syllabus/identity")
        #expect(json["subject"] as? String == registered.userId)
        #expect(json["partitionkey"] as? String == registered.userId)
        #expect(json["dataschema"] as? String == "urn:syllabus:schema:identity.user.registered.v1")
        #expect(json["datacontenttype"] as? String == "application/json")
        #expect(json["sequence"] as? String == "00000000000000000007")
        #expect(json["time"] as? String == "2026-11-22T11:25:16.500Z")
        let id = try #require(json["id"] as? String)
        #expect(id == id.lowercased())
        #expect(Array(id)[14] == "7", "ids are UUIDv7")
        #expect(json["traceparent"] == nil)
    }

    @Test func roundTripsAndHeaderDecodesWithoutData() async throws {
        let event = CloudEvent(registered, sequence: 1)
        let bytes = try EventCoding.encode(event)
        let decoded = try EventCoding.decode(CloudEvent<IdentityUserRegisteredV1>.self, from: bytes)
        var expected = registered
        expected.registeredAt = decoded.data.registeredAt
        #expect(decoded.data == expected)
        #expect(abs(decoded.data.registeredAt.timeIntervalSince(registered.registeredAt)) < 0.001, "milliseconds survive")
        #expect(decoded.id == event.id)
        #expect(abs(decoded.time.timeIntervalSince(event.time)) < 0.001)
        let header = try EventCoding.decode(CloudEventHeader.self, from: bytes)
        #expect(header.type == IdentityUserRegisteredV1.eventType.cloudEventType)
        #expect(EventType.known(cloudEventType: header.type) == IdentityUserRegisteredV1.eventType)
    }

    @Test func sequencesSortAsText() {
        let values: [Int64] = [1, 9, 10, 99, 100, 12345]
        let formatted = values.map(EventSequence.format)
        #expect(formatted == formatted.sorted())
        #expect(formatted.allSatisfy { $0.count == 20 })
    }

    @Test func uuidV7IsTimeOrderedAcrossMilliseconds() {
        let early = UUIDv7.make(at: Date(timeIntervalSince1970: 1_700_000_000))
        let late = UUIDv7.make(at: Date(timeIntervalSince1970: 1_700_000_000.002))
        #expect(early.lowercased < late.lowercased)
        #expect(early.uuid.6 >> 4 == 7)
        #expect(early.uuid.8 >> 6 == 0b10)
    }
}

/// The contract files, checked with the same tool subscribers are pointed to.
@Suite struct ContractFileTests {
    var script: String { TestEnvironment.repositoryRoot.appendingPathComponent("scripts/contracts.py").path }

    @Test func schemasHaveNoBreakingChangeAgainstTheSnapshot() async throws {
        let result = try await blocking { try run("/usr/bin/python3", [script, "check-compat"]) }
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func compatibilityCheckerCatchesBreakingChanges() async throws {
        let result = try await blocking { try run("/usr/bin/python3", [script, "selftest"]) }
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func asyncAPIDocumentCoversTheContract() async throws {
        let result = try await blocking { try run("/usr/bin/python3", [script, "check-asyncapi"]) }
        #expect(result.status == 0, "\(result.output)")
        let document = try String(
            contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("Shared/Contracts/asyncapi.yaml"), encoding: .utf8)
        for type in EventCatalog.all {
            #expect(document.contains(type.routingKey), "\(type) is missing from asyncapi.yaml")
        }
    }

    /// The document is generated from the catalogue: it cannot name a type, a producer or a
    /// consumer the catalogue (and so the topology) does not.
    @Test func asyncAPIDocumentIsWhatTheCatalogueGenerates() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let catalogue = FileManager.default.temporaryDirectory.appendingPathComponent("catalogue-\(UUID().uuidString).json")
        try encoder.encode(EventCatalog.entries).write(to: catalogue)
        defer { try? FileManager.default.removeItem(at: catalogue) }
        let result = try await blocking { try run("/usr/bin/python3", [script, "asyncapi", "--catalogue", catalogue.path, "--check"]) }
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func everyCatalogTypeHasASchemaAndASnapshot() {
        for type in EventCatalog.all {
            let schema = TestEnvironment.repositoryRoot.appendingPathComponent("Shared/Contracts/Schemas/\(type.routingKey).json")
            let snapshot = TestEnvironment.repositoryRoot.appendingPathComponent("Shared/Contracts/Snapshot/\(type.routingKey).json")
            #expect(FileManager.default.fileExists(atPath: schema.path), "no schema for \(type)")
            #expect(FileManager.default.fileExists(atPath: snapshot.path), "no snapshot for \(type)")
        }
    }

    @Test func eventsEncodedByTheProgramMatchTheirSchemas() async throws {
        let event = CloudEvent(
            IdentityUserRegisteredV1(
                userId: UUIDv7.make().lowercased, email: "grace@example.com", name: "Grace Hopper", role: "USER",
                emailVerified: false, marketingOptOut: true, registeredAt: Date()),
            sequence: 1)
        let result = try validateEvents([try EventCoding.encode(event)])
        #expect(result.valid, "\(result.output)")
    }

    @Test func aBrokenEventIsRefused() async throws {
        var event = CloudEvent(
            IdentityUserRegisteredV1(
                userId: "not-a-uuid", email: "grace@example.com", name: "Grace", role: "USER",
                emailVerified: false, marketingOptOut: false, registeredAt: Date()),
            sequence: 1)
        event.sequence = "1"
        let result = try validateEvents([try EventCoding.encode(event)])
        #expect(!result.valid)
        #expect(result.output.contains("userId") || result.output.contains("uuid"))
    }
}

@Suite struct CatalogConsistencyTests {
    /// The AsyncAPI document's receive operations and the catalogue's subscriptions (which the
    /// topology binds) must say the same.
    @Test func asyncAPIReceiversMatchTheCatalogue() async throws {
        let script = """
            import json, sys, yaml
            doc = yaml.safe_load(open(sys.argv[1]))
            pairs = sorted(
                (op["x-syllabus-service"], op["channel"]["$ref"].split("/")[-1])
                for op in doc["operations"].values() if op["action"] == "receive")
            print(json.dumps(pairs))
            """
        let path = TestEnvironment.repositoryRoot.appendingPathComponent("Shared/Contracts/asyncapi.yaml").path
        let result = try await blocking { try run("/usr/bin/python3", ["-c", script, path]) }
        #expect(result.status == 0, "\(result.output)")
        let pairs = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String]] ?? []
        let documented = Set(pairs.map { "\($0[0]) <- \($0[1])" })
        let bound = Set(EventCatalog.subscriptions.flatMap { service, types in types.map { "\(service.rawValue) <- \($0.routingKey)" } })
        #expect(documented == bound, "in the document only: \(documented.subtracting(bound)); bound only: \(bound.subtracting(documented))")
    }
}
