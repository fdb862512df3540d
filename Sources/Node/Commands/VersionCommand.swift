import Foundation
import Tunnel

/// `warren version`: the program's version.
enum VersionCommand: WarrenCommand {
    static let version = "0.1.0"

    static let spec = CommandSpec(path: ["version"], summary: "Print warren's version.")

    static func run(_ args: ParsedArguments) throws -> Int32 {
        if args.json {
            print(#"{"version":"\#(version)","wireVersion":"\#(TunnelModule.version)"}"#)
        } else {
            print("warren \(version) (wire \(TunnelModule.version))")
        }
        return 0
    }
}
