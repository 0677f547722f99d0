// FlameGraph: folded stacks -> merged stacks -> layout -> interactive SVG; collapsers; diffs.
