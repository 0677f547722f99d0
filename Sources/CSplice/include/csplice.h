#ifndef TUGBOAT_CSPLICE_H
#define TUGBOAT_CSPLICE_H

#include <stddef.h>
#include <sys/types.h>

/// Opens a non-blocking, close-on-exec pipe into fds[0] (read end) and fds[1] (write end) and asks
/// for `size` bytes of capacity (0: the kernel's default). Returns the capacity, or -1 with errno.
int tugboat_pipe_open(int fds[2], int size);

/// Moves up to `length` bytes from `from` to `to` inside the kernel (one of them must be a pipe),
/// without blocking. Returns the bytes moved, 0 at end of input, or -1 with errno (EAGAIN: nothing
/// to move or no room right now).
ssize_t tugboat_splice(int from, int to, size_t length);

/// The bytes waiting in a pipe's read end, or -1 with errno.
int tugboat_pipe_pending(int fd);

#endif
