#if canImport(Glibc)
import Glibc
#endif
import Tunnel

/// Clients entering at a node that holds no session of their tunnel travel to the node
/// that does, over node-to-node relay links (docs/ARCHITECTURE.md, "Clients entering at
/// any node"): the entry side (`relay`), and the holding side (`acceptRelayedStream`).
extension TunnelHub {
    // MARK: relaying to the node that holds the connector's session

    /// No session of the tunnel here: carry the client to the node that holds one, over
    /// a node-to-node relay link (a mux over a WebSocket with node certificates on both
    /// ends). That node checks the tunnel is open and hands the stream to its session.
    func relay(fd: Int32, remote: String, descriptor: StreamDescriptor) {
        enum Next { case carry(MuxBridge), dial(String, String), wait, refuse(String) }
        let next = registry.withLock { r -> Next in
            if r.cutOff { return .refuse(cutOffReason) }
            r.relayedTunnels.insert(descriptor.tunnel)
            guard let holder = r.holderOf[descriptor.tunnel], holder != nodeID else {
                return .refuse("no connector session for tunnel \(descriptor.tunnel) on any node")
            }
            if let bridge = r.relays[holder] { return .carry(bridge) }
            guard let api = r.apiOf[holder] else { return .refuse("no address for node \(holder)") }
            let first = r.waiting[holder] == nil
            r.waiting[holder, default: []].append((fd, remote, descriptor))
            return first ? .dial(holder, api) : .wait
        }
        switch next {
        case .carry(let bridge):
            bridge.carry(acceptedFD: fd, descriptor: descriptor.encoded, remoteAddress: remote)
        case .wait:
            break
        case .refuse(let why):
            close(fd)
            metrics.increment("warren_streams_refused_total{reason=\"no_connector\"}")
            log.info("stream refused", ["tunnel": descriptor.tunnel, "reason": why])
        case .dial(let holder, let api):
            openRelay(to: holder, api: api)
        }
    }

    func openRelay(to holder: String, api: String) {
        guard let tls = relayTLS?.current, let address = try? SocketAddress(parsing: api) else {
            return failWaiting(holder, "no TLS context or bad address for relay to \(holder)")
        }
        WebSocketClient.connect(
            loop: self.group.next(), address: address, tls: tls, serverName: HostPort.host(of: api),
            path: "/v1/internal/relay",
            protocol: WebSocketHandshake.muxProtocol
        ) { [self] result in
            switch result {
            case .failure(let error):
                failWaiting(holder, "relay to \(holder): \(error)")
            case .success(let channel):
                let bridge = MuxBridge(
                    channel: channel, configuration: TunnelMux.configuration(.client),
                    onOpen: { _ in .refuse(code: .refused, reason: "relay links carry streams one way") },
                    onClose: { [weak self] reason in self?.relayClosed(holder, reason) })
                let serial = channel.peerCertificate?.serialHex.lowercased() ?? ""
                let pending = registry.withLock { r -> [(fd: Int32, remote: String, descriptor: StreamDescriptor)] in
                    r.relays[holder] = bridge
                    r.relaySerials[holder] = serial
                    return r.waiting.removeValue(forKey: holder) ?? []
                }
                log.info("relay link up", ["node": holder])
                for p in pending { bridge.carry(acceptedFD: p.fd, descriptor: p.descriptor.encoded, remoteAddress: p.remote) }
            }
        }
    }

    /// Ends this node's relayed streams of tunnels that are closed or expired, at once.
    func endRelayedStreams(_ state: ControlState, nowMs: Int64) {
        let (ended, relays) = registry.withLock { r -> (Set<String>, [MuxBridge]) in
            let ended = r.relayedTunnels.filter { id in
                guard let tunnel = state.tunnels[id] else { return true }
                return tunnel.state == .closed || tunnel.expiresAt <= nowMs
            }
            r.relayedTunnels.subtract(ended)
            return (ended, ended.isEmpty ? [] : Array(r.relays.values))
        }
        guard !ended.isEmpty else { return }
        for relay in relays {
            relay.endStreams(reason: "tunnel closed") { bytes in
                StreamDescriptor.decode(bytes).map { ended.contains($0.tunnel) } ?? false
            }
        }
    }

    func failWaiting(_ holder: String, _ why: String) {
        let pending = registry.withLock { $0.waiting.removeValue(forKey: holder) ?? [] }
        for p in pending { close(p.fd) }
        log.warn("relay failed", ["node": holder, "error": why, "clients": "\(pending.count)"])
    }

    func relayClosed(_ holder: String, _ reason: String) {
        registry.withLock {
            _ = $0.relays.removeValue(forKey: holder)
            _ = $0.relaySerials.removeValue(forKey: holder)
        }
        log.info("relay link down", ["node": holder, "reason": reason])
    }

    /// The receiving end of a relay link: a stream for a mapping this node serves, of a
    /// tunnel whose connector session is held here, is spliced into that session through a
    /// socket pair; anything else is refused. The stream's descriptor is rebuilt from this
    /// node's own replicated state (the relayed bytes only name the mapping), and the entry
    /// node has already applied the mapping's allow-list to the real client.
    func acceptRelayedStream(_ descriptorBytes: [UInt8], from peer: String) -> MuxOpenDecision {
        guard let descriptor = StreamDescriptor.decode(descriptorBytes) else {
            return .refuse(code: .refused, reason: "unreadable stream descriptor")
        }
        guard let state = connectorState.state,
            let mapping = StreamPolicy.servedListener(key: descriptor.listenerKey, in: state, nowMs: APICall.nowMillis()),
            mapping.tunnelId == descriptor.tunnel
        else {
            return .refuse(code: .refused, reason: "no mapping \(descriptor.listenerKey) of tunnel \(descriptor.tunnel) here")
        }
        if isCutOff { return .refuse(code: .refused, reason: cutOffReason) }
        let found = registry.withLock { r -> (session: Session?, mapping: MappingRecord)? in
            // Sessions going away still count: the stream is parked until the connector's
            // new session is known (TunnelHub+Parking.swift).
            guard !r.closed.contains(descriptor.tunnel), r.sessions[descriptor.tunnel]?.isEmpty == false else {
                return nil
            }
            let session = r.sessions[descriptor.tunnel]?.filter({ !$0.goingAway }).min(by: {
                Self.live($0.bridge) < Self.live($1.bridge)
            })
            return (session, mapping)
        }
        guard let found else {
            return .refuse(code: .refused, reason: "no session of tunnel \(descriptor.tunnel) on this node")
        }
        let trusted = StreamDescriptor.forListener(
            key: descriptor.listenerKey, tunnel: found.mapping.tunnelId, target: found.mapping.target)
        let pair: (Int32, Int32)
        do { pair = try MuxBridge.socketPair() } catch {
            return .refuse(code: .refused, reason: "cannot carry the relayed stream: \(error)")
        }
        if let session = found.session {
            session.bridge.carry(acceptedFD: pair.1, descriptor: trusted.encoded, remoteAddress: "relay:\(peer)")
        } else if !park(fd: pair.1, remote: "relay:\(peer)", descriptor: trusted) {
            close(pair.0)
            close(pair.1)
            return .refuse(code: .refused, reason: "no session of tunnel \(descriptor.tunnel) on this node")
        }
        return .adopt(fd: pair.0, remote: "tunnel \(descriptor.tunnel) session")
    }
}
