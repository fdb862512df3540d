import Testing

@testable import Node

@Suite("Audit log: chain, paging, filters, export")
struct StateAuditLogTests {
    /// A log with records at the given times (non-decreasing).
    private func log(times: [Int64]) -> AuditLog {
        var log = AuditLog()
        for (i, at) in times.enumerated() {
            log.append(
                at: at, actor: Principal(.user, "u"), node: "n1", source: "1.2.3.4:5", action: "login",
                object: "user/u", outcome: .ok, detail: "#\(i)")
        }
        return log
    }

    @Test func pagingNeverSkipsOrRepeatsWithEqualTimestamps() {
        // Runs of equal timestamps that straddle page boundaries.
        let times: [Int64] = [1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 8, 9, 9, 9]
        let full = log(times: times)
        for limit in 1...8 {
            for (since, until) in [(nil, nil), (Int64(2), nil), (nil, Int64(5)), (Int64(2), Int64(9)), (5, 6)]
                as [(Int64?, Int64?)]
            {
                var seen: [UInt64] = []
                var cursor: UInt64?
                var pages = 0
                repeat {
                    let page = full.page(since: since, until: until, after: cursor, limit: limit)
                    #expect(page.records.count <= limit)
                    seen += page.records.map(\.seq)
                    cursor = page.nextCursor
                    pages += 1
                } while cursor != nil && pages < 100
                let expected = full.records.filter { r in
                    (since.map { r.at >= $0 } ?? true) && (until.map { r.at < $0 } ?? true)
                }.map(\.seq)
                #expect(
                    seen == expected,
                    "limit \(limit) since \(String(describing: since)) until \(String(describing: until))")
            }
        }
    }

    @Test func sinceIsInclusiveAndUntilExclusive() {
        let full = log(times: [10, 20, 20, 30])
        #expect(full.page(since: 20, until: 30).records.map(\.at) == [20, 20])
        #expect(full.page(since: 21, until: 31).records.map(\.at) == [30])
        #expect(full.page(since: 10, until: 10).records.isEmpty)
        #expect(full.page(until: 11).records.map(\.at) == [10])
    }

    @Test func limitDefaultsTo20AndIsCappedAt1000() {
        let full = log(times: Array(repeating: 7, count: 1005))
        #expect(full.page().records.count == 20)
        #expect(full.page().nextCursor == 20)
        #expect(full.page(limit: 5000).records.count == 1000)
        #expect(full.page(limit: 0).records.count == 1)
        #expect(full.page(after: 1000, limit: 1000).records.map(\.seq) == [1001, 1002, 1003, 1004, 1005])
        #expect(full.page(after: 1000, limit: 1000).nextCursor == nil)
        #expect(full.page(after: 5000).records.isEmpty)
    }

    @Test func theExportIteratorVisitsEveryRecordOnce() {
        let full = log(times: (0..<2345).map { Int64($0 / 10) })
        let pages = Array(full.pages(pageSize: 1000))
        #expect(pages.map(\.records.count) == [1000, 1000, 345])
        #expect(pages.flatMap(\.records).map(\.seq) == Array(1...2345))
        #expect(Array(AuditLog().pages()).count == 1)
    }

    @Test func verifyDetectsAnEditedReorderedOrMissingRecord() {
        let full = log(times: [1, 2, 3, 4, 5])
        #expect(full.verify() == nil)
        var edited = full.records
        edited[2].detail = "innocent"
        #expect(AuditLog.verify(edited) == 3)
        var rehashed = edited
        rehashed[2].hash = rehashed[2].computedHash()  // fixing its hash breaks the next link
        #expect(AuditLog.verify(rehashed) == 4)
        var missing = Array(full.records)
        missing.remove(at: 1)
        #expect(AuditLog.verify(missing) == 3)
        #expect(AuditLog.verify(Array(full.records.reversed())) == 5)
        #expect(full.records[0].prevHash == AuditLog.genesisHash)
    }

    @Test func pruningKeepsTheChainAnchored() throws {
        let h = Harness()
        for i in 0..<5 { h.ok(h.createTunnel("t\(i)", token: "\(i)"), TunnelRecord.self) }
        let exported = h.state.audit.records
        let result = try #require(h.ok(.auditPrune(.init(throughSeq: 3)), ControlState.PruneResult.self))
        #expect(result.pruned == 3 && result.anchorSeq == 3 && result.anchorHash == exported[2].hash)
        #expect(h.state.audit.records.map(\.seq) == [4, 5, 6])
        #expect(h.state.audit.verify() == nil)
        #expect(AuditLog.verify(exported + Array(h.state.audit.records.suffix(1))) == nil)
        #expect(h.state.audit.page(after: 2).records.first?.seq == 4)
        h.refused(.auditPrune(.init(throughSeq: 3)), .invalidValue)
        h.refused(.auditPrune(.init(throughSeq: 99)), .invalidValue)
    }

    @Test func appendRecordsNodeEventsAllOrNothing() throws {
        let h = Harness()
        let event = OpPayload.AuditEvent(
            at: t0 - 5, actor: Principal(.user, "alice"), source: "10.1.1.1:999", action: "login", object: "user/alice",
            outcome: .ok, detail: "")
        let failed = OpPayload.AuditEvent(
            at: t0 + 5, actor: Principal(.user, "mallory"), source: "10.6.6.6:1", action: "login",
            object: "user/mallory", outcome: .failed, detail: "bad password")
        let result = try #require(
            h.ok(.auditAppend(.init(records: [event, failed])), as: node1, ControlState.AppendResult.self))
        #expect(result.appended == 2 && result.firstSeq == 1 && result.lastSeq == 2)
        #expect(h.state.audit.records.map(\.outcome) == [.ok, .failed])
        #expect(h.state.audit.records.map(\.node) == ["n1", "n1"])
        #expect(h.state.audit.records.map(\.at) == [t0 - 5, t0 + 5])
        var bad = failed
        bad.detail = "line\nbreak"
        h.refused(.auditAppend(.init(records: [event, bad])), .invalidValue, as: node1)
        h.refused(.auditAppend(.init(records: [])), .invalidValue, as: node1)
        h.refused(.auditAppend(.init(records: [event])), .forbidden, as: Principal(.connector, "c"), outcome: .denied)
    }

    @Test func csvQuotesCommasQuotesAndNewlines() {
        #expect(AuditFormat.csvField("plain") == "plain")
        #expect(AuditFormat.csvField("a,b") == "\"a,b\"")
        #expect(AuditFormat.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditFormat.csvField("two\nlines") == "\"two\nlines\"")
        #expect(AuditFormat.csvField("cr\rlf") == "\"cr\rlf\"")
        #expect(AuditFormat.csvField("crlf\r\n") == "\"crlf\r\n\"")
        #expect(AuditFormat.csvField("") == "")
        var one = AuditLog()
        one.append(
            at: 5, actor: Principal(.user, "u"), node: "n1", source: "", action: "login", object: "o,1",
            outcome: .ok, detail: "x \"y\"")
        let csv = AuditFormat.csvHeader + AuditFormat.csv(one.records)
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0] == AuditFormat.csvColumns.joined(separator: ","))
        #expect(lines[1].hasPrefix("1,5,user,u,n1,,login,\"o,1\",ok,\"x \"\"y\"\"\","))
        #expect(lines.count == 3 && lines[2].isEmpty)
    }

    @Test func csvNeutralisesWhatASpreadsheetWouldRunAsAFormula() {
        #expect(AuditFormat.csvField("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(AuditFormat.csvField("+1") == "\"'+1\"")
        #expect(AuditFormat.csvField("-2+3") == "\"'-2+3\"")
        #expect(AuditFormat.csvField("@SUM(A1)") == "\"'@SUM(A1)\"")
        #expect(AuditFormat.csvField("\tcmd") == "\"'\tcmd\"")
        #expect(AuditFormat.csvField("\rx") == "\"'\rx\"")
        // Only the first character matters: these are plain text.
        #expect(AuditFormat.csvField("a=b") == "a=b")
        #expect(AuditFormat.csvField("tunnel-1") == "tunnel-1")
        #expect(AuditFormat.csvField("127.0.0.1:5000") == "127.0.0.1:5000")
    }

    @Test func jsonLinesAndArrayRoundTrip() throws {
        let full = log(times: [1, 2, 3])
        let lines = AuditFormat.jsonLines(full.records).split(separator: "\n")
        #expect(lines.count == 3)
        let decoded = try #require(
            CanonicalJSON.decode([AuditRecord].self, from: Array(AuditFormat.jsonArray(full.records).utf8)))
        #expect(decoded == Array(full.records))
        #expect(AuditFormat.jsonArray([]) == "[]")
    }
}

@Suite("Audit hash input: hand-written canonical JSON")
struct AuditCanonicalJSONTests {
    /// Strings that exercise every escaping rule: quotes, backslashes, slashes, each
    /// control character, DEL, non-ASCII, and combining characters.
    static let hostile: [String] = {
        var strings = ["", "plain", "a\"b", "back\\slash", "a/b", "</script>", "\u{7F}", "é", "日本", "😀", "e\u{301}"]
        for c in 0..<0x20 { strings.append("x\(Character(Unicode.Scalar(UInt8(c))))y") }
        strings.append((0..<0x20).map { String(Character(Unicode.Scalar(UInt8($0)))) }.joined())
        return strings
    }()

    @Test func equalsJSONEncodersOutputByteForByte() {
        var n = 0
        for s in Self.hostile {
            for outcome in AuditRecord.Outcome.allCases {
                for kind in Principal.Kind.allCases {
                    let record = AuditRecord(
                        seq: UInt64(n), at: Int64(n) * 1_000 - 5, actor: Principal(kind, s), node: s, source: s,
                        action: s, object: s, outcome: outcome, detail: s + "!", prevHash: s, hash: "")
                    let body = record.hashedBody()
                    #expect(body.canonicalJSON() == CanonicalJSON.foundationEncode(body), "\(Array(s.utf8))")
                    n += 1
                }
            }
        }
        let extremes = AuditRecord(
            seq: .max, at: .min, actor: Principal(.user, "u"), node: "", source: "", action: "", object: "",
            outcome: .ok, detail: "", prevHash: "", hash: "")
        #expect(extremes.hashedBody().canonicalJSON() == CanonicalJSON.foundationEncode(extremes.hashedBody()))
    }
}

@Suite("Created-tunnel answer: spliced canonical JSON")
struct CreatedTunnelBodyTests {
    @Test func equalsEncodingTheAnswer() throws {
        for closed in [false, true] {
            var tunnel = TunnelRecord(
                id: "t-1", name: "a \"quoted\"/name", owner: "olivia", createdAt: 1, expiresAt: 2, state: .open)
            if closed {
                tunnel.state = .closed
                tunnel.closedAt = 3
                tunnel.closedBy = "x"
                tunnel.closeReason = .admin
            }
            let url = "https://127.0.0.1:7441/v1/connect/t-1?token=ab_c-d&ca=sha256:0f"
            let spliced = AdminAPI.createdTunnelBody(tunnelJSON: CanonicalJSON.encode(tunnel), connectUrl: url)
            #expect(spliced == CanonicalJSON.encode(AdminAPI.CreatedTunnel(tunnel: tunnel, connectUrl: url)))
        }
    }
}
