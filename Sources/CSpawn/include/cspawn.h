#ifndef TUGBOAT_CSPAWN_H
#define TUGBOAT_CSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` in a new process group, every signal at its default action
/// and none blocked, standard input from /dev/null, and standard output and error on `stdout_fd` and
/// `stderr_fd` (-1: Tugboat's own). With `death_signal` non-zero the child gets that signal when the
/// calling *thread* ends (prctl PR_SET_PDEATHSIG, which survives execve): call it from a thread that
/// lives as long as the process. Returns 0 and sets `*pid_out`, or an errno value (exec failures
/// included: they travel back through a close-on-exec pipe).
int tugboat_spawn(const char *path, char *const argv[], char *const envp[],
                  int stdout_fd, int stderr_fd, int death_signal, pid_t *pid_out);

#endif
