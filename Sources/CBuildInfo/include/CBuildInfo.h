#ifndef CBUILDINFO_H
#define CBUILDINFO_H

/// The git commit this binary was built from (packaging/build.sh writes it into commit.inc),
/// "unknown" otherwise.
const char *tugboat_build_commit(void);

#endif
