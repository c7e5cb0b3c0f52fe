/*
 * utf8.c: the UTF-8 sequence validator (utf8.h).
 */
#include <stdint.h>

#include "utf8.h"

/* the length a lead byte announces; 0 for a byte that cannot lead (a
 * continuation byte, 0xc0/0xc1 which could only be overlong, 0xf5..0xff) */
static size_t
lead_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 }; /* shortest form */
	size_t len, i;
	uint32_t cp;

	if (n == 0 || (len = lead_len(s[0])) == 0 || len > n)
		return 0;
	if (len == 1)
		return 1;
	cp = s[0] & (0x7fu >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}
