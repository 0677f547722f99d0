// Crash capture sources (issue 7): being written.
