extension Duration {
    /// Whole milliseconds, as durations are recorded, reported and given to Postgres.
    public var milliseconds: Int { Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000) }

    /// Seconds, for the APIs that take a `TimeInterval`.
    public var timeInterval: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
