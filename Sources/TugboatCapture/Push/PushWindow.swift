import FlameGraph
import Foundation
import TugboatCore

/// The pushes of one instance inside the window (pure: the caller says what time it is).
struct PushWindow: Sendable {
    struct Entry: Sendable {
        var received: Date
        var stacks: FoldedStacks
        var samples: Int
    }

    private(set) var entries: [Entry] = []
    let window: Duration

    init(window: Duration) {
        self.window = window
    }

    /// Adds a push received at `now` and drops those that fell out of the window.
    mutating func add(_ stacks: FoldedStacks, samples: Int, at now: Date) {
        entries.append(Entry(received: now, stacks: stacks, samples: samples))
        prune(now: now)
    }

    mutating func prune(now: Date) {
        let from = now.addingTimeInterval(-window.seconds)
        entries.removeAll { $0.received < from }
    }

    /// The pushes received in `[now - window, now]`, merged, and when the first came.
    func merged(now: Date) -> (stacks: FoldedStacks, samples: Int, first: Date?, pushes: Int) {
        let from = now.addingTimeInterval(-window.seconds)
        var stacks = FoldedStacks()
        var samples = 0
        var first: Date?
        var pushes = 0
        for entry in entries where entry.received >= from && entry.received <= now {
            stacks.merge(entry.stacks)
            samples += entry.samples
            first = first ?? entry.received
            pushes += 1
        }
        return (stacks, samples, first, pushes)
    }
}
