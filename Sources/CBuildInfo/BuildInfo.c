#include "CBuildInfo.h"

#ifndef TUGBOAT_COMMIT
#define TUGBOAT_COMMIT "unknown"
#endif

const char *tugboat_build_commit(void) { return TUGBOAT_COMMIT; }
