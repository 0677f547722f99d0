import Testing
@testable import FlameGraph

/// Swift frames of a perf capture, as the runtime's demangler reads them and as a person should.
@Suite("Swift demangling (swift_demangle, simplified)")
struct SwiftDemanglerTests {
    @Test("real symbols from Tugboat's own binary read like source", arguments: [
        ("$s7tugboat14DemoAppHandlerC7burnCPU12millisecondsS2i_tFTf4nd_n", "DemoAppHandler.burnCPU(milliseconds:)"),
        ("$s7tugboat14DemoAppHandlerC7burnCPU12millisecondsS2i_tF", "DemoAppHandler.burnCPU(milliseconds:)"),
        ("$s12TugboatProxy11HTTP2StreamC7receiveyy8NIOHTTP20C5FrameV0G7PayloadOF", "HTTP2Stream.receive(_:)"),
        ("$s12TugboatProxy11HTTP2StreamC11requestMoreyyF", "HTTP2Stream.requestMore()"),
        ("$sSS8UTF8ViewV8NIOHPACKE32compareCaseInsensitiveASCIIBytes2toSbAB_tF", "String.UTF8View.compareCaseInsensitiveASCIIBytes(to:)"),
        ("$s12TugboatProxy11HeadScannerO7headers_4from6limits4intoySW_SiAA0C6LimitsVSayAA11HeaderFieldVGztAA0C5ErrorVYKFZTf4nnnnd_nTf4nnxn_n",
         "HeadScanner.headers(_:from:limits:into:)"),
        ("$s8NIOPosix19SelectableEventLoopC3runyyKFyyKXEfU0_yAA08SelectorC0VyAA15NIORegistrationVGXEfU_",
         "closure #1 in closure #2 in SelectableEventLoop.run()"),
    ])
    func simplified(symbol: String, expected: String) {
        #expect(SwiftDemangler.simplified(symbol) == expected, "\(SwiftDemangler.demangle(symbol) ?? "nil")")
    }

    @Test("the full form is the runtime's")
    func full() {
        #expect(SwiftDemangler.demangle("$s7tugboat14DemoAppHandlerC7burnCPU12millisecondsS2i_tF")
                == "tugboat.DemoAppHandler.burnCPU(milliseconds: Swift.Int) -> Swift.Int")
    }

    @Test("what is not Swift, or what the demangler rejects, is left alone", arguments: [
        "main", "__libc_start_main", "_ZN4core3fmt5write17h0123456789abcdefE", "$", "$s", "$sZZZ not a symbol", "",
    ])
    func notSwift(symbol: String) {
        #expect(SwiftDemangler.simplified(symbol) == nil)
    }
}
