import Foundation
import Tunnel

/// Audit query (cursor pages), streamed export (CSV or JSON lines) and chain verification.
extension AdminAPI {
    struct AuditQuery: Sendable {
        var since: Int64?
        var until: Int64?
        var after: UInt64?
        var limit: Int?
    }

    func auditQuery(_ call: APICall) throws(APIError) -> AuditQuery {
        func number<T: FixedWidthInteger>(_ name: String, _ type: T.Type) throws(APIError) -> T? {
            guard let text = call.request.query[name], !text.isEmpty else { return nil }
            guard let value = T(text), value >= 0 else {
                throw .badRequest("\(name) must be a whole number ≥ 0 (ms since the epoch for times)", code: "invalid_value")
            }
            return value
        }
        let query = AuditQuery(
            since: try number("since", Int64.self), until: try number("until", Int64.self),
            after: try number("after", UInt64.self), limit: try number("limit", Int.self))
        if let limit = query.limit, !(1...1000).contains(limit) {
            throw .badRequest("limit must be between 1 and 1000", code: "invalid_value")
        }
        return query
    }

    func listAudit(_ call: APICall) {
        let query: AuditQuery
        do { query = try auditQuery(call) } catch { return call.fail(error) }
        read(call) { state in
            .success(state.audit.page(since: query.since, until: query.until, after: query.after, limit: query.limit))
        }
    }

    /// Streams the filtered range page by page (chunked), so memory stays one page deep
    /// whatever the size; the first page waits for a linearizable read.
    func exportAudit(_ call: APICall) {
        let query: AuditQuery
        do { query = try auditQuery(call) } catch { return call.fail(error) }
        let format = call.request.query["format"] ?? "csv"
        guard format == "csv" || format == "json" else {
            return call.fail(.badRequest("format must be csv or json", code: "invalid_value"))
        }
        let controller = self.controller
        controller.read(stale: false, { _ in true }) { result in
            if case .failure(let error) = result { return call.fail(error) }
            var headers: HTTPHeaders = [
                "Content-Type": format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
                "Content-Disposition": "attachment; filename=warren-audit.\(format == "csv" ? "csv" : "jsonl")",
            ]
            SecurityHeaders.apply(to: &headers)
            call.onFinish(.ok)
            let writer = call.responder.startChunked(status: .ok, headers: headers)
            if format == "csv" { writer.write(Array(AuditFormat.csvHeader.utf8)) }
            Self.streamAudit(controller, writer, query, format: format, after: query.after)
        }
    }

    private static func streamAudit(
        _ controller: ClusterController, _ writer: HTTPChunkedWriter, _ query: AuditQuery, format: String, after: UInt64?
    ) {
        controller.read(stale: true, { state in
            state.audit.page(since: query.since, until: query.until, after: after, limit: AuditLog.pageSizeMax)
        }) { result in
            guard case .success(let page) = result, !writer.isConnectionClosed else { return writer.finish() }
            let text = format == "csv" ? AuditFormat.csv(page.records) : AuditFormat.jsonLines(page.records)
            guard let next = page.nextCursor else {
                writer.write(Array(text.utf8))
                return writer.finish()
            }
            // Backpressure: the next page is read only once the client took this one.
            writer.write(Array(text.utf8)) { streamAudit(controller, writer, query, format: format, after: next) }
        }
    }

    struct VerifyAnswer: Encodable, Sendable {
        var ok: Bool
        var records: Int
        var firstBadSeq: UInt64?
    }

    func verifyAudit(_ call: APICall) {
        read(call) { state in
            let bad = state.audit.verify()
            return .success(VerifyAnswer(ok: bad == nil, records: state.audit.records.count, firstBadSeq: bad))
        }
    }
}
