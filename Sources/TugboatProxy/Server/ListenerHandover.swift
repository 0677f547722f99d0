#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import TugboatCore

/// Seamless upgrade: a second `tugboat serve` binds the same addresses while the first still runs.
///
/// Every listener binds with `SO_REUSEPORT`, so the kernel lets both processes listen on one port
/// (one "reuseport group"). Left alone the kernel would spread new connections over both sockets
/// by hash, and those waiting in the old socket's accept queue when it closes would be reset (unless
/// the machine sets `net.ipv4.tcp_migrate_req`). So the newest listener, once bound, attaches a
/// one-instruction classic BPF program to the group — "send every new connection to socket 1", the
/// second socket, which is itself while an old one is still open — and the old socket's queue
/// empties and stays empty: closing it resets nobody. When the old socket leaves, the index is out
/// of range and the kernel falls back to its hash over the one socket left (the new one).
/// One upgrade at a time: a third process started while two run would send new connections to the
/// second, not to itself.
package enum ListenerHandover {
    /// `SO_REUSEADDR` and `SO_REUSEPORT` on a listener.
    package static func reusingPort(_ bootstrap: ServerBootstrap) -> ServerBootstrap {
        bootstrap
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
    }

    /// Called once the listener is bound: from now on new connections come to this socket.
    /// A failure (a kernel without reuseport BPF) only costs the handover its guarantee: logged.
    package static func steerNewConnections(to channel: Channel, logger: Logger) async {
        guard let provider = channel as? SocketOptionProvider else { return }
        do {
            try await provider.unsafeSetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(soAttachReuseportCBPF),
                value: SocketFilterProgram.secondSocket
            ).get()
        } catch {
            logger.warning("could not steer new connections to the new listener; an upgrade may reset a few connections",
                           metadata: ["error": "\(error)"])
        }
    }

    /// Whether another `tugboat serve` (a listener with `SO_REUSEPORT`, of this user) holds the
    /// address now — an upgrade: it binds with `SO_REUSEPORT` but not without. Probed with bare
    /// `bind`s that never `listen`, so the probe never joins the port's group nor receives a
    /// connection. Anything else (free, or held by another program) says no: the real bind then
    /// succeeds or reports the real problem.
    package static func heldByAnotherTugboat(_ address: HostPort) -> Bool {
        guard let socketAddress = try? ProxyDataPlane.resolve(address) else { return false }
        return probeBind(socketAddress, reusePort: true) == 0 && probeBind(socketAddress, reusePort: false) == EADDRINUSE
    }

    /// 0 when a socket binds to the address, else the errno.
    static func probeBind(_ address: SocketAddress, reusePort: Bool) -> CInt {
        let family = address.protocol.rawValue
        let fd = socket(family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size)) }
        let result = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        return result == 0 ? 0 : errno
    }

    /// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic/socket.h; not in Glibc's module map).
    static let soAttachReuseportCBPF: CInt = 51
}

/// `struct sock_fprog` with its one `struct sock_filter` (linux/filter.h), laid out as the kernel
/// reads them: `{ u16 len; struct sock_filter *filter; }` and `{ u16 code; u8 jt, jf; u32 k; }`.
struct SocketFilterProgram: @unchecked Sendable {
    struct Instruction {
        var code: UInt16
        var jumpTrue: UInt8
        var jumpFalse: UInt8
        var constant: UInt32
    }

    var length: UInt16
    var instructions: UnsafePointer<Instruction>

    /// `BPF_RET | BPF_K` (0x06) with k = 1: "socket 1 of the group". Allocated once, never freed:
    /// the kernel copies it at `setsockopt`.
    static let secondSocket: SocketFilterProgram = {
        let instruction = UnsafeMutablePointer<Instruction>.allocate(capacity: 1)
        instruction.initialize(to: Instruction(code: 0x06, jumpTrue: 0, jumpFalse: 0, constant: 1))
        return SocketFilterProgram(length: 1, instructions: UnsafePointer(instruction))
    }()
}
