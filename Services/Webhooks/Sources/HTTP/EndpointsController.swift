import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/webhooks/…`: admins register the HTTPS endpoints that receive the public events, rotate
/// their secrets, send them a test event, read the delivery log and replay events.
struct EndpointsController: Sendable {
    let store: EndpointStore
    let policy: DestinationPolicy
    let archive: ArchiveReader

    func add(to routes: RouteGroups) {
        routes.admin.get("/v1/webhooks/endpoints", use: list)
        routes.admin.post("/v1/webhooks/endpoints", use: create)
        routes.admin.get("/v1/webhooks/endpoints/{id}", use: show)
        routes.admin.patch("/v1/webhooks/endpoints/{id}", use: update)
        routes.admin.delete("/v1/webhooks/endpoints/{id}", use: delete)
        routes.admin.get("/v1/webhooks/endpoints/{id}/secret", use: secret)
        routes.admin.post("/v1/webhooks/endpoints/{id}/secret/rotate", use: rotate)
        routes.admin.post("/v1/webhooks/endpoints/{id}/test", use: test)
        routes.admin.get("/v1/webhooks/endpoints/{id}/deliveries", use: endpointDeliveries)
        routes.admin.post("/v1/webhooks/endpoints/{id}/replay", use: replay)
        routes.admin.get("/v1/webhooks/events/{eventId}/deliveries", use: eventDeliveries)
    }

    struct EndpointInput: Decodable {
        var url: String?
        var description: String?
        var eventTypes: [String]?
        var enabled: Bool?
    }

    struct Created: Encodable, Sendable {
        var endpoint: EndpointStore.Endpoint
        /// The signing secret; also readable later at `…/secret`.
        var secret: String
    }

    struct EndpointList: Encodable, Sendable {
        var endpoints: [EndpointStore.Endpoint]
    }

    struct DeliveryList: Encodable, Sendable {
        var deliveries: [EndpointStore.Delivery]
    }

    static let maximumPatterns = 50

    /// Checks the URL (addresses included) and the event types; records every problem.
    func check(url: String?, description: String?, eventTypes: [String]?, required: Bool) async -> [FieldError] {
        var errors: [FieldError] = []
        if let url {
            do {
                let destination = try policy.destination(url)
                let policy = policy
                // The resolver blocks: off the request's thread.
                let result = await Task.detached { () -> DestinationPolicy.Refusal? in
                    do throws(DestinationPolicy.Refusal) {
                        _ = try policy.addresses(of: destination)
                        return nil
                    } catch {
                        return error
                    }
                }.value
                if let result { errors.append(FieldError(field: "url", code: result.code, message: result.description)) }
            } catch {
                errors.append(FieldError(field: "url", code: error.code, message: error.description))
            }
        } else if required {
            errors.append(FieldError(field: "url", code: "required", message: "The endpoint's HTTPS URL."))
        }
        if let description, description.count > 500 {
            errors.append(FieldError(field: "description", code: "too_long", message: "At most 500 characters."))
        }
        if let eventTypes {
            if eventTypes.isEmpty || eventTypes.count > Self.maximumPatterns {
                errors.append(FieldError(field: "eventTypes", code: "invalid_count", message: "From 1 to \(Self.maximumPatterns) event types."))
            }
            let known = EventCatalog.publicTypes.map(\.routingKey)
            for pattern in eventTypes where !known.contains(where: { EventFilter.matches(pattern, $0) }) {
                errors.append(
                    FieldError(
                        field: "eventTypes", code: "unknown_event_type",
                        message: "\(pattern.prefix(100)) names no public event type (a routing key such as progress.lesson.completed.v1, a prefix such as progress.*, or *)."))
            }
        } else if required {
            errors.append(FieldError(field: "eventTypes", code: "required", message: "The event types the endpoint receives."))
        }
        return errors
    }

    @Sendable func list(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<EndpointList> {
        JSONResponse(.ok, EndpointList(endpoints: try await store.list()))
    }

    @Sendable func create(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Created> {
        let input = try await request.decode(as: EndpointInput.self, context: context)
        let errors = await check(url: input.url, description: input.description, eventTypes: input.eventTypes, required: true)
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        let (endpoint, secret) = try await store.create(
            .init(url: input.url!, description: input.description ?? "", eventTypes: input.eventTypes!, enabled: input.enabled ?? true))
        return JSONResponse(.created, Created(endpoint: endpoint, secret: secret))
    }

    @Sendable func show(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<EndpointStore.Endpoint> {
        JSONResponse(.ok, try await store.endpoint(try context.uuid(of: "webhook endpoint")))
    }

    @Sendable func update(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<EndpointStore.Endpoint> {
        let id = try context.uuid(of: "webhook endpoint")
        let input = try await request.decode(as: EndpointInput.self, context: context)
        let errors = await check(url: input.url, description: input.description, eventTypes: input.eventTypes, required: false)
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        return JSONResponse(
            .ok, try await store.update(id, .init(url: input.url, description: input.description, eventTypes: input.eventTypes, enabled: input.enabled)))
    }

    @Sendable func delete(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        try await store.delete(try context.uuid(of: "webhook endpoint"))
        return Response(status: .noContent)
    }

    @Sendable func secret(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<EndpointStore.Secrets> {
        JSONResponse(.ok, try await store.secrets(try context.uuid(of: "webhook endpoint")))
    }

    @Sendable func rotate(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<EndpointStore.Secrets> {
        JSONResponse(.ok, try await store.rotate(try context.uuid(of: "webhook endpoint")))
    }

    struct Queued: Encodable, Sendable {
        var eventId: String?
        var queued: Int
    }

    @Sendable func test(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Queued> {
        let id = try await store.sendTest(try context.uuid(of: "webhook endpoint"))
        return JSONResponse(.accepted, Queued(eventId: id, queued: 1))
    }

    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 100 }
        guard let value = Int(text), (1...500).contains(value) else {
            throw DomainError.validation([FieldError(field: "limit", code: "out_of_range", message: "From 1 to 500.")])
        }
        return value
    }

    @Sendable func endpointDeliveries(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<DeliveryList> {
        let id = try context.uuid(of: "webhook endpoint")
        return JSONResponse(.ok, DeliveryList(deliveries: try await store.deliveries(endpoint: id, limit: try Self.limit(request))))
    }

    @Sendable func eventDeliveries(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<DeliveryList> {
        guard let event = context.parameters.get("eventId"), !event.isEmpty, event.count <= 100 else { throw Problem.notFound("event") }
        let deliveries = try await store.deliveries(event: event, limit: try Self.limit(request))
        if deliveries.isEmpty { throw DomainError.notFound("event") }
        return JSONResponse(.ok, DeliveryList(deliveries: deliveries))
    }

    struct ReplayInput: Decodable {
        var eventId: String?
        var from: String?
        var to: String?
    }

    static let maximumReplay = 10_000

    /// One recorded event (`eventId`), or every archived event of the endpoint's types in a span
    /// of time (`from`, `to`), queued again for the endpoint.
    @Sendable func replay(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Queued> {
        let id = try context.uuid(of: "webhook endpoint")
        let input = try await request.decode(as: ReplayInput.self, context: context)
        if let event = input.eventId {
            guard input.from == nil, input.to == nil else {
                throw DomainError.validation([FieldError(field: "eventId", code: "exclusive", message: "Either eventId, or from and to.")])
            }
            try await store.replay(eventID: event, to: id)
            return JSONResponse(.accepted, Queued(eventId: event, queued: 1))
        }
        var errors: [FieldError] = []
        let from = input.from.flatMap(RFC3339.parse)
        let to = input.to.flatMap(RFC3339.parse) ?? (input.to == nil ? Date() : nil)
        if from == nil { errors.append(FieldError(field: "from", code: "invalid_time", message: "An RFC 3339 time (or give eventId).")) }
        if to == nil { errors.append(FieldError(field: "to", code: "invalid_time", message: "An RFC 3339 time.")) }
        if let from, let to, from >= to { errors.append(FieldError(field: "from", code: "invalid_range", message: "from must be before to.")) }
        guard errors.isEmpty, let from, let to else { throw DomainError.validation(errors) }
        _ = try await store.endpoint(id)
        let events = try await archive.read(from: from, to: to, limit: Self.maximumReplay)
        return JSONResponse(.accepted, Queued(eventId: nil, queued: try await store.replay(events, to: id)))
    }
}
