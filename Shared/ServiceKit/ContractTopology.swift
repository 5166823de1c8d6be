import Contracts
import MessageBus

/// The broker topology derived from the event contract: an exchange per producer (and a private one
/// for a producer with private types), and per consumer a queue bound to exactly the types it
/// handles, each through the exchange its visibility names.
public enum ContractTopology {
    public static func make(archiveMaxAge: String = "7D", retryDelays: [Int] = RetryPolicy.default.delays, deliveryLimit: Int = 10) -> Topology {
        Topology(
            exchanges: ServiceName.allCases.map(\.exchange),
            privateExchanges: EventCatalog.privateExchanges,
            consumers: ServiceName.allCases.map { service in
                Topology.ConsumerQueue(
                    service: service.rawValue,
                    bindings: (EventCatalog.subscriptions[service] ?? []).map {
                        Topology.Binding(exchange: $0.exchange, routingKey: $0.routingKey)
                    },
                    deliveryLimit: deliveryLimit,
                    retryDelays: retryDelays)
            },
            archiveMaxAge: archiveMaxAge)
    }
}
