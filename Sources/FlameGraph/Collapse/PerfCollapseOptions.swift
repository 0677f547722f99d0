/// Options of the `perf script` collapser; the same as stackcollapse-perf.pl's.
public struct PerfCollapseOptions: Sendable, Equatable {
    /// `--pid`: append the process ID to the process name (`comm-PID`).
    public var includePID = false
    /// `--tid`: append process and thread IDs (`comm-PID/TID`).
    public var includeTID = false
    /// `--kernel`: annotate kernel frames with `_[k]`.
    public var annotateKernel = false
    /// `--jit`: annotate JIT frames (from `/tmp/perf-PID.map`) with `_[j]`.
    public var annotateJIT = false
    /// `--addrs`: keep the raw address of frames without a symbol.
    public var includeAddresses = false
    /// `--event-filter`: keep only samples of this event; empty means the first event seen.
    public var eventFilter = ""

    /// The defaults of stackcollapse-perf.pl.
    public init() {}

    /// `--all`: both kernel and JIT annotations.
    public var annotateAll: Bool {
        get { annotateKernel && annotateJIT }
        set { annotateKernel = newValue; annotateJIT = newValue }
    }
}
