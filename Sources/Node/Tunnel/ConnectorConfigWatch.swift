import Foundation
internal import Synchronization

/// The node's latest applied state as the data path sees it — the parts stream decisions
/// read, refreshed by `TunnelHub.reconcile` after every apply that changes them and every
/// 200 ms — and the connectors waiting for their configuration to change
/// (`GET /v1/connect/:id/config?after=VERSION`, a long poll; the first answer always comes
/// from a linearizable read). Each `update` answers every waiter whose configuration
/// changed, whose access ended (tunnel closed, connector revoked) or whose wait ran out.
///
/// Threading: any thread; one lock. Answers run outside it.
final class ConnectorConfigWatch: Sendable {
    /// One waiting request. `respond` is called exactly once.
    struct Waiter {
        var tunnelId: String
        var connectorId: String
        var serial: String
        var version: String
        var deadlineMs: Int64
        var respond: @Sendable (Result<ConnectorConfig, APIError>) -> Void
    }

    private struct Inner {
        var state: ControlState?
        /// Invariant: count ≤ `waitersMax`.
        var waiters: [Waiter] = []
    }

    private let inner = Mutex(Inner())
    /// Bound on parked requests per node; beyond it a request is answered at once.
    static let waitersMax = 20_000

    /// The latest applied state (nil before the first apply).
    var state: ControlState? { inner.withLock { $0.state } }

    /// Records `state` (nil: keeps the one it has) and answers the waiters it concerns.
    func update(_ full: ControlState?, nowMs: Int64) {
        let fresh = full.map(Self.view(of:))
        let (waiters, kept) = inner.withLock { i -> ([Waiter], ControlState?) in
            if let fresh { i.state = fresh }
            return (i.waiters, i.state)
        }
        guard !waiters.isEmpty, let state = kept else { return }
        let index = ConnectorConfig.Index(state)
        var keep: [Bool] = []
        var answers: [(Waiter, Result<ConnectorConfig, APIError>)] = []
        for waiter in waiters {
            let result = Self.answer(waiter, state: state, index: index, nowMs: nowMs)
            if case .success(let config) = result, config.version == waiter.version, waiter.deadlineMs > nowMs {
                keep.append(true)
            } else {
                keep.append(false)
                answers.append((waiter, result))
            }
        }
        inner.withLock { i in
            // Waiters added meanwhile are past the ones looked at; keep them all.
            var next: [Waiter] = []
            for (offset, waiter) in i.waiters.enumerated() where offset >= keep.count || keep[offset] {
                next.append(waiter)
            }
            i.waiters = next
        }
        for (waiter, result) in answers { waiter.respond(result) }
    }

    /// The parts of the state stream decisions and configurations read (tunnels,
    /// mappings, endpoints, forwards, connectors, trust). Kept instead of the whole
    /// state so the audit log's storage is never shared: the next apply would copy it.
    static func view(of state: ControlState) -> ControlState {
        var view = ControlState()
        view.clockMs = state.clockMs
        view.tunnels = state.tunnels
        view.mappings = state.mappings
        view.endpoints = state.endpoints
        view.forwards = state.forwards
        view.connectors = state.connectors
        view.trust = state.trust
        return view
    }

    /// Parks a request whose connector already has `version` (the configuration a fresh
    /// read just found) until it changes, access ends or `waitMs` passes. When too many
    /// wait, answers `current` at once.
    func park(
        tunnelId: String, connectorId: String, serial: String, current: ConnectorConfig, waitMs: Int64, nowMs: Int64,
        respond: @escaping @Sendable (Result<ConnectorConfig, APIError>) -> Void
    ) {
        let waiter = Waiter(
            tunnelId: tunnelId, connectorId: connectorId, serial: serial, version: current.version,
            deadlineMs: nowMs + waitMs, respond: respond)
        let parked = inner.withLock { i -> Bool in
            guard i.waiters.count < Self.waitersMax else { return false }
            i.waiters.append(waiter)
            return true
        }
        if !parked { respond(.success(current)) }
    }

    private static func answer(
        _ w: Waiter, state: ControlState, index: ConnectorConfig.Index?, nowMs: Int64
    ) -> Result<ConnectorConfig, APIError> {
        AdminAPI.connectorAllowed(state, connectorId: w.connectorId, serial: w.serial, tunnelId: w.tunnelId, nowMs: nowMs)
            .map {
                (index ?? ConnectorConfig.Index(state)).config(tunnelId: w.tunnelId, connectorId: w.connectorId)
            }
    }

    /// Answers every waiter with the current configuration (node shutting down).
    func releaseAll() {
        let (waiters, state) = inner.withLock { i -> ([Waiter], ControlState?) in
            defer { i.waiters.removeAll() }
            return (i.waiters, i.state)
        }
        for waiter in waiters {
            if let state {
                waiter.respond(.success(.of(tunnelId: waiter.tunnelId, connectorId: waiter.connectorId, in: state)))
            } else {
                waiter.respond(.failure(APIError(503, "unavailable", "node shutting down")))
            }
        }
    }
}
