import Foundation

/// How `warren ctl` prints answers: `--json` re-emits the API's JSON pretty-printed with
/// sorted keys (stable for scripts); otherwise a table or a short sentence on stdout.
/// Errors never come here: they are thrown and printed as one line on stderr.
enum CtlOutput {
    /// `bytes` (a JSON document) pretty-printed with sorted keys and a final newline.
    static func prettyJSON(_ bytes: [UInt8]) throws(CtlError) -> String {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) } catch {
            throw CtlError("the server's answer is not JSON: \(error.localizedDescription)")
        }
        return prettyJSON(object: object)
    }

    /// A JSON value (from `JSONSerialization`) pretty-printed with sorted keys.
    static func prettyJSON(object: Any) -> String {
        do {
            let data = try JSONSerialization.data(
                withJSONObject: object,
                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
            return String(decoding: data, as: UTF8.self) + "\n"
        } catch {
            preconditionFailure("a value read by JSONSerialization writes back: \(error)")
        }
    }

    /// Decodes the API's answer as `T` (the server's own record types), naming what was
    /// expected when the answer does not fit.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(CtlError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw CtlError("unexpected answer from the server (wanted \(type)): \(error)")
        }
    }

    /// The answer as a JSON object.
    static func object(_ bytes: [UInt8]) throws(CtlError) -> [String: Any] {
        guard let data = try? JSONSerialization.jsonObject(with: Data(bytes)), let object = data as? [String: Any]
        else {
            throw CtlError("unexpected answer from the server: not a JSON object")
        }
        return object
    }

    /// Writes `text` to stdout as is.
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// For commands whose answer is one object: `--json` prints it, else `human(object)`.
    static func emit<T: Decodable>(
        _ bytes: [UInt8], _ args: ParsedArguments, as type: T.Type, _ human: (T) -> String
    ) throws(CtlError) {
        if args.json { return write(try prettyJSON(bytes)) }
        write(human(try decode(type, bytes)))
    }

    /// For changes whose answer the human output does not need: `--json` prints the API's
    /// answer, else `line`.
    static func emit(_ bytes: [UInt8], _ args: ParsedArguments, line: String) throws(CtlError) {
        write(args.json ? try prettyJSON(bytes) : line + "\n")
    }

    /// "-" for a missing value, so table columns never collapse.
    static func orDash(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "-" }
        return value
    }
}
