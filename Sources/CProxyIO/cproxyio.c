#define _GNU_SOURCE
#include "cproxyio.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

ssize_t tugboat_sendv(int fd, const struct iovec *buffers, int count) {
    struct msghdr message = {0};
    message.msg_iov = (struct iovec *)buffers;
    message.msg_iovlen = (size_t)count;
    ssize_t sent;
    do {
        sent = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

ssize_t tugboat_send(int fd, const void *bytes, size_t length) {
    ssize_t sent;
    do {
        sent = send(fd, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

int tugboat_dup(int fd) {
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

int tugboat_watch_open(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int tugboat_watch_add(int watch, int fd) {
    struct epoll_event event = {0};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    event.data.fd = fd;
    return epoll_ctl(watch, EPOLL_CTL_ADD, fd, &event);
}

int tugboat_watch_remove(int watch, int fd) {
    struct epoll_event event = {0};
    return epoll_ctl(watch, EPOLL_CTL_DEL, fd, &event);
}

int tugboat_watch_wait(int watch, int *fds, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int count = epoll_wait(watch, events, max, timeout_ms);
    if (count < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < count; i++) fds[i] = events[i].data.fd;
    return count;
}

void tugboat_trim_heap(void) {
    (void)malloc_trim(0);
}
