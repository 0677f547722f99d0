#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int skip_close_range = 0;

void tugboat_spawn_skip_close_range(int skip) { __atomic_store_n(&skip_close_range, skip, __ATOMIC_RELAXED); }

/* One entry of getdents64 (the kernel's layout; glibc's struct dirent64 is the same, but musl
   has no getdents64 wrapper, so the syscall and this struct are used directly). */
struct tugboat_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Marks `fd` close-on-exec (async-signal-safe). */
static void set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* Walks /proc/self/fd with the raw getdents64 syscall (no malloc: async-signal-safe) and marks
   every descriptor from `first` on close-on-exec. Returns 0, or -1 when /proc is not there. */
static int cloexec_by_proc_walk(int first) {
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    char buffer[4096] __attribute__((aligned(8)));
    for (;;) {
        long got = syscall(SYS_getdents64, dir, buffer, sizeof buffer);
        if (got <= 0) break;
        for (long offset = 0; offset < got;) {
            struct tugboat_dirent64 *entry = (struct tugboat_dirent64 *)(buffer + offset);
            offset += entry->reclen;
            int fd = 0, digits = 0;
            for (const char *c = entry->name; *c >= '0' && *c <= '9'; c++, digits++) fd = fd * 10 + (*c - '0');
            if (digits == 0 || entry->name[digits] != '\0') continue; /* "." and ".." */
            if (fd >= first && fd != dir) set_cloexec(fd);
        }
    }
    close(dir);
    return 0;
}

/* Every descriptor from 3 on is closed by the exec: the child keeps only 0, 1 and 2.
   close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11) in one call; else /proc/self/fd; else every
   number up to the descriptor limit. */
void tugboat_cloexec_from(int first) {
#ifdef SYS_close_range
    if (!__atomic_load_n(&skip_close_range, __ATOMIC_RELAXED) && syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
    if (cloexec_by_proc_walk(first) == 0) return;
    struct rlimit limit;
    rlim_t last = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < last) last = limit.rlim_cur;
    for (int fd = first; fd < (int)last; fd++) set_cloexec(fd);
}

/* Between fork and exec only async-signal-safe calls: the parent has other threads. */
static void run_child(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                      int stderr_fd, int death_signal, pid_t parent, int report_fd) {
    struct sigaction default_action = {0};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &default_action, NULL);
    }
    setpgid(0, 0);
    if (death_signal != 0) {
        prctl(PR_SET_PDEATHSIG, death_signal);
        if (getppid() != parent) _exit(127); /* the parent died before prctl took effect */
    }
    if (stdin_fd >= 0) {
        if (stdin_fd != 0) dup2(stdin_fd, 0);
    } else {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull > 0) {
            dup2(devnull, 0);
            close(devnull);
        }
    }
    if (stdout_fd >= 0 && stdout_fd != 1) dup2(stdout_fd, 1);
    if (stderr_fd >= 0 && stderr_fd != 2) dup2(stderr_fd, 2);
    /* Tugboat's sockets (listeners, client and upstream connections) and files are not the
       child's: NIO does not open them close-on-exec. The report pipe is already close-on-exec. */
    tugboat_cloexec_from(3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    int error = errno;
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

int tugboat_input_file(const void *bytes, size_t count) {
    int fd = -1;
#ifdef SYS_memfd_create
    fd = (int)syscall(SYS_memfd_create, "tugboat-stdin", 1U /* MFD_CLOEXEC */);
#endif
    if (fd < 0) {
        const char *directory = getenv("TMPDIR");
        fd = open(directory && *directory ? directory : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
    if (fd < 0) return -1;
    const char *next = bytes;
    size_t left = count;
    while (left > 0) {
        ssize_t written = write(fd, next, left);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            int error = errno;
            close(fd);
            errno = error;
            return -1;
        }
        next += written;
        left -= (size_t)written;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        int error = errno;
        close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

int tugboat_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd,
                  int stdout_fd, int stderr_fd, int death_signal, pid_t *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    /* Block everything across fork so no handler of ours runs in the child before the reset. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) run_child(path, argv, envp, stdin_fd, stdout_fd, stderr_fd, death_signal, parent, report[1]);
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        return fork_error;
    }
    int exec_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &exec_error, sizeof exec_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof exec_error) {
        waitpid(pid, NULL, 0);
        return exec_error;
    }
    *pid_out = pid;
    return 0;
}
