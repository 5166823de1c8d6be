import ArgumentParser
import Contracts
import Foundation

struct ContractsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contracts", abstract: "The event contract.", subcommands: [Catalogue.self])

    struct Catalogue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the event catalogue as JSON: each type, its producer and exchange, whether it is private or retired, and its consumers (what `make asyncapi` generates the AsyncAPI document from).")

        func run() throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(EventCatalog.entries), as: UTF8.self))
        }
    }
}
