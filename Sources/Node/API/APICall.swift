import Foundation
import Tunnel

/// One admin API request in flight: who made it, its path parameters, and how to answer.
/// Handlers finish every call exactly once with `ok`, `fail` or `send`.
struct APICall: Sendable {
    let request: HTTPRequest
    let responder: HTTPResponder
    /// The authenticated caller; nil on public routes.
    let principal: Principal?
    /// The caller's role (admin for an admin certificate); nil for nodes and public routes.
    let role: Role?
    /// Values of `:name` segments of the route.
    let params: [String: String]
    /// When the node received the request (for latency metrics).
    let startedNanos: UInt64
    let onFinish: @Sendable (HTTPStatus) -> Void

    func param(_ name: String) -> String { params[name] ?? "" }

    /// `200` with a JSON body.
    func ok(_ body: [UInt8], status: HTTPStatus = .ok) {
        send(.json(body, status: status))
    }

    func ok(_ value: some Encodable, status: HTTPStatus = .ok) {
        ok(CanonicalJSON.encode(value), status: status)
    }

    func fail(_ error: APIError) { send(error.response) }

    func send(_ response: HTTPResponse) {
        var response = response
        SecurityHeaders.apply(to: &response.headers)
        onFinish(response.status)
        responder.respond(response)
    }

    /// Finishes with the result of a state-machine write: its object, or its refusal.
    func finish(_ result: Result<ControlResult, APIError>, status: HTTPStatus = .ok) {
        switch result {
        case .failure(let error): fail(error)
        case .success(.error(let refusal)): fail(APIError(refusal))
        case .success(.ok(let object)): ok(object, status: status)
        }
    }

    /// The request's JSON object body, read field by field with unknown fields refused.
    func body() throws(APIError) -> JSONFields {
        guard !request.body.isEmpty else { throw .badRequest("a JSON object body is required", code: "invalid_json") }
        do { return try JSONFields.parse(Data(request.body)) } catch {
            throw .badRequest("body: \(error.problem)", code: "invalid_json")
        }
    }

    /// Reads the JSON body with `read`, then refuses any field it did not read.
    func decode<T>(_ read: (inout JSONFields) throws(ConfigError) -> T) throws(APIError) -> T {
        var fields = try body()
        do throws(ConfigError) {
            let value = try read(&fields)
            try fields.finish()
            return value
        } catch {
            throw JSONFields.apiError(error)
        }
    }

    /// Unix milliseconds now, on this node's clock.
    static func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// Response headers every API answer carries: no caching of secrets, no framing, no sniffing.
enum SecurityHeaders {
    static func apply(to headers: inout HTTPHeaders) {
        if !headers.contains("Cache-Control") { headers.add(name: "Cache-Control", value: "no-store") }
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "X-Frame-Options", value: "DENY")
    }
}

extension JSONFields {
    /// Maps a field problem to the API's 400 with the field named.
    static func apiError(_ error: ConfigError) -> APIError {
        let code = error.problem == "is not a known setting" ? "unknown_field" : "invalid_value"
        let problem = error.problem == "is not a known setting" ? "is not a known field" : error.problem
        return .badRequest("\(error.key): \(problem)", code: code)
    }
}
