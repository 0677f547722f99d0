import FlameGraph
import Foundation
import TugboatCore

/// The last window of one instance's stacks, ready to attach to an incident or a page.
package struct CapturedProfile: Sendable {
    /// The instance.
    package var address: HostPort
    /// Its process id, when known.
    package var pid: Int32?
    /// Why it was taken ("crashed", "unhealthy", "on demand" …; also in the graph's title).
    package var reason: String
    /// Where the samples came from.
    package var source: CaptureSettings.Source
    /// The time the samples start and end (whole slices, so the start may be up to one slice
    /// before `windowEnd - window`). After a death the end is the death (perf, py-spy) or the
    /// end of the last complete fetch (pprof-url).
    package var windowStart: Date
    package var windowEnd: Date
    /// Whether the instance had exited when the snapshot was taken.
    package var instanceExited: Bool
    /// The folded stacks (`frame;frame;frame count`).
    package var stacks: FoldedStacks
    /// Samples in the window (for pprof, the `samples` value, not nanoseconds).
    package var sampleCount: Int
    /// The flame graph (SVG).
    package var svg: [UInt8]
    /// Remarks for a person: gaps, a profiler's complaint, where an old window came from.
    package var notes: [String]

    /// The folded stacks as text, one stack a line.
    package var folded: [UInt8] { stacks.foldedBytes() }
}

/// What a source hands the supervisor: stacks and the span they cover.
struct WindowProfile: Sendable {
    var stacks: FoldedStacks
    var start: Date
    var end: Date
    var instanceExited: Bool
    var sampleCount: Int?
    var countName = "samples"
    var notes: [String] = []
}

/// One instance's capture: started on attach, stopped on detach.
protocol InstanceCapture: Actor {
    /// Starts profiling (spawns the profiler, starts a rolling fetch); does not throw: a failure
    /// shows in the next snapshot.
    func start() async
    /// The last window.
    func snapshot() async throws(CaptureError) -> WindowProfile
    /// Stops every helper and forgets its files.
    func stop() async
}
