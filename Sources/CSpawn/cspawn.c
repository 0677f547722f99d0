#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Between fork and exec only async-signal-safe calls: the parent has other threads. */
static void run_child(const char *path, char *const argv[], char *const envp[], int stdout_fd,
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
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull > 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    if (stdout_fd >= 0 && stdout_fd != 1) dup2(stdout_fd, 1);
    if (stderr_fd >= 0 && stderr_fd != 2) dup2(stderr_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    int error = errno;
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

int tugboat_spawn(const char *path, char *const argv[], char *const envp[],
                  int stdout_fd, int stderr_fd, int death_signal, pid_t *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    /* Block everything across fork so no handler of ours runs in the child before the reset. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) run_child(path, argv, envp, stdout_fd, stderr_fd, death_signal, parent, report[1]);
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
