import Testing

@testable import Node

private let nov23: Int64 = 1_795_392_000_000  // 2026-11-23T00:00:00Z

@Suite("Ctl times")
struct CtlTimeTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (nov23, "2026-11-23T00:00:00Z"),
        (nov23 + 36_000_999, "2026-11-23T10:00:00Z"),
        (951_782_400_000, "2000-02-29T00:00:00Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59Z"),
        (-1, "1969-12-31T23:59:59Z"),
    ])
    func formatsMillisecondsAsRFC3339UTC(ms: Int64, text: String) {
        #expect(CtlTime.rfc3339(ms: ms) == text)
    }

    @Test(arguments: [
        ("2026-11-23T10:00:00Z", nov23 + 36_000_000),
        ("2026-11-23T10:00:00.250Z", nov23 + 36_000_250),
        ("2026-11-23T10:00:00.5Z", nov23 + 36_000_500),
        ("2026-11-23T10:00:00.123456z", nov23 + 36_000_123),
        ("2026-11-23t10:00:00Z", nov23 + 36_000_000),
        ("2026-11-23T11:30:00+01:30", nov23 + 36_000_000),
        ("2026-11-23T08:00:00-02:00", nov23 + 36_000_000),
        ("1795428000000", nov23 + 36_000_000),
        ("0", 0),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
    ])
    func parsesRFC3339AndMilliseconds(text: String, ms: Int64) {
        #expect(CtlTime.parse(text) == ms)
    }

    @Test(arguments: [
        "", "yesterday", "2026-11-23", "2026-11-23T10:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z", "2026-11-23T10:00:00.Z",
        "2026-11-23T10:00:00+0100", "2026-11-23T10:00:00Zjunk", "-5", "12e3", "2026/11/23T10:00:00Z",
        "9999999999999999",
    ])
    func refusesAnythingElse(text: String) {
        #expect(CtlTime.parse(text) == nil)
    }

    @Test func roundTripsEverySecondFormatThroughParse() {
        for ms in stride(from: Int64(0), to: 4_000_000_000_000, by: 86_399_001 * 13) {
            let whole = ms / 1000 * 1000
            #expect(CtlTime.parse(CtlTime.rfc3339(ms: whole)) == whole)
        }
    }

    @Test func relativeExpiriesReadAsDurations() {
        let now = nov23
        #expect(CtlTime.relative(now + (23 * 3600 + 59 * 60 + 30) * 1000, now: now) == "in 23h 59m")
        #expect(CtlTime.relative(now + (2 * 86_400 + 3 * 3600) * 1000, now: now) == "in 2d 3h")
        #expect(CtlTime.relative(now + 5 * 60_000, now: now) == "in 5m")
        #expect(CtlTime.relative(now + 45_000, now: now) == "in 45s")
        #expect(CtlTime.relative(now, now: now) == "expired")
        #expect(CtlTime.relative(now - 1, now: now) == "expired")
        #expect(CtlTime.expiry(now + 3_600_000, now: now) == "2026-11-23T01:00:00Z (in 1h 0m)")
    }
}
