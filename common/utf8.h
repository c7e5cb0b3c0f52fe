/*
 * utf8.h: UTF-8 validation shared by the fetcher (Upbit's JSON strings) and
 * the monitor (the JSON it writes): RFC 3629, so no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
#ifndef CP_UTF8_H
#define CP_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s, of which n bytes are
 * readable; 0 if it is not one (or n is 0). */
size_t utf8_seq_len(const unsigned char *s, size_t n);

#endif
