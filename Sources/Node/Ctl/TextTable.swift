/// A plain-text table for `warren ctl`'s human output: left-aligned columns two spaces
/// apart, no trailing spaces, and cells longer than `cellCharactersMax` cut with "…".
/// A pure value: `render()` is all it does.
struct TextTable: Sendable, Equatable {
    /// Column titles, printed as the first line (by convention upper case: `ID  NAME`).
    var headers: [String]
    /// Cells by row; a short row is padded with empty cells, a long one is an error.
    var rows: [[String]] = []
    /// Longest cell shown whole; longer ones keep `cellCharactersMax - 1` characters and "…".
    var cellCharactersMax = 60

    init(_ headers: [String], rows: [[String]] = [], cellCharactersMax: Int = 60) {
        precondition(cellCharactersMax >= 2, "a cell must have room for one character and the ellipsis")
        self.headers = headers
        self.rows = rows
        self.cellCharactersMax = cellCharactersMax
    }

    /// Appends one row.
    mutating func add(_ row: [String]) {
        precondition(row.count <= headers.count, "row has \(row.count) cells for \(headers.count) columns")
        rows.append(row)
    }

    /// The table as lines ending in "\n"; the header line even when there are no rows.
    func render() -> String {
        let lines = ([headers] + rows).map { row in
            (0..<headers.count).map { index in index < row.count ? Self.cut(row[index], cellCharactersMax) : "" }
        }
        var widths = Array(repeating: 0, count: headers.count)
        for line in lines {
            for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return lines.map { line in
            var text = ""
            for (index, cell) in line.enumerated() {
                text += cell
                if index < line.count - 1 { text += String(repeating: " ", count: widths[index] - cell.count + 2) }
            }
            return Self.trimmingTrailingSpaces(text) + "\n"
        }.joined()
    }

    /// `text` with control characters shown as spaces (one line per row, whatever the
    /// server sent) and cut to `limit` characters with a final "…".
    static func cut(_ text: String, _ limit: Int) -> String {
        let flat = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        guard flat.count > limit else { return flat }
        return String(flat.prefix(limit - 1)) + "…"
    }

    private static func trimmingTrailingSpaces(_ text: String) -> String {
        var text = text
        while text.last == " " { text.removeLast() }
        return text
    }
}
