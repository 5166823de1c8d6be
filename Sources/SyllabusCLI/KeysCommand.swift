import ArgumentParser
import Foundation
import ServiceKit

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Signing keys for access tokens.", subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an ES256 signing key and the JWKS that verifies it, unless they exist.")

        @Option(help: "Directory for identity-signing.pem and jwks.json.")
        var dir: String

        func run() async throws {
            let directory = URL(fileURLWithPath: dir, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let keyFile = directory.appendingPathComponent("identity-signing.pem")
            let jwksFile = directory.appendingPathComponent("jwks.json")
            let key: SigningKey
            if FileManager.default.fileExists(atPath: keyFile.path) {
                key = try SigningKey(pem: String(contentsOf: keyFile, encoding: .utf8))
                print("kept \(keyFile.path) (kid \(key.kid))")
            } else {
                key = SigningKey()
                try Data(key.pem.utf8).write(to: keyFile)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
                print("wrote \(keyFile.path) (kid \(key.kid))")
            }
            if !FileManager.default.fileExists(atPath: jwksFile.path) {
                try Data(SigningKey.jwks([key]).utf8).write(to: jwksFile)
                print("wrote \(jwksFile.path)")
            }
        }
    }
}
