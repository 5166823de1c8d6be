// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// A service: its library (`Services/<Name>/Sources`) and its executable (`Services/<Name>/Main`).
/// Its OpenAPI document (`Services/<Name>/openapi.yaml`) is compiled into the library.
func service(_ name: String, dependencies: [Target.Dependency] = [], exclude: [String] = []) -> [Target] {
    [
        .target(
            name: name,
            dependencies: [
                "ServiceKit", "Database", "MessageBus", "Contracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ] + dependencies,
            path: "Services/\(name)",
            exclude: ["Main", "README.md"] + exclude,
            sources: ["Sources"],
            resources: [.embedInCode("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "\(name)Main",
            dependencies: [.target(name: name), "ServiceKit"],
            path: "Services/\(name)/Main",
            swiftSettings: swiftSettings
        ),
    ]
}

let services = ["Identity", "Billing", "Content", "Progress", "Notifications", "Analytics", "Webhooks"]

let package = Package(
    name: "Syllabus",
    platforms: [.macOS(.v15)],
    products: services.map { .executable(name: $0.lowercased(), targets: ["\($0)Main"]) } + [
        .executable(name: "syllabus", targets: ["SyllabusCLI"]),
        .executable(name: "syllabus-bench", targets: ["SyllabusBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter's dependencies are never built.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // C libraries from the system, found through pkg-config.
        .systemLibrary(
            name: "CLibPQ",
            path: "Shared/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CRabbitMQ",
            path: "Shared/CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),

        // Shared layers.
        .target(
            name: "Database",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Shared/Database",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MessageBus",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/MessageBus",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Contracts",
            dependencies: [],
            path: "Shared/Contracts",
            exclude: ["Schemas", "Snapshot", "Examples", "AsyncAPI", "asyncapi.yaml"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ServiceKit",
            dependencies: [
                "Database", "MessageBus", "Contracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            path: "Shared/ServiceKit",
            resources: [.embedInCode("OpenAPI/common.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CourseRules",
            dependencies: [],
            path: "Shared/CourseRules",
            swiftSettings: swiftSettings
        ),
        // Learning plans and their integrations: a library of their own, served by the content
        // service (its routes, worker and consumer) over content's schema.
        .target(
            name: "LearningPlans",
            dependencies: [
                "ServiceKit", "Database", "Contracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/LearningPlans/Sources",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "SyllabusBench",
            dependencies: [
                "Database", "MessageBus", "Contracts", "ServiceKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Benchmarks/SyllabusBench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "SyllabusCLI",
            dependencies: [
                "Database", "MessageBus", "Contracts", "ServiceKit", "Identity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/SyllabusCLI",
            swiftSettings: swiftSettings
        ),
    ]
        + service("Identity", dependencies: [
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ])
        + service("Billing", exclude: ["examples"])
        + service("Content", dependencies: [
            "CourseRules", "LearningPlans",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ])
        + service("Progress", dependencies: ["CourseRules"])
        + service("Analytics")
        + service("Webhooks", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Metrics", package: "swift-metrics"),
        ])
        + service("Notifications", dependencies: [
            .product(name: "Mustache", package: "swift-mustache"),
        ])
        + [
            .testTarget(name: "DatabaseTests", dependencies: ["Database"], swiftSettings: swiftSettings),
            .testTarget(name: "MessageBusTests", dependencies: ["MessageBus"], swiftSettings: swiftSettings),
            .testTarget(name: "ContractsTests", dependencies: ["Contracts", "TestSupport"], swiftSettings: swiftSettings),
            .testTarget(
                name: "ServiceKitTests",
                dependencies: [
                    "ServiceKit", "Database",
                    .product(name: "HummingbirdTesting", package: "hummingbird"),
                    .product(name: "JWTKit", package: "jwt-kit"),
                ],
                swiftSettings: swiftSettings
            ),
            .testTarget(name: "IdentityTests", dependencies: ["Identity", "ServiceKit", "Database", "Contracts", "TestSupport", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "BillingTests", dependencies: ["Billing", "ServiceKit", "Database", "TestSupport", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "CourseRulesTests", dependencies: ["CourseRules"], swiftSettings: swiftSettings),
            .testTarget(name: "ContentTests", dependencies: ["Content", "LearningPlans", "TestSupport", "Database", "Contracts", "ServiceKit", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "LearningPlansTests", dependencies: ["LearningPlans", "Content", "TestSupport", "Database", "Contracts", "ServiceKit", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "ProgressTests", dependencies: ["Progress", "Database", "ServiceKit", "TestSupport", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "AnalyticsTests", dependencies: ["Analytics", "TestSupport", "Database", "Contracts", "ServiceKit", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "WebhooksTests", dependencies: ["Webhooks", "TestSupport", "Database", "Contracts", "ServiceKit", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(name: "NotificationsTests", dependencies: ["Notifications", "TestSupport", "Database", "Contracts", "ServiceKit", "ServiceTesting", .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
            .testTarget(
                name: "IntegrationTests",
                dependencies: ["TestSupport", "Database", "MessageBus", "Contracts", "ServiceKit"],
                swiftSettings: swiftSettings
            ),
            .testTarget(
                name: "FaultTests",
                dependencies: ["TestSupport", "Database", "MessageBus", "Contracts", "ServiceKit"],
                swiftSettings: swiftSettings
            ),
            .testTarget(
                name: "HATests",
                dependencies: [
                    "TestSupport", "Database", "MessageBus",
                    .product(name: "AsyncHTTPClient", package: "async-http-client"),
                    .product(name: "NIOCore", package: "swift-nio"),
                    .product(name: "NIOHTTP1", package: "swift-nio"),
                ],
                swiftSettings: swiftSettings
            ),
            .testTarget(
                name: "EndToEndTests",
                dependencies: [
                    "TestSupport", "Contracts", "Database", "MessageBus", "Content", "LearningPlans", "ServiceKit",
                    .product(name: "AsyncHTTPClient", package: "async-http-client"),
                    .product(name: "NIOCore", package: "swift-nio"),
                    .product(name: "NIOHTTP1", package: "swift-nio"),
                    .product(name: "Hummingbird", package: "hummingbird"),
                    .product(name: "Crypto", package: "swift-crypto"),
                    .product(name: "JWTKit", package: "jwt-kit"),
                ],
                swiftSettings: swiftSettings
            ),
            .target(
                name: "ServiceTesting",
                dependencies: [
                    "TestSupport", "ServiceKit", "Database",
                    .product(name: "Hummingbird", package: "hummingbird"),
                    .product(name: "HummingbirdTesting", package: "hummingbird"),
                    .product(name: "JWTKit", package: "jwt-kit"),
                ],
                path: "Tests/ServiceTesting",
                swiftSettings: swiftSettings
            ),
            .testTarget(
                name: "RouteSecurityTests",
                dependencies: ["ServiceTesting", "ServiceKit", "TestSupport", "LearningPlans"] + services.map { .target(name: $0) },
                swiftSettings: swiftSettings
            ),
            .target(
                name: "TestSupport",
                dependencies: ["Database", "MessageBus", "Contracts", .product(name: "Logging", package: "swift-log")],
                path: "Tests/TestSupport",
                swiftSettings: swiftSettings
            ),
        ]
)
