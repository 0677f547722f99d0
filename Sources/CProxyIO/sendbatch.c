// A turn's sends to several sockets in one system call, through io_uring (see SendBatch.swift).
#define _GNU_SOURCE
#include "cproxyio.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct tugboat_send_ring {
    int fd;
    unsigned entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *map;
    size_t map_size, sqes_size;
};

struct tugboat_send_ring *tugboat_send_ring_open(unsigned entries) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    int fd = (int)syscall(__NR_io_uring_setup, entries, &params);
    if (fd < 0) return NULL;
    if (!(params.features & IORING_FEAT_SINGLE_MMAP) || !(params.features & IORING_FEAT_NODROP)) {
        close(fd);
        errno = ENOSYS;
        return NULL;
    }
    struct tugboat_send_ring *ring = calloc(1, sizeof *ring);
    if (!ring) { close(fd); return NULL; }
    ring->fd = fd;
    ring->entries = params.sq_entries;
    size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    size_t size = sq_size > cq_size ? sq_size : cq_size;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (map == MAP_FAILED) { close(fd); free(ring); return NULL; }
    ring->map = map;
    ring->map_size = size;
    ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED) { munmap(map, size); close(fd); free(ring); return NULL; }
    char *sq = map;
    ring->sq_head = (unsigned *)(sq + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq + params.sq_off.array);
    ring->cq_head = (unsigned *)(sq + params.cq_off.head);
    ring->cq_tail = (unsigned *)(sq + params.cq_off.tail);
    ring->cq_mask = (unsigned *)(sq + params.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(sq + params.cq_off.cqes);
    return ring;
}

unsigned tugboat_send_ring_capacity(const struct tugboat_send_ring *ring) { return ring->entries; }

void tugboat_send_ring_close(struct tugboat_send_ring *ring) {
    if (!ring) return;
    munmap(ring->sqes, ring->sqes_size);
    munmap(ring->map, ring->map_size);
    close(ring->fd);
    free(ring);
}

int tugboat_send_ring_submit(struct tugboat_send_ring *ring, int count, const int *fds,
                             const struct msghdr *messages, ssize_t *results) {
    if (count <= 0) return 0;
    if ((unsigned)count > ring->entries) { errno = EINVAL; return -1; }
    unsigned tail = __atomic_load_n(ring->sq_tail, __ATOMIC_RELAXED);
    for (int i = 0; i < count; i++) {
        unsigned index = (tail + (unsigned)i) & *ring->sq_mask;
        struct io_uring_sqe *sqe = &ring->sqes[index];
        memset(sqe, 0, sizeof *sqe);
        sqe->opcode = IORING_OP_SENDMSG;
        sqe->fd = fds[i];
        sqe->addr = (unsigned long)&messages[i];
        sqe->len = 1;
        sqe->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
        sqe->user_data = (unsigned long)i;
        ring->sq_array[index] = index;
        results[i] = -EINPROGRESS;
    }
    __atomic_store_n(ring->sq_tail, tail + (unsigned)count, __ATOMIC_RELEASE);
    int entered;
    do {
        entered = (int)syscall(__NR_io_uring_enter, ring->fd, (unsigned)count, (unsigned)count,
                               IORING_ENTER_GETEVENTS, NULL, 0);
    } while (entered < 0 && errno == EINTR);
    if (entered < 0) {
        // Nothing was taken: drop the entries, so that no later call sends them.
        int saved = errno;
        __atomic_store_n(ring->sq_tail, __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
        errno = saved;
        return -1;
    }
    // Every entry's completion is read before returning: none may still use the caller's buffers.
    // A non-blocking send completes at once; the wait below is for the case where one did not.
    int reaped = 0;
    for (;;) {
        unsigned head = __atomic_load_n(ring->cq_head, __ATOMIC_RELAXED);
        unsigned cq_tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
        while (head != cq_tail) {
            struct io_uring_cqe *cqe = &ring->cqes[head & *ring->cq_mask];
            if (cqe->user_data < (unsigned long)count) results[cqe->user_data] = cqe->res;
            head++;
            reaped++;
        }
        __atomic_store_n(ring->cq_head, head, __ATOMIC_RELEASE);
        if (reaped >= count) return reaped;
        int waited = (int)syscall(__NR_io_uring_enter, ring->fd, 0u, (unsigned)(count - reaped),
                                  IORING_ENTER_GETEVENTS, NULL, 0);
        if (waited < 0 && errno != EINTR) return reaped;
    }
}
