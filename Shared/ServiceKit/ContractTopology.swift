import Contracts
import MessageBus

/// The broker topology derived from the event contract: an exchange per producer, and per
/// consumer a queue bound to exactly the types it handles.
public enum ContractTopology {
    public static func make(archiveMaxAge: String = "7D", retryDelays: [Int] = RetryPolicy.default.delays, deliveryLimit: Int = 10) -> Topology {
        Topology(
            exchanges: ServiceName.allCases.map(\.exchange),
            consumers: ServiceName.allCases.map { service in
                Topology.ConsumerQueue(
                    service: service.rawValue,
                    bindings: (EventCatalog.subscriptions[service] ?? []).map {
                        Topology.Binding(exchange: $0.producer.exchange, routingKey: $0.routingKey)
                    },
                    deliveryLimit: deliveryLimit,
                    retryDelays: retryDelays)
            },
            archiveMaxAge: archiveMaxAge)
    }
}
