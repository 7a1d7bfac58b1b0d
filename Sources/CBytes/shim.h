#ifndef DAXRIG_CBYTES_SHIM_H
#define DAXRIG_CBYTES_SHIM_H
/* glibc's memmem, which Swift's Glibc module leaves out (a GNU extension, declared
   only under _GNU_SOURCE): the console scanner's search of a log's bytes. */
#include <stddef.h>
void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
#endif
