/// Options of the renderer; the names and defaults of flamegraph.pl's.
public struct FlameGraphOptions: Sendable {
    /// The narrowest frame drawn: pixels, or a percentage of the total.
    public enum MinWidth: Sendable, Equatable {
        /// Frames narrower than this many pixels are omitted.
        case pixels(Double)
        /// Frames narrower than this percentage of all samples are omitted.
        case percent(Double)

        /// Parses flamegraph.pl's `--minwidth` (`0.1`, `0.5%`); nil when invalid.
        public init?(parsing text: String) {
            let percent = text.hasSuffix("%")
            let number = percent ? String(text.dropLast()) : text
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let value = Double(number) else { return nil }
            self = percent ? .percent(value) : .pixels(value)
        }
    }

    /// `--title`; nil gives "Flame Graph", "Icicle Graph" or "Flame Chart".
    public var title: String?
    /// `--subtitle`: a second heading line, none when empty.
    public var subtitle = ""
    /// `--width`: image width in pixels.
    public var width = 1200
    /// `--height`: height of one frame in pixels.
    public var frameHeight = 16
    /// `--minwidth`: frames narrower than this are not drawn.
    public var minWidth = MinWidth.pixels(0.1)
    /// `--fonttype`.
    public var fontType = "Verdana"
    /// `--fontsize`.
    public var fontSize = 12.0
    /// Average character width relative to the font size (for fitting labels).
    public var fontWidth = 0.59
    /// `--colors`: the palette.
    public var palette = Palette.hot
    /// `--hash`: colours keyed by a hash of the function name.
    public var hashColors = false
    /// `--reverse`: reverse each stack (merge from the leaves).
    public var reverse = false
    /// `--inverted`: an icicle graph (root at the top).
    public var inverted = false
    /// `--flamechart`: keep input order on the x axis and do not merge separated stacks.
    public var flameChart = false
    /// `--negate`: swap the differential hues (blue grew, red shrank).
    public var negate = false
    /// `--countname`: what the counts are ("samples").
    public var countName = "samples"
    /// `--nametype`: what the names are ("Function:").
    public var nameType = "Function:"

    /// flamegraph.pl's defaults.
    public init() {}

    /// The heading actually drawn.
    var effectiveTitle: String {
        if let title, !title.isEmpty { return title }
        if flameChart { return "Flame Chart" }
        return inverted ? "Icicle Graph" : "Flame Graph"
    }
}
