/// The style sheet and the offline JavaScript embedded in every flame graph: details on
/// mouse-over, click to zoom, reset zoom, and regular-expression search with the matched
/// percentage.
enum InteractiveScript {
    static func write(_ w: inout ByteWriter, options: FlameGraphOptions) {
        w.raw("<style type=\"text/css\">\n\ttext { font-family:")
        w.escaped(options.fontType)
        w.raw("; font-size:")
        w.number(options.fontSize)
        w.raw("px; fill:rgb(0,0,0); }\n")
        w.raw("""
            \t#search, #ignorecase { opacity:0.1; cursor:pointer; }
            \t#search:hover, #search.show, #ignorecase:hover, #ignorecase.show { opacity:1; }
            \t#subtitle { text-anchor:middle; fill:rgb(160,160,160); }
            \t#title { text-anchor:middle; font-size:
            """)
        w.number(options.fontSize + 5)
        w.raw("""
            px; }
            \t#unzoom { cursor:pointer; }
            \t#frames > *:hover { stroke:black; stroke-width:0.5; cursor:pointer; }
            \t.hide { display:none; }
            \t.parent { opacity:0.5; }
            </style>
            <script type="text/ecmascript">
            <![CDATA[
            "use strict";
            var fg = {
            \txpad: 10,
            \tcharWidth:
            """)
        w.raw(" ")
        w.number(options.fontSize * options.fontWidth)
        w.raw(",\n\tinverted: ")
        w.raw(options.inverted ? "true" : "false")
        w.raw(",\n\tnameType: \"")
        jsString(&w, options.nameType)
        w.raw("\",\n\tsearchColor: \"rgb(230,0,230)\"\n};\n")
        w.raw(body)
        w.raw("]]>\n</script>\n")
    }

    /// Escapes a string for a double-quoted JavaScript literal inside CDATA.
    private static func jsString(_ w: inout ByteWriter, _ s: String) {
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": w.raw("\\\"")
            case "\\": w.raw("\\\\")
            case "<": w.raw("\\x3c")
            case ">": w.raw("\\x3e")
            case "\n": w.raw("\\n")
            default:
                if scalar.value < 0x20 { w.raw("\\x20") } else { w.raw(String(scalar)) }
            }
        }
    }

    /// The program: frames are read once at load; zoom and search work on those numbers.
    private static let body: StaticString = """
        var frames = [], svgWidth = 0, details, searchBtn, unzoomBtn, matchedText, caseBtn;
        var ignoreCase = false, currentTerm = null;
        function init(evt) {
        \tvar svg = document.getElementsByTagName("svg")[0];
        \tsvgWidth = parseFloat(svg.getAttribute("width"));
        \tdetails = document.getElementById("details").firstChild;
        \tsearchBtn = document.getElementById("search");
        \tunzoomBtn = document.getElementById("unzoom");
        \tmatchedText = document.getElementById("matched");
        \tcaseBtn = document.getElementById("ignorecase");
        \tvar groups = document.getElementById("frames").children;
        \tfor (var i = 0; i < groups.length; i++) {
        \t\tvar g = groups[i], r = g.querySelector("rect"), t = g.querySelector("text");
        \t\tvar title = g.querySelector("title").textContent;
        \t\tvar f = { g: g, rect: r, text: t, title: title,
        \t\t\tname: title.replace(/ \\([^()]*\\)$/, ""),
        \t\t\tx: parseFloat(r.getAttribute("x")), w: parseFloat(r.getAttribute("width")),
        \t\t\ty: parseFloat(r.getAttribute("y")), fill: r.getAttribute("fill"),
        \t\t\tx0: r.getAttribute("x"), w0: r.getAttribute("width"), tx0: t.getAttribute("x"), label0: t.textContent };
        \t\tg.fgIndex = i;
        \t\tframes.push(f);
        \t}
        \tdocument.addEventListener("click", onClick, false);
        \tdocument.addEventListener("mouseover", function (e) {
        \t\tvar f = frameOf(e.target);
        \t\tif (f) details.nodeValue = fg.nameType + " " + f.title;
        \t}, false);
        \tdocument.addEventListener("mouseout", function (e) {
        \t\tif (frameOf(e.target)) details.nodeValue = " ";
        \t}, false);
        \tdocument.addEventListener("keydown", function (e) {
        \t\tif (e.keyCode === 114 || (e.ctrlKey && e.keyCode === 70)) { e.preventDefault(); searchPrompt(); }
        \t\telse if (e.ctrlKey && e.keyCode === 73) { e.preventDefault(); toggleCase(); }
        \t}, false);
        }
        function frameOf(node) {
        \twhile (node && node.parentNode) {
        \t\tif (node.parentNode.id === "frames") return frames[node.fgIndex];
        \t\tnode = node.parentNode;
        \t}
        \treturn null;
        }
        function onClick(e) {
        \tvar f = frameOf(e.target);
        \tif (f) { zoom(f); return; }
        \tvar id = e.target.id;
        \tif (id === "unzoom") unzoom();
        \telse if (id === "search") searchPrompt();
        \telse if (id === "ignorecase") toggleCase();
        }
        function place(f, x, w) {
        \tf.rect.setAttribute("x", x.toFixed(1));
        \tf.rect.setAttribute("width", w.toFixed(1));
        \tf.text.setAttribute("x", (x + 3).toFixed(2));
        \tvar chars = Math.floor(w / fg.charWidth), label = "";
        \tvar name = f.name.replace(/_\\[[kwij]\\]$/, "");
        \tif (chars >= 3) label = name.length > chars ? name.substring(0, chars - 2) + ".." : name;
        \tf.text.textContent = label;
        }
        function isAncestorRow(f, of) { return fg.inverted ? f.y < of.y : f.y > of.y; }
        function zoom(target) {
        \tvar x0 = target.x, x1 = target.x + target.w, eps = 0.0001;
        \tvar full = svgWidth - 2 * fg.xpad, ratio = full / target.w;
        \tunzoomBtn.classList.remove("hide");
        \tfor (var i = 0; i < frames.length; i++) {
        \t\tvar f = frames[i], g = f.g;
        \t\tg.classList.remove("parent");
        \t\tg.classList.remove("hide");
        \t\tif (isAncestorRow(f, target)) {
        \t\t\tif (f.x <= x0 + eps && f.x + f.w + eps >= x1) { g.classList.add("parent"); place(f, fg.xpad, full); }
        \t\t\telse g.classList.add("hide");
        \t\t} else if (f.x + eps >= x0 && f.x + f.w <= x1 + eps) {
        \t\t\tplace(f, fg.xpad + (f.x - x0) * ratio, f.w * ratio);
        \t\t} else g.classList.add("hide");
        \t}
        }
        function unzoom() {
        \tunzoomBtn.classList.add("hide");
        \tfor (var i = 0; i < frames.length; i++) {
        \t\tvar f = frames[i];
        \t\tf.g.classList.remove("parent");
        \t\tf.g.classList.remove("hide");
        \t\tf.rect.setAttribute("x", f.x0);
        \t\tf.rect.setAttribute("width", f.w0);
        \t\tf.text.setAttribute("x", f.tx0);
        \t\tf.text.textContent = f.label0;
        \t}
        }
        function toggleCase() {
        \tignoreCase = !ignoreCase;
        \tif (ignoreCase) caseBtn.classList.add("show"); else caseBtn.classList.remove("show");
        \tif (currentTerm !== null) search(currentTerm);
        }
        function searchPrompt() {
        \tif (currentTerm === null) {
        \t\tvar term = prompt("Enter a search term (regexp allowed, eg: ^ext4_)" +
        \t\t\t(ignoreCase ? ", ignoring case" : "") + "\\nPress Ctrl-i to toggle case sensitivity", "");
        \t\tif (term !== null && term !== "") search(term);
        \t} else resetSearch();
        }
        function resetSearch() {
        \tcurrentTerm = null;
        \tfor (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
        \tsearchBtn.classList.remove("show");
        \tsearchBtn.firstChild.nodeValue = "Search";
        \tmatchedText.firstChild.nodeValue = " ";
        }
        function search(term) {
        \tvar re;
        \ttry { re = new RegExp(term, ignoreCase ? "i" : ""); } catch (err) { matchedText.firstChild.nodeValue = "Invalid regexp"; return; }
        \tcurrentTerm = term;
        \tvar matches = [], total = 0;
        \tfor (var i = 0; i < frames.length; i++) {
        \t\tvar f = frames[i];
        \t\tif (f.w > total) total = f.w;
        \t\tif (re.test(f.name)) { f.rect.setAttribute("fill", fg.searchColor); matches.push(f); }
        \t\telse f.rect.setAttribute("fill", f.fill);
        \t}
        \tmatches.sort(function (a, b) { return a.x - b.x || b.w - a.w; });
        \tvar covered = 0, end = -1;
        \tfor (var j = 0; j < matches.length; j++) {
        \t\tvar m = matches[j];
        \t\tif (m.x >= end - 0.0001) { covered += m.w; end = m.x + m.w; }
        \t}
        \tsearchBtn.classList.add("show");
        \tsearchBtn.firstChild.nodeValue = "Reset Search";
        \tvar pct = total > 0 ? 100 * covered / total : 0;
        \tmatchedText.firstChild.nodeValue = "Matched: " + (pct === 100 ? "100" : pct.toFixed(1)) + "%";
        }

        """
}
