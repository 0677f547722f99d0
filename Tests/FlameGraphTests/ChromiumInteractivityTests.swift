import Foundation
import Testing
@testable import FlameGraph

/// Drives the embedded JavaScript in headless Chromium (Debian package `chromium`): mouse-over
/// details, click to zoom, reset zoom, and regular-expression search with the matched percentage.
/// Skipped when no Chromium is installed (set CHROMIUM to its path if it is elsewhere).
@Suite struct ChromiumInteractivityTests {
    static var chromium: String? {
        let candidates = [ProcessInfo.processInfo.environment["CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs after the graph's own `init`: acts like a user and writes what it saw into the DOM.
    static let scenario = """
        <script type="text/ecmascript"><![CDATA[
        window.addEventListener("load", function () { setTimeout(function () {
            var out = [], groups = document.getElementById("frames").children, compute = null, io = null;
            for (var i = 0; i < groups.length; i++) {
                var t = groups[i].querySelector("title").textContent;
                if (t.indexOf("compute (") === 0) compute = groups[i];
                if (t.indexOf("io (") === 0) io = groups[i];
            }
            function fire(el, type) { el.dispatchEvent(new MouseEvent(type, { bubbles: true })); }
            fire(compute.querySelector("rect"), "mouseover");
            out.push("details=" + document.getElementById("details").textContent);
            var before = compute.querySelector("rect").getAttribute("width");
            fire(compute.querySelector("rect"), "click");
            out.push("zoomed=" + compute.querySelector("rect").getAttribute("width"));
            out.push("ioHidden=" + io.classList.contains("hide"));
            out.push("parents=" + document.querySelectorAll("#frames > g.parent").length);
            out.push("unzoomShown=" + !document.getElementById("unzoom").classList.contains("hide"));
            fire(document.getElementById("unzoom"), "click");
            out.push("restored=" + (compute.querySelector("rect").getAttribute("width") === before));
            window.prompt = function () { return "compute|leaf"; };
            fire(document.getElementById("search"), "click");
            out.push(document.getElementById("matched").textContent);
            out.push("highlighted=" + document.querySelectorAll('#frames rect[fill="rgb(230,0,230)"]').length);
            var r = document.createElementNS("http://www.w3.org/2000/svg", "text");
            r.setAttribute("id", "testresult");
            r.textContent = out.join("|");
            document.documentElement.appendChild(r);
        }, 50); });
        ]]></script>
        """

    @Test(.enabled(if: chromium != nil), .timeLimit(.minutes(1)))
    func zoomSearchAndDetailsWorkOffline() throws {
        let stacks = try FoldedReader.read(.file(Fixture.path("folded/features.folded"))).stacks
        var svg = String(decoding: FlameGraphRenderer().render(stacks), as: UTF8.self)
        svg = svg.replacingOccurrences(of: "</svg>\n", with: Self.scenario + "\n</svg>\n")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fg-\(UUID().uuidString).svg")
        try Data(svg.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.chromium!)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000", "--dump-dom", file.absoluteString]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let dom = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        let start = try #require(dom.range(of: "id=\"testresult\">"))
        let end = try #require(dom[start.upperBound...].range(of: "</text>"))
        let seen = dom[start.upperBound..<end.lowerBound].split(separator: "|").map(String.init)
        #expect(seen == [
            "details=Function: compute (52 samples, 52.00%)",
            "zoomed=1180.0",
            "ioHidden=true",
            "parents=3",
            "unzoomShown=true",
            "restored=true",
            "Matched: 51.5%",
            "highlighted=2",
        ])
    }
}
