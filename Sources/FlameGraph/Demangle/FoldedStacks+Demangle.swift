extension FoldedStacks {
    /// The same stacks with every Swift frame (`$s…`) in its readable form
    /// (`DemoAppHandler.burnCPU(milliseconds:)`); other frames, and Swift names the runtime
    /// rejects, stay as they are. Each distinct frame is demangled once. Stacks that become equal
    /// (two specialisations of one function) are merged.
    public func demanglingSwiftFrames() -> FoldedStacks {
        var names: [ArraySlice<UInt8>: [UInt8]?] = [:]
        var out = FoldedStacks(merging: merges)
        var stack: [UInt8] = []
        for index in 0..<count {
            stack.removeAll(keepingCapacity: true)
            let frames = self.stack(index).split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
            for (position, frame) in frames.enumerated() {
                if position > 0 { stack.append(UInt8(ascii: ";")) }
                let readable: [UInt8]?
                if let known = names[frame] {
                    readable = known
                } else {
                    readable = SwiftDemangler.isSwiftSymbol(frame)
                        ? SwiftDemangler.simplified(String(decoding: frame, as: UTF8.self)).map { Array($0.utf8) }
                        : nil
                    names[frame] = readable
                }
                if let readable {
                    // A `;` would split the frame: none in Swift names, but be sure.
                    stack.append(contentsOf: readable.map { $0 == UInt8(ascii: ";") ? UInt8(ascii: ":") : $0 })
                } else {
                    stack.append(contentsOf: frame)
                }
            }
            out.add(stack, count: counts[index], baseline: baselines[index])
        }
        return out
    }
}
