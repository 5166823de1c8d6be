import Database

/// The ordering rule for events that carry state. Each event names its aggregate and carries
/// that aggregate's version (`sequence`); events may arrive out of order, so a consumer keeps the
/// highest version applied per aggregate and lets an event overwrite state only when it is newer.
/// Side effects (a mail, a counter) must not depend on this: they happen for every first delivery.
public enum AggregateVersions {
    public static func migration(version: Int) -> Migration {
        Migration(
            version: version, name: "aggregate versions",
            sql: """
                CREATE TABLE aggregate_versions (
                    aggregate text NOT NULL,
                    aggregate_id text NOT NULL,
                    sequence bigint NOT NULL CHECK (sequence >= 0),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (aggregate, aggregate_id)
                );
                """)
    }

    /// Records `sequence` as the aggregate's applied version if it is newer than the one recorded;
    /// returns whether it was (apply the event's state) or not (a stale or repeated event: leave
    /// the state alone). Atomic: two consumers racing on one aggregate cannot both win with the
    /// older event.
    public static func advance(_ aggregate: String, id: String, to sequence: Int64, on connection: PostgresConnection) throws -> Bool {
        try connection.execute(
            """
            INSERT INTO aggregate_versions (aggregate, aggregate_id, sequence) VALUES (\(aggregate), \(id), \(sequence))
            ON CONFLICT (aggregate, aggregate_id) DO UPDATE SET sequence = excluded.sequence, updated_at = now()
            WHERE aggregate_versions.sequence < excluded.sequence
            """
        ).affectedRows == 1
    }

    /// The version applied for an aggregate, if any.
    public static func current(_ aggregate: String, id: String, on connection: PostgresConnection) throws -> Int64? {
        try connection.query("SELECT sequence FROM aggregate_versions WHERE aggregate = \(aggregate) AND aggregate_id = \(id)")
            .first?.decode("sequence", as: Int64.self)
    }
}
