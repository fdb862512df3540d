/// `audit.append` (events that are not state changes) and `audit.prune` (after export).
extension ControlState {
    struct AppendResult: Codable, Equatable, Sendable {
        var appended: Int
        var firstSeq: UInt64
        var lastSeq: UInt64
    }

    struct PruneResult: Codable, Equatable, Sendable {
        var pruned: Int
        var anchorSeq: UInt64
        var anchorHash: String
    }

    /// Most events in one `audit.append`.
    static let auditAppendRecordsMax = 1000

    /// Appends a node's batch of events (logins, session open/close), each checked first,
    /// all or nothing. The records carry the batch's node; times never go backwards.
    mutating func appendAudit(_ p: OpPayload.AuditAppend, _ context: Context) throws(ControlError) -> Applied {
        guard (1...Self.auditAppendRecordsMax).contains(p.records.count) else {
            throw ControlError(.invalidValue, "records must hold 1–\(Self.auditAppendRecordsMax) events")
        }
        for (index, event) in p.records.enumerated() {
            // Field names are given bare and prefixed only on a refusal: building
            // "records[i].…" six times per record cost more than the checks.
            do throws(ControlError) {
                try Validation.time(event.at, "at")
                try Validation.principal(event.actor, "actor")
                try Validation.name(event.action, "action")
                try Validation.text(event.source, "source", bytesMax: 128)
                try Validation.text(event.object, "object", bytesMax: 256)
                try Validation.text(event.detail, "detail")
            } catch {
                throw ControlError(.invalidValue, "records[\(index)].\(error.message)")
            }
        }
        let firstSeq = audit.nextSeq
        for event in p.records {
            audit.append(
                at: event.at, actor: event.actor, node: context.node, source: event.source, action: event.action,
                object: event.object, outcome: event.outcome, detail: event.detail)
        }
        clockMs = max(clockMs, audit.lastAt)
        let result = AppendResult(appended: p.records.count, firstSeq: firstSeq, lastSeq: audit.nextSeq - 1)
        return Applied(result, notes: [])
    }

    /// Drops the records up to `throughSeq` (they must have been exported); the chain stays
    /// verifiable from the anchor, and the prune itself is recorded after it.
    mutating func pruneAudit(_ p: OpPayload.AuditPrune, _ context: Context) throws(ControlError) -> Applied {
        guard p.throughSeq > audit.anchorSeq, p.throughSeq < audit.nextSeq else {
            throw ControlError(
                .invalidValue, "throughSeq must be in \(audit.anchorSeq + 1)–\(audit.nextSeq - 1)")
        }
        let pruned = audit.prune(throughSeq: p.throughSeq)
        let result = PruneResult(pruned: pruned, anchorSeq: audit.anchorSeq, anchorHash: audit.anchorHash)
        return Applied(result, object: "audit", detail: "pruned \(pruned) records through seq \(p.throughSeq)")
    }
}
