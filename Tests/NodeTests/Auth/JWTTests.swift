import Foundation
import Testing
import Tunnel

@testable import Node

@Suite struct JWTTests {
    let key = JWT.Key(id: "k1", secret: Array("0123456789abcdef0123456789abcdef".utf8))
    let claims = JWT.Claims(sub: "alice", role: "operator", iat: 1000, exp: 2000)

    @Test func signedTokenVerifiesUntilItExpires() throws {
        let token = JWT.sign(claims, key: key)
        #expect(try JWT.verify(token, key: key, now: 1500) == claims)
        #expect(throws: JWT.Failure.expired) { try JWT.verify(token, key: key, now: 2000) }
    }

    @Test func rotatedKeyRevokesOldTokens() {
        let token = JWT.sign(claims, key: key)
        let next = JWT.Key(id: "k2", secret: Array(repeating: 7, count: 32))
        #expect(throws: JWT.Failure.unknownKey) { try JWT.verify(token, key: next, now: 1500) }
        let sameIDOtherSecret = JWT.Key(id: "k1", secret: Array(repeating: 7, count: 32))
        #expect(throws: JWT.Failure.badSignature) { try JWT.verify(token, key: sameIDOtherSecret, now: 1500) }
    }

    @Test func tamperedClaimsFailTheSignature() throws {
        let token = JWT.sign(claims, key: key)
        let parts = token.split(separator: ".").map(String.init)
        var forged = claims
        forged.role = "admin"
        let body = Base64URL.encode(Array(try JSONEncoder().encode(forged)))
        #expect(throws: JWT.Failure.badSignature) {
            try JWT.verify("\(parts[0]).\(body).\(parts[2])", key: key, now: 1500)
        }
    }

    @Test(arguments: [#"{"alg":"none","typ":"JWT","kid":"k1"}"#, #"{"alg":"RS256","kid":"k1"}"#, #"{"kid":"k1"}"#,
                      #"{"alg":"hs256","kid":"k1"}"#])
    func onlyHS256IsAccepted(header: String) throws {
        let token = JWT.sign(claims, key: key)
        let parts = token.split(separator: ".").map(String.init)
        let forged = Base64URL.encode(Array(header.utf8)) + "." + parts[1] + "."
        #expect(throws: JWT.Failure.self) { try JWT.verify(forged, key: key, now: 1500) }
        do {
            _ = try JWT.verify(forged, key: key, now: 1500)
        } catch {
            guard case .algorithm = error else { Issue.record("expected an algorithm refusal, got \(error)"); return }
        }
    }

    @Test(arguments: ["", "a.b", "a.b.c.d", "!!!.???.***", String(repeating: "a", count: 9000) + ".b.c"])
    func garbageIsMalformed(token: String) {
        #expect(throws: JWT.Failure.self) { try JWT.verify(token, key: key, now: 1500) }
    }
}
