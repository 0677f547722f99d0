import Dispatch

/// Draws folded stacks as an interactive SVG flame graph, with the frames, widths and depths
/// flamegraph.pl draws for the same input and options.
public struct FlameGraphRenderer: Sendable {
    /// The options in effect.
    public let options: FlameGraphOptions
    /// How many parts the frames are drawn in; nil: one per free processor for large graphs
    /// (``parts(_:)``). Tests set it to compare parallel and serial drawing.
    var drawingParts: Int?

    static let xpad = 10.0
    static let framePad = 1.0

    /// Makes a renderer.
    public init(options: FlameGraphOptions = FlameGraphOptions()) {
        self.options = options
    }

    /// The frames that would be drawn (after `--minwidth` pruning), root first, by depth then x.
    public func frames(of stacks: FoldedStacks) -> [Frame] {
        let prepared = prepare(stacks)
        return visibleFrames(layout(prepared))
    }

    private func layout(_ stacks: FoldedStacks) -> FrameLayout {
        let usable = Self.usableWidth(options)
        let minWidth = options.minWidth
        return FrameLayout(stacks, flameChart: options.flameChart) { total in
            switch minWidth {
            case .percent(let p): return total * p / 100
            case .pixels(let px): return px / (usable / total)
            }
        }
    }

    /// Renders `stacks` as SVG bytes. Empty input gives a small SVG saying there is nothing to draw.
    public func render(_ stacks: FoldedStacks) -> [UInt8] {
        let prepared = prepare(stacks)
        let layout = layout(prepared)
        guard layout.total > 0 else { return renderEmpty() }
        let frames = visibleFrames(layout)
        return draw(frames, layout: layout, stacks: prepared)
    }

    /// Applies `--reverse` (each stack's frames reversed).
    private func prepare(_ stacks: FoldedStacks) -> FoldedStacks {
        guard options.reverse else { return stacks }
        var reversed = FoldedStacks(merging: stacks.merges)
        var names: [Range<Int>] = []
        for i in 0..<stacks.count {
            let bytes = Array(stacks.stack(i))
            names.removeAll(keepingCapacity: true)
            bytes.withUnsafeBufferPointer { FrameLayout.split($0, 0..<bytes.count, into: &names) }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            for (n, r) in names.reversed().enumerated() {
                if n > 0 { out.append(ASCII.semicolon) }
                out.append(contentsOf: bytes[r])
            }
            reversed.add(out, count: stacks.counts[i], baseline: stacks.baselines[i])
        }
        return reversed
    }

    /// The image's width less its padding: what the total time is spread over.
    static func usableWidth(_ options: FlameGraphOptions) -> Double { Double(options.width) - 2 * xpad }

    private func visibleFrames(_ layout: FrameLayout) -> [Frame] {
        guard layout.total > 0 else { return [] }
        var kept = layout.frames
        kept.sort { $0.depth != $1.depth ? $0.depth < $1.depth : $0.start < $1.start }
        return kept
    }

    private func renderEmpty() -> [UInt8] {
        var w = ByteWriter(capacity: 1024)
        let height = options.fontSize * 5
        header(&w, height: height, interactive: false)
        w.raw("<text x=\"")
        w.fixed(Double(options.width / 2), 2)
        w.raw("\" y=\"")
        w.number(options.fontSize * 2)
        w.raw("\" text-anchor=\"middle\" font-family=\"")
        w.escaped(options.fontType)
        w.raw("\" font-size=\"")
        w.number(options.fontSize)
        w.raw("\">No stack counts found: nothing to draw.</text>\n</svg>\n")
        return w.bytes
    }

    private func header(_ w: inout ByteWriter, height: Double, interactive: Bool = true) {
        w.raw("<?xml version=\"1.0\" standalone=\"no\"?>\n")
        w.raw("<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n")
        w.raw("<svg version=\"1.1\" width=\"")
        w.number(Double(options.width))
        w.raw("\" height=\"")
        w.number(height)
        w.raw(interactive ? "\" onload=\"init(evt)\" viewBox=\"0 0 " : "\" viewBox=\"0 0 ")
        w.number(Double(options.width))
        w.raw(" ")
        w.number(height)
        w.raw("\" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n")
        w.raw("<!-- Flame graph drawn by Tugboat (the layout of flamegraph.pl, https://github.com/brendangregg/FlameGraph). -->\n")
    }

    private func draw(_ frames: [Frame], layout: FrameLayout, stacks: FoldedStacks) -> [UInt8] {
        let o = options
        let fs = o.fontSize
        let geometry = FrameGeometry(options: o, depthMax: frames.reduce(0) { max($0, $1.depth) },
                                     timeMax: layout.total, maxDelta: layout.maxDelta)
        let imageHeight = geometry.imageHeight, ypad2 = geometry.ypad2
        var w = ByteWriter(capacity: 16_384 + frames.count * 220)
        header(&w, height: imageHeight)
        let (bg1, bg2) = o.palette.background
        w.raw("<defs>\n\t<linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\" >\n\t\t<stop stop-color=\"")
        w.raw(bg1)
        w.raw("\" offset=\"5%\" />\n\t\t<stop stop-color=\"")
        w.raw(bg2)
        w.raw("\" offset=\"95%\" />\n\t</linearGradient>\n</defs>\n")
        InteractiveScript.write(&w, options: o)
        w.raw("<rect x=\"0.0\" y=\"0\" width=\"")
        w.fixed(Double(o.width), 1)
        w.raw("\" height=\"")
        w.fixed(imageHeight, 1)
        w.raw("\" fill=\"url(#background)\" />\n")
        let center = Double(o.width / 2)
        text(&w, id: "title", x: center, y: fs * 2, o.effectiveTitle)
        if !o.subtitle.isEmpty { text(&w, id: "subtitle", x: center, y: fs * 4, o.subtitle) }
        text(&w, id: "details", x: Self.xpad, y: imageHeight - ypad2 / 2, " ")
        text(&w, id: "unzoom", x: Self.xpad, y: fs * 2, "Reset Zoom", extra: " class=\"hide\"")
        text(&w, id: "search", x: Double(o.width) - Self.xpad - 100, y: fs * 2, "Search")
        text(&w, id: "ignorecase", x: Double(o.width) - Self.xpad - 16, y: fs * 2, "ic")
        text(&w, id: "matched", x: Double(o.width) - Self.xpad - 100, y: imageHeight - ypad2 / 2, " ")
        w.raw("<g id=\"frames\">\n")
        stacks.withStorage { all, _ in
            let parts = max(1, min(drawingParts ?? Self.parts(frames.count), frames.count))
            if parts == 1 {
                drawFrames(frames[...], names: all, geometry: geometry, into: &w)
                return
            }
            // Each part of the frames drawn into its own buffer on its own core, then joined in order.
            let chunk = (frames.count + parts - 1) / parts
            let outputs = UnsafeMutableBufferPointer<ByteWriter>.allocate(capacity: parts)
            outputs.initialize(repeating: ByteWriter(capacity: 0))
            defer { outputs.deinitialize().deallocate() }
            nonisolated(unsafe) let shared = (names: all, outputs: outputs)
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let range = i * chunk..<min(frames.count, (i + 1) * chunk)
                var part = ByteWriter(capacity: range.count * 220)
                drawFrames(frames[range], names: shared.names, geometry: geometry, into: &part)
                shared.outputs[i] = part
            }
            for part in outputs { w.bytes.append(contentsOf: part.bytes) }
        }
        w.raw("</g>\n</svg>\n")
        return w.bytes
    }

    /// Frames below this many are drawn on one thread (a thread's start costs more than they take).
    static let parallelFrames = 2_000

    /// How many parts to draw `frames` frames in: one per free processor, none smaller than half
    /// of ``parallelFrames``.
    static func parts(_ frames: Int) -> Int {
        guard frames >= parallelFrames else { return 1 }
        return max(1, min(Processors.free, frames / (parallelFrames / 2)))
    }

    /// What every frame's position and text depend on, worked out once per graph.
    struct FrameGeometry: Sendable {
        let options: FlameGraphOptions
        let imageHeight, timeMax, widthPerTime, maxDelta, charWidth: Double
        let ypad1, ypad2, frameHeight: Double

        /// flamegraph.pl's paddings: `ypad1` above the frames (the title), `ypad2` below them (the
        /// details line), and one more font's worth for a subtitle.
        init(options: FlameGraphOptions, depthMax: Int, timeMax: Double, maxDelta: Double) {
            let fs = options.fontSize
            self.options = options
            self.timeMax = timeMax
            self.maxDelta = maxDelta
            ypad1 = fs * 3
            ypad2 = fs * 2 + 10
            frameHeight = Double(options.frameHeight)
            imageHeight = Double(depthMax + 1) * frameHeight + ypad1 + ypad2 + (options.subtitle.isEmpty ? 0 : fs * 2)
            widthPerTime = FlameGraphRenderer.usableWidth(options) / timeMax
            charWidth = fs * options.fontWidth
        }
    }

    /// Appends each frame's `<g>` (title, rectangle, label) to `w`; `names` holds the stacks' bytes.
    private func drawFrames(_ frames: ArraySlice<Frame>, names all: UnsafeBufferPointer<UInt8>, geometry g: FrameGeometry,
                            into w: inout ByteWriter) {
        let o = g.options
        var label = FrameLabel()
        for frame in frames {
            let isRoot = frame.depth == 0
            let end = isRoot ? g.timeMax : frame.end
            let x1 = Self.xpad + frame.start * g.widthPerTime
            let x2 = Self.xpad + end * g.widthPerTime
            let y1, y2: Double
            if o.inverted {
                y1 = g.ypad1 + Double(frame.depth) * g.frameHeight
                y2 = g.ypad1 + Double(frame.depth + 1) * g.frameHeight - Self.framePad
            } else {
                y1 = g.imageHeight - g.ypad2 - Double(frame.depth + 1) * g.frameHeight + Self.framePad
                y2 = g.imageHeight - g.ypad2 - Double(frame.depth) * g.frameHeight
            }
            let name = ArraySlice(UnsafeBufferPointer(rebasing: all[frame.name]))
            let samples = (end - frame.start).rounded(.toNearestOrEven)
            w.raw("<g><title>")
            if isRoot {
                w.raw("all (")
                w.count(end - frame.start)
                w.raw(" ")
                w.escaped(o.countName)
                w.raw(", 100%)")
            } else {
                w.escaped(FrameLabel.stripAnnotation(name))
                w.raw(" (")
                w.count(end - frame.start)
                w.raw(" ")
                w.escaped(o.countName)
                w.raw(", ")
                w.fixed(100 * samples / g.timeMax, 2)
                w.raw("%")
                if let delta = frame.delta {
                    let d = o.negate && delta != 0 ? -delta : delta
                    w.raw("; ")
                    if d > 0 { w.raw("+") }
                    w.fixed(100 * d / g.timeMax, 2)
                    w.raw("%")
                }
                w.raw(")")
            }
            w.raw("</title><rect x=\"")
            let x1s = roundedTenth(x1), x2s = roundedTenth(x2)
            w.fixed(x1, 1)
            w.raw("\" y=\"")
            w.number(y1)
            w.raw("\" width=\"")
            w.fixed(x2s - x1s, 1)
            w.raw("\" height=\"")
            w.fixed(y2 - y1, 1)
            w.raw("\" fill=\"")
            color(for: name, frame: frame, maxDelta: g.maxDelta).append(to: &w.bytes)
            w.raw("\" rx=\"2\" ry=\"2\" />\n<text x=\"")
            w.fixed(x1 + 3, 2)
            w.raw("\" y=\"")
            w.number(3 + (y1 + y2) / 2)
            w.raw("\">")
            let chars = Int((x2 - x1) / g.charWidth)
            if chars >= 3 { label.append(FrameLabel.stripAnnotation(name), chars: chars, to: &w) }
            w.raw("</text></g>\n")
        }
    }

    /// The value `sprintf "%0.1f"` prints, as a number (for the width, computed from the
    /// rounded ends as flamegraph.pl does).
    private func roundedTenth(_ x: Double) -> Double {
        if let tenths = NumberFormat.roundedFixed(x, digits: 1) { return Double(tenths) / 10 }
        var digits: [UInt8] = []
        NumberFormat.appendFixed(x, digits: 1, to: &digits)
        return Double(String(decoding: digits, as: UTF8.self)) ?? x
    }

    private func color(for name: ArraySlice<UInt8>, frame: Frame, maxDelta: Double) -> RGB {
        if name.count == 2, name.first == 0x2D, name.last == 0x2D { return RGB(160, 160, 160) }
        if name.count == 1, name.first == 0x2D { return RGB(200, 200, 200) }
        if let delta = frame.delta {
            return Palette.differential(delta: delta, maxDelta: maxDelta, negate: options.negate)
        }
        return options.palette.color(forUTF8: name, hashByName: options.hashColors)
    }

    private func text(_ w: inout ByteWriter, id: String, x: Double, y: Double, _ content: String, extra: String = "") {
        w.raw("<text id=\"")
        w.raw(id)
        w.raw("\" x=\"")
        w.fixed(x, 2)
        w.raw("\" y=\"")
        w.number(y)
        w.raw("\"")
        w.raw(extra)
        w.raw(">")
        w.escaped(content)
        w.raw("</text>\n")
    }
}
