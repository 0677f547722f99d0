// TugboatCapture: rolling stack-sample capture per backend instance (crash forensics).
//
// `CaptureSupervisor` (actor) attaches one `InstanceCapture` per instance address:
//   perf       PerfCapture     perf record --switch-output=signal, rolling files, perf script + PerfCollapser
//   py-spy     PySpyCapture    chained py-spy record --format raw runs, FoldedReader
//   pprof-url  PprofURLCapture GET /debug/pprof/profile?seconds=N (rolling or on demand), PprofCollapser
//   push       PushCapture     pushes (folded text or pprof) merged inside the window
// and turns the last window into a `CapturedProfile` (folded stacks + SVG from FlameGraphRenderer).
// Profilers are spawned with posix_spawn (empty signal mask, default dispositions, own process
// group) and stopped with SIGINT, so that they write their last file.
import TugboatCore
