import NIOCore

extension HeaderBlockDecoder {
    mutating func decode(_ block: ByteBuffer, maxListSize: Int, into list: inout HeaderFieldList) throws(Failure) {
        try block.withUnsafeReadableBytes { bytes throws(Failure) in
            try decode(bytes, maxListSize: maxListSize, into: &list)
        }
    }
}
