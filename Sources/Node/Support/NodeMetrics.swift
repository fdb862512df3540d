internal import Synchronization

/// The node's counters and latency histograms, rendered in the Prometheus text format
/// (`/metrics`). Safe from any thread (one lock; every update is a few additions).
final class NodeMetrics: Sendable {
    /// Upper bounds of the API latency buckets, in seconds.
    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private struct Histogram {
        var counts = [UInt64](repeating: 0, count: NodeMetrics.latencyBuckets.count)
        var total: UInt64 = 0
        var sumSeconds: Double = 0
    }

    private struct State {
        var requests: [String: UInt64] = [:]  // "route\u{0}status"
        var latency: [String: Histogram] = [:]
        var counters: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    func observeRequest(route: String, status: Int, nanos: UInt64) {
        let seconds = Double(nanos) / 1e9
        state.withLock { s in
            s.requests["\(route)\u{0}\(status)", default: 0] += 1
            var h = s.latency[route] ?? Histogram()
            if let i = Self.latencyBuckets.firstIndex(where: { seconds <= $0 }) { h.counts[i] += 1 }
            h.total += 1
            h.sumSeconds += seconds
            s.latency[route] = h
        }
    }

    /// Adds to a plain counter, e.g. `warren_logins_total{outcome="ok"}`.
    func increment(_ name: String, by amount: UInt64 = 1) {
        state.withLock { $0.counters[name, default: 0] += amount }
    }

    /// The text exposition of everything recorded, followed by `gauges`.
    func render(gauges: [(name: String, help: String, value: Double)]) -> String {
        let s = state.withLock { $0 }
        var out = ""
        out += "# HELP warren_api_requests_total Admin API requests by route pattern and status.\n"
        out += "# TYPE warren_api_requests_total counter\n"
        for key in s.requests.keys.sorted() {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            out += "warren_api_requests_total{route=\(JSONText.quote(parts[0])),status=\"\(parts[1])\"} \(s.requests[key]!)\n"
        }
        out += "# HELP warren_api_request_seconds Admin API latency by route pattern.\n"
        out += "# TYPE warren_api_request_seconds histogram\n"
        for route in s.latency.keys.sorted() {
            let h = s.latency[route]!
            let label = "route=\(JSONText.quote(route))"
            var cumulative: UInt64 = 0
            for (i, bound) in Self.latencyBuckets.enumerated() {
                cumulative += h.counts[i]
                out += "warren_api_request_seconds_bucket{\(label),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "warren_api_request_seconds_bucket{\(label),le=\"+Inf\"} \(h.total)\n"
            out += "warren_api_request_seconds_sum{\(label)} \(h.sumSeconds)\n"
            out += "warren_api_request_seconds_count{\(label)} \(h.total)\n"
        }
        var typed = Set<String>()
        for name in s.counters.keys.sorted() {
            let base = String(name.prefix { $0 != "{" })
            if typed.insert(base).inserted { out += "# TYPE \(base) counter\n" }
            out += "\(name) \(s.counters[name]!)\n"
        }
        for gauge in gauges {
            let base = String(gauge.name.prefix { $0 != "{" })
            if typed.insert(base).inserted {
                out += "# HELP \(base) \(gauge.help)\n# TYPE \(base) gauge\n"
            }
            out += "\(gauge.name) \(gauge.value)\n"
        }
        return out
    }
}
