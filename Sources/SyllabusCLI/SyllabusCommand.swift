import ArgumentParser
import Foundation

@main
struct SyllabusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syllabus",
        abstract: "Operate a Syllabus deployment.",
        subcommands: [
            TopologyCommand.self, KeysCommand.self, EventsCommand.self, DLQCommand.self, OutboxCommand.self, AdminCommand.self, MigrateCommand.self, StripeCommand.self, ContractsCommand.self, TraceCommand.self,
        ])
}

/// A setting from the command line, else the environment.
func setting(_ value: String?, env name: String) throws -> String {
    if let value, !value.isEmpty { return value }
    if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty { return value }
    throw ValidationError("Give --\(name.lowercased().replacingOccurrences(of: "_", with: "-")) or set \(name).")
}
