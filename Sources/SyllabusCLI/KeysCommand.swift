import ArgumentParser
import Foundation
import ServiceKit

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Signing keys for access tokens.", subcommands: [Generate.self, Rotate.self])

    /// `identity-signing.pem` signs; `retired-<kid>.pem` still verify; `jwks.json` publishes all.
    struct KeyDirectory {
        let url: URL
        var signing: URL { url.appendingPathComponent("identity-signing.pem") }
        var jwks: URL { url.appendingPathComponent("jwks.json") }

        func retired() throws -> [URL] {
            try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
                .filter { $0.lastPathComponent.hasPrefix("retired-") && $0.pathExtension == "pem" }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }

        func write(_ key: SigningKey, to file: URL) throws {
            try Data(key.pem.utf8).write(to: file)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        }

        func writeJWKS() throws {
            let keys = try ([signing] + retired()).map { try SigningKey(pem: String(contentsOf: $0, encoding: .utf8)) }
            try Data(SigningKey.jwks(keys).utf8).write(to: jwks)
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an ES256 signing key and the JWKS that verifies it, unless they exist.")

        @Option(help: "Directory for identity-signing.pem and jwks.json.")
        var dir: String

        func run() async throws {
            let keys = KeyDirectory(url: URL(fileURLWithPath: dir, isDirectory: true))
            try FileManager.default.createDirectory(at: keys.url, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: keys.signing.path) {
                let key = try SigningKey(pem: String(contentsOf: keys.signing, encoding: .utf8))
                print("kept \(keys.signing.path) (kid \(key.kid))")
            } else {
                let key = SigningKey()
                try keys.write(key, to: keys.signing)
                print("wrote \(keys.signing.path) (kid \(key.kid))")
            }
            if !FileManager.default.fileExists(atPath: keys.jwks.path) {
                try keys.writeJWKS()
                print("wrote \(keys.jwks.path)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start signing with a new key; the current one is retired but still verifies.",
            discussion: """
                Moves identity-signing.pem to retired-<kid>.pem, writes a new identity-signing.pem and a
                jwks.json with every key. Restart the services so they read the new JWKS, and give identity
                the retired keys in IDENTITY_JWT_VERIFY_KEY_FILES (make run does). Once tokens of the old key
                have expired (15 minutes), delete its retired file and rotate the JWKS again with --prune.
                """)

        @Option(help: "Directory with identity-signing.pem.")
        var dir: String

        @Flag(help: "Drop every retired key instead of adding one.")
        var prune = false

        func run() async throws {
            let keys = KeyDirectory(url: URL(fileURLWithPath: dir, isDirectory: true))
            if prune {
                for file in try keys.retired() { try FileManager.default.removeItem(at: file) }
                try keys.writeJWKS()
                print("dropped the retired keys; \(keys.jwks.path) has the signing key only")
                return
            }
            let old = try SigningKey(pem: String(contentsOf: keys.signing, encoding: .utf8))
            let retired = keys.url.appendingPathComponent("retired-\(old.kid).pem")
            try FileManager.default.moveItem(at: keys.signing, to: retired)
            let new = SigningKey()
            try keys.write(new, to: keys.signing)
            try keys.writeJWKS()
            print("retired \(old.kid) (\(retired.lastPathComponent)); signing with \(new.kid); \(keys.jwks.path) has both")
        }
    }
}
