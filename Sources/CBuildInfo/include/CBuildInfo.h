#ifndef CBUILDINFO_H
#define CBUILDINFO_H

/// The git commit this binary was built from: `-Xcc -DTUGBOAT_COMMIT='"<sha>"'` at build time
/// (packaging/build.sh passes it), "unknown" otherwise.
const char *tugboat_build_commit(void);

#endif
