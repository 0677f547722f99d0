#include "CBuildInfo.h"

// packaging/build.sh writes commit.inc (`#define TUGBOAT_COMMIT "<sha>"`, not in git) before it
// builds; any other build says "unknown".
#if __has_include("commit.inc")
#include "commit.inc"
#endif
#ifndef TUGBOAT_COMMIT
#define TUGBOAT_COMMIT "unknown"
#endif

const char *tugboat_build_commit(void) { return TUGBOAT_COMMIT; }
