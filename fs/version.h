/* inboxfs --version: its own version and those of the libraries it runs
 * with (what a bug report needs; a distribution may update a library
 * under the binary). */
#ifndef INBOXFS_FS_VERSION_H
#define INBOXFS_FS_VERSION_H

#include <stdio.h>

/* One "name version" line each: inboxfs, libfuse, OpenSSL, libcurl, zlib,
 * cJSON, as the loaded libraries report themselves. */
void version_print(FILE *out);

#endif
