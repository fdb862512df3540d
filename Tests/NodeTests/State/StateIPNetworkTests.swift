import Testing

@testable import Node

@Suite("State: IP addresses, CIDRs and host:port")
struct StateIPNetworkTests {
    @Test func parsesAndCanonicalisesAddresses() {
        let cases: [(String, String?)] = [
            ("10.0.0.1", "10.0.0.1"), ("255.255.255.255", "255.255.255.255"), ("256.0.0.1", nil), ("1.2.3", nil),
            ("01.2.3.4", nil), ("1.2.3.4.5", nil), ("::", "::"), ("::1", "::1"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:db8::0:1", "2001:db8::1"), ("fe80::1:0:0:1", "fe80::1:0:0:1"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("::ffff:1.2.3.4", "::ffff:102:304"), (":::", nil), ("1::2::3", nil), ("12345::", nil), ("g::", nil),
            ("1:2:3:4:5:6:7:8:9", nil), ("1:2:3:4:5:6:7::8", nil), ("", nil), ("fe80::1%eth0", nil),
        ]
        for (text, expected) in cases {
            #expect(IPAddress(text)?.description == expected, "\(text)")
        }
    }

    @Test func cidrsClearHostBitsAndMatchByPrefix() throws {
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("10.1.2.3")?.description == "10.1.2.3/32")
        #expect(IPNetwork("2001:db8::ff/120")?.description == "2001:db8::/120")
        #expect(IPNetwork("0.0.0.0/0")?.description == "0.0.0.0/0")
        #expect(IPNetwork("10.0.0.0/33") == nil && IPNetwork("::/129") == nil && IPNetwork("1.2.3.4/") == nil)
        let net = try #require(IPNetwork("10.1.0.0/15"))
        #expect(net.contains(IPAddress("10.0.255.255")!) && net.contains(IPAddress("10.1.0.1")!))
        #expect(!net.contains(IPAddress("10.2.0.0")!) && !net.contains(IPAddress("::1")!))
        #expect(IPNetwork("::/0")!.contains(IPAddress("2001:db8::1")!))
    }

    @Test func hostPortTable() {
        let cases: [(String, String?)] = [
            ("db:5432", "db:5432"), ("DB.Example.com:1", "db.example.com:1"), ("10.0.0.1:65535", "10.0.0.1:65535"),
            ("[::1]:22", "[::1]:22"), ("::1:22", nil), ("[::1]22", nil), ("db:0", nil), ("db:65536", nil), ("db", nil),
            ("db:+1", nil), ("-db:1", nil), ("a..b:1", nil), ("[10.0.0.1]:1", nil), (":1", nil),
        ]
        for (text, expected) in cases {
            #expect((try? Validation.endpointAddress(text, "target")) == expected, "\(text)")
        }
    }
}
