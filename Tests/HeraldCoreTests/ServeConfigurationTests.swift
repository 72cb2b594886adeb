import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct ServeConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:], secretsOptional: Bool = false) throws -> (Configuration?, [String]) {
        let workspace = try TemporaryWorkspace(files: ["herald.yaml": yaml])
        let (configuration, diagnostics) = Configuration.load(from: workspace.url, environment: environment, secretsOptional: secretsOptional)
        return (configuration, diagnostics.map(\.description))
    }

    static let yaml = """
        serve:
          bind: 0.0.0.0:9090
          max_body: 1MB
          clients:
            shop: {token: "${SHOP}", tenants: [0, 1]}
            ops: {token: "${OPS}", tenants: ["*"]}
          receipts: {secret: "${RECEIPTS}"}

        """

    @Test func readsClientsTenantsAndSecrets() throws {
        let environment = ["SHOP": "s".repeated(20), "OPS": "o".repeated(20), "RECEIPTS": "r".repeated(20)]
        let (configuration, diagnostics) = try load(Self.yaml, environment: environment)
        #expect(diagnostics.isEmpty)
        let serve = try #require(configuration?.serve)
        #expect(serve.host == "0.0.0.0")
        #expect(serve.port == 9090)
        #expect(serve.maxBody == 1 << 20)
        #expect(serve.clients["shop"]?.tenants == ["0", "1"])
        #expect(serve.clients["shop"]?.allows(tenant: "1") == true)
        #expect(serve.clients["shop"]?.allows(tenant: "2") == false)
        #expect(serve.clients["ops"]?.allows(tenant: "42") == true)
        #expect(serve.receiptSecret?.value == "r".repeated(20))
    }

    @Test func unsetSecretsAreForServeAloneToRefuse() throws {
        let (configuration, diagnostics) = try load(Self.yaml)
        #expect(diagnostics.isEmpty, "herald run does not need serve's secrets")
        #expect(configuration?.serve.clients["shop"]?.token.value == "")
        let (_, checked) = try load(Self.yaml, secretsOptional: true)
        #expect(checked.contains("herald.yaml:5:19: warning: environment variable SHOP (token of serve client 'shop') is not set"), "\(checked)")
    }

    @Test func weakSharedOrLiteralTokensAndBadValuesAreErrors() throws {
        let yaml = """
            serve:
              bind: localhost
              max_body: lots
              clients:
                a: {token: "${A}", tenants: [0]}
                b: {token: "${B}", tenants: [0]}
                c: {token: short, tenants: [0]}
                d: {token: "${D}"}
                e: {tenants: [0]}
              receipts: {secret: "${R}"}

            """
        let environment = ["A": "same-token-0123456789", "B": "same-token-0123456789", "D": "d".repeated(16), "R": "tiny"]
        let (configuration, diagnostics) = try load(yaml, environment: environment)
        #expect(configuration == nil)
        #expect(diagnostics == [
            "herald.yaml:2:9: error: 'bind' in serve is 'localhost'; write HOST:PORT such as 127.0.0.1:8080",
            "herald.yaml:3:13: error: 'max_body' in serve is 'lots'; write a size like 64KB or 1MB (at most 1024GB)",
            "herald.yaml:6:16: error: serve client 'b' has the same token as serve client 'a'; give each product its own",
            "herald.yaml:7:16: error: 'token' of serve client 'c' is written literally; secrets come only from the environment: write token: ${HERALD_TOKEN} and export that variable",
            "herald.yaml:8:8: error: serve client 'd' has no 'tenants'; add `tenants: [0]` (or `[\"*\"]` for every tenant)",
            "herald.yaml:9:8: error: serve client 'e' has no 'token'; add `token: ${HERALD_E_TOKEN}`",
            "herald.yaml:10:22: error: serve.receipts secret has 4 characters; use at least 16 random ones (it is the callback URL's password)",
        ])
    }
}

private extension String {
    func repeated(_ count: Int) -> String { String(repeating: self, count: count) }
}
