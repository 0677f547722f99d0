#ifndef TUGBOAT_CPROXYIO_H
#define TUGBOAT_CPROXYIO_H

#include <stddef.h>
#include <sys/types.h>

/// Opens a non-blocking, close-on-exec pipe into fds[0] (read end) and fds[1] (write end) and asks
/// for `size` bytes of capacity (0: the kernel's default). Returns the capacity, or -1 with errno.
int tugboat_pipe_open(int fds[2], int size);

/// Moves up to `length` bytes from `from` to `to` inside the kernel (one of them must be a pipe),
/// without blocking. Returns the bytes moved, 0 at end of input, or -1 with errno (EAGAIN: nothing
/// to move or no room right now).
ssize_t tugboat_splice(int from, int to, size_t length);

/// Sends `count` buffers to a socket without blocking, in one sendmsg(2) with MSG_NOSIGNAL (a
/// closed peer is EPIPE, never SIGPIPE). Returns the bytes the socket took (possibly fewer than
/// offered), or -1 with errno (EAGAIN: none right now).
struct iovec;
ssize_t tugboat_sendv(int fd, const struct iovec *buffers, int count);

/// The same for one buffer: send(2), the kernel's shorter path.
ssize_t tugboat_send(int fd, const void *bytes, size_t length);

/// A second, close-on-exec descriptor for the same open socket, or -1 with errno.
int tugboat_dup(int fd);

/// An epoll instance (close-on-exec) watching parked connections, or -1 with errno.
int tugboat_watch_open(void);

/// Watches `fd` for one event: data, end of input, hang-up or error (EPOLLONESHOT). 0 or -1.
int tugboat_watch_add(int watch, int fd);

/// Stops watching `fd`. 0 or -1.
int tugboat_watch_remove(int watch, int fd);

/// Waits up to `timeout_ms` for watched descriptors to have an event; writes up to `max` of them
/// to `fds`. Returns how many, 0 on timeout, or -1 with errno (EINTR is returned as 0).
int tugboat_watch_wait(int watch, int *fds, int max, int timeout_ms);

/// Gives the heap's free pages back to the system (glibc's malloc_trim): after many connections
/// were parked, the memory their channels held is free but still counted as the process's.
void tugboat_trim_heap(void);

/// OCSP stapling on a TLS server context of swift-nio-ssl (BoringSSL's `SSL_CTX *`), which has no
/// API of its own for it. The callback runs during a handshake whose client asked for the
/// certificate's status, after the certificate was chosen; it staples with `tugboat_tls_staple`
/// and returns 0 (SSL_TLSEXT_ERR_OK) or 3 (SSL_TLSEXT_ERR_NOACK: nothing to staple).
typedef int (*tugboat_tls_status_callback)(void *ssl, void *arg);
int tugboat_tls_set_status_callback(void *ssl_ctx, tugboat_tls_status_callback callback, void *arg);

/// The server name the client asked for in the handshake (SNI), or NULL.
const char *tugboat_tls_server_name(const void *ssl);

/// Staples `der` (a DER OCSP response) to this handshake's certificate. 1 on success.
int tugboat_tls_staple(void *ssl, const unsigned char *der, size_t length);

/// A turn's sends to several sockets in one system call (io_uring; see SendBatch.swift). Opened once
/// per event loop thread; NULL with errno when io_uring is not there or not allowed (an old kernel,
/// `kernel.io_uring_disabled`, a container's seccomp profile): the caller then sends one by one.
struct tugboat_send_ring;
struct msghdr;
struct tugboat_send_ring *tugboat_send_ring_open(unsigned entries);
unsigned tugboat_send_ring_capacity(const struct tugboat_send_ring *ring);
void tugboat_send_ring_close(struct tugboat_send_ring *ring);

/// Sends `messages[i]` to `fds[i]` for each i < count, each as sendmsg(2) with MSG_NOSIGNAL |
/// MSG_DONTWAIT, all in one io_uring_enter(2); waits for all of them (a non-blocking send completes
/// at once). `results[i]`: bytes taken, or -errno (-EAGAIN: none right now). Returns how many
/// completions were read, or -1 with errno when the ring could not be entered (nothing was sent:
/// send them one by one).
int tugboat_send_ring_submit(struct tugboat_send_ring *ring, int count, const int *fds,
                             const struct msghdr *messages, ssize_t *results);

#endif
