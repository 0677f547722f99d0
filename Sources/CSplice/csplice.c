#define _GNU_SOURCE
#include "csplice.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

int tugboat_pipe_open(int fds[2], int size) {
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    if (size > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, size);  /* a smaller pipe still works */
    int capacity = fcntl(fds[1], F_GETPIPE_SZ);
    if (capacity < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    return capacity;
}

ssize_t tugboat_splice(int from, int to, size_t length) {
    ssize_t moved;
    do {
        moved = splice(from, NULL, to, NULL, length, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    } while (moved < 0 && errno == EINTR);
    return moved;
}

int tugboat_pipe_pending(int fd) {
    int pending = 0;
    if (ioctl(fd, FIONREAD, &pending) != 0) return -1;
    return pending;
}
