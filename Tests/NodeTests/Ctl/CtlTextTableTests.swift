import Testing

@testable import Node

@Suite("Ctl text table")
struct CtlTextTableTests {
    @Test func columnsAlignTwoSpacesApartWithoutTrailingSpaces() {
        var table = TextTable(["ID", "NAME", "STATE"])
        table.add(["t-1", "vendor-support", "open"])
        table.add(["t-22", "x", ""])
        #expect(
            table.render() == """
                ID    NAME            STATE
                t-1   vendor-support  open
                t-22  x

                """)
        for line in table.render().split(separator: "\n") { #expect(line.last != " ") }
    }

    @Test func anEmptyTableIsItsHeaderLine() {
        #expect(TextTable(["ID", "NAME"]).render() == "ID  NAME\n")
    }

    @Test func shortRowsArePaddedWithEmptyCells() {
        var table = TextTable(["A", "B", "C"])
        table.add(["1"])
        #expect(table.render() == "A  B  C\n1\n")
    }

    @Test func longCellsAreCutWithAnEllipsis() {
        var table = TextTable(["K", "V"], cellCharactersMax: 8)
        table.add(["k", "0123456789abc"])
        table.add(["k2", "12345678"])
        #expect(table.render() == "K   V\nk   0123456…\nk2  12345678\n")
        #expect(TextTable.cut("0123456789", 8).count == 8)
    }

    @Test func newlinesAndTabsInCellsBecomeSpaces() {
        #expect(TextTable.cut("a\nb\tc\r\nd", 60) == "a b c d")
    }

    @Test func unicodeCellsAlignByCharacter() {
        var table = TextTable(["NAME", "X"])
        table.add(["café", "1"])
        table.add(["ab", "2"])
        #expect(table.render() == "NAME  X\ncafé  1\nab    2\n")
    }
}
