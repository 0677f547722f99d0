import Foundation
import Testing
import TugboatCore
@testable import TugboatCapture

@Suite("missing tools")
struct AvailabilityTests {
    let bare = ["PATH": "/nonexistent-capture-bin"]

    @Test func missingToolsGiveAClearWarning() {
        #expect(CaptureSupervisor.availabilityProblem(for: .perf, environment: bare)
            == "profiling: perf not found on PATH; install linux-perf (perf) — crash flame graphs are off")
        #expect(CaptureSupervisor.availabilityProblem(for: .pySpy, environment: bare)
            == "profiling: py-spy not found on PATH; install it with pip install py-spy — crash flame graphs are off")
        #expect(CaptureSupervisor.availabilityProblem(for: .pprofURL, environment: bare) == nil)
        #expect(CaptureSupervisor.availabilityProblem(for: .push, environment: bare) == nil)
        #expect(CaptureSupervisor.availabilityProblem(for: .perf, toolPaths: ["perf": "/nonexistent/perf"], environment: bare)?
            .contains("not executable at /nonexistent/perf") == true)
    }

    @Test(arguments: [CaptureSettings.Source.perf, .pySpy])
    func attachWithoutTheToolDoesNotCrash(source: CaptureSettings.Source) async throws {
        let temp = try TempDirectory()
        defer { temp.remove() }
        let supervisor = CaptureSupervisor(
            settings: CaptureSettings(source: source, directory: temp.path), logger: testLogger, environment: bare)
        let address = HostPort(host: "127.0.0.1", port: 9)
        let problem = await supervisor.attach(address: address, pid: getpid())
        #expect(problem?.contains("not found on PATH") == true)
        await #expect(throws: CaptureError.unavailable(problem ?? "")) {
            try await supervisor.snapshot(address: address, reason: "crashed")
        }
        await supervisor.detach(address: address)
        #expect(await supervisor.attached.isEmpty)
    }

    @Test func nativeSourcesNeedAPid() async throws {
        let supervisor = CaptureSupervisor(settings: CaptureSettings(source: .perf), logger: testLogger,
                                           environment: ["PATH": "/usr/bin:/bin"])
        let problem = await supervisor.attach(address: HostPort(host: "127.0.0.1", port: 9), pid: nil)
        if CaptureSupervisor.availabilityProblem(for: .perf, environment: ["PATH": "/usr/bin:/bin"]) == nil {
            #expect(problem?.contains("needs the process id") == true)
        } else {
            #expect(problem != nil)
        }
    }

    @Test func settingsDerivedValues() {
        let settings = CaptureSettings(source: .perf, window: .seconds(15), slice: .seconds(5))
        #expect(settings.slicesKept == 4)
        #expect(CaptureSettings(source: .perf, window: .seconds(2), slice: .seconds(5)).effectiveSlice == .seconds(2))
        #expect(CaptureSettings.Source(rawValue: "py-spy") == .pySpy)
        #expect(CaptureSettings.Source(rawValue: "pprof-url") == .pprofURL)
    }
}
