import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// `GET /v1/users/{user}/events` on a real `herald serve`: auth and tenants as for the inbox API,
/// a 站内信 stored by `herald run` in another process reaching the right client (how soon: `.ci/bench/sse.sh`),
/// nobody else's events, unread counts after reads, and resuming with Last-Event-ID.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct LiveEventsTests {
    typealias F = ServeFixture

    func client(_ server: ServeProcess, user: String, token: String = F.shopToken, tenant: String? = nil,
                lastEventID: String? = nil, seconds: Double, until: String = "") throws -> EventStreamClient {
        var headers = ["Authorization: Bearer \(token)"]
        if let tenant { headers.append("X-Tenant-Id: \(tenant)") }
        if let lastEventID { headers.append("Last-Event-ID: \(lastEventID)") }
        return try EventStreamClient(port: server.port, path: "/v1/users/\(user)/events", headers: headers, seconds: seconds, until: until)
    }

    @Test func aMessageStoredByAnotherProcessReachesItsUserAndNobodyElse() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let mine = try client(server, user: "5", seconds: 60, until: "message")
        let other = try client(server, user: "6", seconds: 60, until: "notice")
        let otherTenant = try client(server, user: "5", token: F.partnerToken, tenant: "2", seconds: 60, until: "notice")
        // Each stream's first event (the unread count) says it is subscribed: no sleeping.
        for stream in [mine, other, otherTenant] { #expect(stream.waitForFirstEvent()) }
        try fixture.workspace.write("recipients/inbox/order_shipped.live.csv", "user_id,tenant_id,name,orderId\n5,0,李雷,L1\n")
        let run = try runHerald(["run", "--settle", "0s"], in: fixture.workspace.url, environment: F.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")

        let (status, events) = mine.finish()
        #expect(status == 200)
        let message = try #require(events.first { $0.event == "message" })
        #expect(message.json["content"] as? String == "李雷，您的订单 L1 已发货。")
        // How soon it arrives is measured by .ci/bench/sse.sh, not asserted here.
        #expect(events.first?.event == "unread", "the count comes first, on connect")
        #expect(events.last?.event == "unread" && events.last?.json["unread"] as? Int == 2, "the message and the tenant's announcement")
        #expect(events.compactMap(\.id).compactMap(Int.init) == events.compactMap(\.id).compactMap(Int.init).sorted(), "ids grow")

        // An announcement to each tenant comes after the message in the change log: once a stream
        // has it, a message wrongly sent to that stream would have come before it.
        for tenant in ["0", "2"] {
            let notice = try runHerald(["notice", "publish", "--title", "完", "--content", "完", "--tenant", tenant],
                                       in: fixture.workspace.url, environment: F.environment)
            #expect(notice.status == 0)
        }
        let otherEvents = other.finish().events, otherTenantEvents = otherTenant.finish().events
        #expect(otherEvents.contains { $0.event == "notice" } && !otherEvents.contains { $0.event == "message" },
                "user 6 sees no one else's message")
        #expect(otherTenantEvents.contains { $0.event == "notice" } && !otherTenantEvents.contains { $0.event == "message" },
                "user 5 of tenant 2 neither")
        _ = server.stop()
    }

    @Test func readsOnAnotherDeviceUpdateTheCountAndAReconnectGetsWhatItMissed() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let first = try client(server, user: "1", seconds: 1.5)
        let (_, connected) = first.finish()
        let lastID = try #require(connected.last?.id)

        // Missed while away: a read on another device and a new announcement.
        let list = try await server.request("GET", "/v1/users/1/messages", token: F.shopToken)
        let id = try #require((list.json["items"] as? [[String: Any]])?.first { $0["kind"] as? String == "message" }?["id"] as? String)
        #expect(try await server.request("POST", "/v1/users/1/messages/\(id)/read", token: F.shopToken).status == 200)
        let notice = try runHerald(["notice", "publish", "--title", "新功能", "--content", "上线了", "--tenant", "0"],
                                   in: fixture.workspace.url, environment: F.environment)
        #expect(notice.status == 0)

        let again = try client(server, user: "1", lastEventID: lastID, seconds: 1.5)
        let (status, events) = again.finish()
        #expect(status == 200)
        #expect(events.contains { $0.event == "notice" && $0.json["title"] as? String == "新功能" }, "the missed announcement")
        let counts = events.filter { $0.event == "unread" }.compactMap { $0.json["unread"] as? Int }
        #expect(counts.last == 3, "2 unread messages + 1 unread announcement before; one read, one new: \(counts)")
        _ = server.stop()
    }

    /// A Last-Event-ID beyond the newest event (a database restored from a backup, a client of
    /// another deployment) used to make the stream drop every later event without a word.
    @Test func anEventIDFromTheFutureResetsTheStreamInsteadOfSilencingIt() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let stream = try client(server, user: "5", lastEventID: "999999999", seconds: 60, until: "message")
        #expect(stream.waitForFirstEvent(), "the stream is open and subscribed")
        try fixture.workspace.write("recipients/inbox/order_shipped.future.csv", "user_id,tenant_id,name,orderId\n5,0,李雷,F1\n")
        let run = try runHerald(["run", "--settle", "0s"], in: fixture.workspace.url, environment: F.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let (status, events) = stream.finish()
        #expect(status == 200)
        #expect(events.first?.event == "resync", "the client is told to reload: \(events.map(\.event))")
        #expect(events.contains { $0.event == "message" && $0.json["content"] as? String == "李雷，您的订单 F1 已发货。" },
                "later events still arrive: \(events.map(\.event))")
        _ = server.stop()
    }

    @Test func theStreamIsGuardedLikeTheInbox() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        #expect(try await server.request("GET", "/v1/users/1/events").status == 401)
        #expect(try await server.request("GET", "/v1/users/1/events", token: F.shopToken, tenant: "2").status == 403)
        #expect(try await server.request("GET", "/v1/users/1/events?last_event_id=x", token: F.shopToken).status == 400)
        _ = server.stop()
    }

    /// `count` 站内信 for user 9 of tenant 0, stored by `herald run`, then an announcement (the
    /// event a reading client waits for: everything before it was handed out).
    func flood(_ fixture: ServeFixture, count: Int, name: String) throws {
        let rows = (1...count).map { "9,0,李雷,\(name)\($0)" }.joined(separator: "\n")
        try fixture.workspace.write("recipients/inbox/order_shipped.\(name).csv", "user_id,tenant_id,name,orderId\n\(rows)\n")
        let run = try runHerald(["run", "--settle", "0s"], in: fixture.workspace.url, environment: F.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let notice = try runHerald(["notice", "publish", "--title", "完", "--content", name, "--tenant", "0"],
                                   in: fixture.workspace.url, environment: F.environment)
        #expect(notice.status == 0)
    }

    // Issue 26: 300 clients that never read, while 30,000 站内信 went to their user, grew serve
    // from 0.44 to 2.58 GB (every event queued for every client), and SIGTERM waited for such
    // clients to go (20 s, 79 s). 20,000 events are more than the socket buffers hold.
    @Test func aClientThatDoesNotReadIsDroppedAndShutdownDoesNotWaitForIt() async throws {
        let fixture = try ServeFixture()
        let yaml = try fixture.workspace.read("herald.yaml")
        try fixture.workspace.write("herald.yaml", yaml.replacingOccurrences(of: "  max_body: 4KB\n", with: "  max_body: 4KB\n  live_backlog: 100\n"))
        let server = try fixture.serve()
        let headers = ["Authorization: Bearer \(F.shopToken)"]
        let stalled = try RawConnection.stalledStream(port: server.port, path: "/v1/users/9/events", headers: headers)
        try flood(fixture, count: 20_000, name: "F")
        #expect(stalled.closedByServer(within: 60), "the client that does not read was dropped")
        let count = try await server.request("GET", "/v1/users/9/unread-count", token: F.shopToken)
        #expect(count.status == 200 && count.json["unread"] as? Int == 20_002, "serve goes on: \(count.body)")
        let stopped = server.stop()
        #expect(stopped.stderr.contains("live client dropped"), "and the log says so")

        // Shutdown: clients that do not read, with a backlog too large for them to be dropped.
        try fixture.workspace.write("herald.yaml", yaml.replacingOccurrences(of: "  max_body: 4KB\n", with: "  max_body: 4KB\n  live_backlog: 100000\n"))
        let second = try fixture.serve()
        let stuck = try (0..<3).map { _ in try RawConnection.stalledStream(port: second.port, path: "/v1/users/9/events", headers: headers) }
        let witness = try client(second, user: "9", seconds: 120, until: "notice")
        witness.waitForFirstEvent()
        try flood(fixture, count: 20_000, name: "G")
        #expect(witness.finish().events.filter { $0.event == "message" }.count == 20_000,
                "a client that reads gets everything (the backlog is larger than the flood)")
        let asked = Date()
        let result = second.stop()
        #expect(result.status == 0 && result.stdout.contains("herald serve: stopped"), "\(result.stdout)\(result.stderr)")
        #expect(Date().timeIntervalSince(asked) < 10, "the streams ended at SIGTERM; the 10 s limit did not have to cut them off")
        #expect(stuck.allSatisfy { $0.closedByServer(within: 5) })
    }
}
