import FlameGraph
import Foundation
import TugboatCore

/// Profiles the application posts itself: folded stacks text, a pprof body (gzipped or not), or
/// stackprof's JSON (a Ruby app's `StackProf.results` with raw samples).
/// A snapshot merges the pushes received in the window; after a death the pushes simply stop.
actor PushCapture: InstanceCapture {
    private var window: PushWindow
    private let now: @Sendable () -> Date
    private let maximumDecompressedSize: Int
    private var lastInvalid = 0

    init(window: Duration, maximumDecompressedSize: Int = PprofCollapser.defaultMaximumDecompressedSize,
         now: @escaping @Sendable () -> Date) {
        self.window = PushWindow(window: window)
        self.maximumDecompressedSize = maximumDecompressedSize
        self.now = now
    }

    func start() async {}

    /// Takes one push; the body is stackprof JSON when it starts with `{`, pprof when it starts with gzip's magic or the content type says
    /// protobuf/pprof/octet-stream, folded text otherwise.
    func receive(body: [UInt8], contentType: String?) throws(CaptureError) {
        let type = (contentType ?? "").lowercased()
        let gzip = body.count >= 2 && body[0] == 0x1f && body[1] == 0x8b
        // By the body, not the content type (clients label folded text `application/json` too).
        if body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{") {
            // stackprof's own JSON (StackProf.results, raw: true), as examples/ruby/tugboat_stackprof.rb pushes it.
            let stacks: FoldedStacks
            do {
                stacks = try StackprofCollapser.collapse(.bytes(body))
            } catch {
                throw .badPush("profiling: the pushed stackprof JSON cannot be read: \(error)")
            }
            window.add(stacks, samples: Int(stacks.total), at: now())
        } else if gzip || type.contains("protobuf") || type.contains("pprof") || type.contains("octet-stream") {
            do {
                let profile = try PprofProfile(body, maximumDecompressedSize: maximumDecompressedSize)
                window.add(profile.stacks, samples: profile.sampleCount, at: now())
            } catch let error as DecompressionLimitExceeded {
                throw .tooLarge("profiling: the pushed profile: \(error) (profiling.max-decompressed)")
            } catch {
                throw .badPush("profiling: the pushed pprof profile cannot be read: \(error)")
            }
        } else {
            guard let reader = try? FoldedReader.read(.bytes(body)) else {
                throw .badPush("profiling: the pushed body cannot be read")
            }
            guard reader.stacks.count > 0 || reader.invalidLines == 0 else {
                throw .badPush("profiling: the pushed body is neither folded stacks (`a;b;c 12` lines) nor a pprof profile")
            }
            lastInvalid = reader.invalidLines
            window.add(reader.stacks, samples: Int(reader.stacks.total), at: now())
        }
    }

    func snapshot() async throws(CaptureError) -> WindowProfile {
        let time = now()
        window.prune(now: time)
        let merged = window.merged(now: time)
        guard merged.pushes > 0 else {
            throw .noProfile("profiling: nothing was pushed in the last \(window.window)")
        }
        var notes = ["\(merged.pushes) pushes merged"]
        if lastInvalid > 0 { notes.append("the last push had \(lastInvalid) lines that could not be parsed") }
        return WindowProfile(
            stacks: merged.stacks, start: time.addingTimeInterval(-window.window.seconds), end: time,
            instanceExited: false, sampleCount: merged.samples, notes: notes)
    }

    func stop() async {
        window = PushWindow(window: window.window)
    }
}
