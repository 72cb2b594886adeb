import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

/// `store:` and `worker:` in herald.yaml.
@Suite(.timeLimit(.minutes(1))) struct StoreConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:]) throws -> (Configuration?, [String]) {
        let workspace = try TemporaryWorkspace(files: ["herald.yaml": yaml])
        let (configuration, diagnostics) = Configuration.load(from: workspace.url, environment: environment)
        return (configuration, diagnostics.map(\.description))
    }

    @Test func absentMeansTheEmbeddedStore() throws {
        let (configuration, diagnostics) = try load("timezone: Asia/Shanghai\n")
        #expect(diagnostics.isEmpty)
        #expect(configuration?.store.isShared == false && configuration?.store.pool == 8)
        #expect(configuration?.worker.lease == .seconds(60))
        #expect(configuration?.worker.resolvedName.hasSuffix(":\(ProcessInfo.processInfo.processIdentifier)") == true, "host:pid")
    }

    @Test func theURLComesFromTheEnvironmentAndTheWorkerNameMay() throws {
        let yaml = """
            store: {url: "${DB}", pool: 3, schema: herald}
            worker: {name: "${HOSTNAME}", lease: 30s}

            """
        let (configuration, diagnostics) = try load(yaml, environment: ["DB": "postgres://h@127.0.0.1/h", "HOSTNAME": "node-2"])
        #expect(diagnostics.isEmpty)
        #expect(configuration?.store.url?.value == "postgres://h@127.0.0.1/h" && configuration?.store.isShared == true)
        #expect(configuration?.store.pool == 3 && configuration?.store.schema == "herald")
        #expect(configuration?.worker.name == "node-2" && configuration?.worker.lease == .seconds(30))
        #expect("\(configuration!.store.url!)" == "${DB}", "the URL (and its password) never prints")
    }

    @Test func mistakesPointAtTheirLine() throws {
        let yaml = """
            store: {url: "postgres://u:pw@db/h", pool: 0, schema: "Herald; DROP"}
            worker: {lease: 1s}

            """
        let (_, diagnostics) = try load(yaml)
        #expect(diagnostics.contains { $0.hasPrefix("herald.yaml:1:") && $0.contains("'url' of store is written literally") })
        #expect(diagnostics.contains { $0.hasPrefix("herald.yaml:1:") && $0.contains("pool") })
        #expect(diagnostics.contains { $0.hasPrefix("herald.yaml:1:") && $0.contains("store schema") })
        #expect(diagnostics.contains { $0.hasPrefix("herald.yaml:2:") && $0.contains("worker lease") })
        let (_, unset) = try load("store: {url: \"${DB}\"}\n")
        #expect(unset.contains { $0.hasPrefix("herald.yaml:1:") && $0.contains("DB") && $0.contains("not set") })
    }
}
