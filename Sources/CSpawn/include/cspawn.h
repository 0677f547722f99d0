#ifndef TUGBOAT_CSPAWN_H
#define TUGBOAT_CSPAWN_H

#include <stddef.h>
#include <sys/types.h>

/// Starts `path` with `argv` and `envp` in a new process group, every signal at its default action
/// and none blocked, standard input from `stdin_fd` (-1: /dev/null), and standard output and error
/// on `stdout_fd` and `stderr_fd` (-1: Tugboat's own). Every other descriptor is closed by the exec
/// (`tugboat_cloexec_from(3)` in the child), whether or not it was opened close-on-exec. With
/// `death_signal` non-zero the child gets that signal when the calling *thread* ends (prctl
/// PR_SET_PDEATHSIG, which survives execve): call it from a thread that lives as long as the
/// process. Returns 0 and sets `*pid_out`, or an errno value (exec failures included: they travel
/// back through a close-on-exec pipe).
int tugboat_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd,
                  int stdout_fd, int stderr_fd, int death_signal, pid_t *pid_out);

/// Marks every descriptor from `first` on close-on-exec: close_range(CLOSE_RANGE_CLOEXEC), else a
/// walk of /proc/self/fd, else every number below the descriptor limit. Async-signal-safe.
void tugboat_cloexec_from(int first);

/// A close-on-exec descriptor of an anonymous file (memfd, else an O_TMPFILE in $TMPDIR or /tmp)
/// holding `bytes`, positioned at its start: a child's standard input that never blocks the writer,
/// whether or not the child reads it. -1 with errno on failure.
int tugboat_input_file(const void *bytes, size_t count);

/// Tests only: non-zero makes `tugboat_cloexec_from` skip close_range (to exercise the fallback).
void tugboat_spawn_skip_close_range(int skip);

#endif
