/* File names of message parts under FOLDER/.parts/UID/: "<section>-<the
 * part's own name>" ("3-invoice.pdf") or "<section>.<extension of its
 * type>" ("1.txt").  Names come from the network: the result is always a
 * safe single name component.  No FUSE, no GMime: the fuzz target links
 * this file alone. */
#ifndef INBOXFS_FS_MAIL_PARTS_NAME_H
#define INBOXFS_FS_MAIL_PARTS_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* Longest name (bytes, NUL excluded): what a Linux name may be. */
#define PARTS_NAME_MAX 255

/* The extension for a MIME type ("pdf", "txt"; "bin" when unknown);
 * type and subtype lower case. */
const char *parts_ext(const char *type, const char *subtype);

/* in (len bytes, any bytes at all) made safe into out (cap > 0): valid
 * UTF-8 only, each invalid byte, control character, '/' and '\' becoming
 * '_', no leading dots or spaces, at most cap - 1 bytes and cut at a
 * character boundary with the extension (up to 16 bytes) kept.  Returns
 * the length ("" when nothing usable was left). */
size_t parts_sanitize(char *out, size_t cap, const char *in, size_t len);

/* The name of the part at section: "<section>-<filename>" when filename
 * (NULL: none) has something usable, else "<section>.<extension>".  out
 * holds PARTS_NAME_MAX + 1 bytes. */
void parts_name(char *out, const char *section, const char *filename, const char *type,
		const char *subtype);

/* The section a part's file name starts with ("3" of "3-invoice.pdf",
 * "4.2" of "4.2.jpg"), into out (cap bytes): false for the other names
 * ("text", "subject") and for what parts_name never makes. */
bool parts_name_section(const char *name, char *out, size_t cap);

#endif
