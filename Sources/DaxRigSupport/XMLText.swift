/// Text for XML (domain definitions, JUnit reports): the five entities escaped, and
/// control characters, which XML 1.0 cannot hold at all (console excerpts carry
/// them), as spaces; newlines and tabs as character references.
public enum XMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default: out.unicodeScalars.append(scalar.value < 0x20 ? " " : scalar)
            }
        }
        return out
    }
}
