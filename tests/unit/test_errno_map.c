/* The one table that turns IMAP outcomes into errno values. */
#include <errno.h>

#include "check.h"
#include "fs/mail/errno_map.h"

static int map(enum imap_result r, enum imap_code c)
{
	struct imap_status st = { .result = r, .code = c, .text = "server text" };

	return imap_errno(&st, "test");
}

int main(void)
{
	CHECK(map(IMAP_R_OK, IMAP_CODE_NONE) == 0);
	CHECK(map(IMAP_R_NO, IMAP_CODE_TRYCREATE) == ENOENT);
	CHECK(map(IMAP_R_NO, IMAP_CODE_NONEXISTENT) == ENOENT);
	CHECK(map(IMAP_R_NO, IMAP_CODE_OVERQUOTA) == EDQUOT);
	CHECK(map(IMAP_R_NO, IMAP_CODE_CANNOT) == EPERM);
	CHECK(map(IMAP_R_NO, IMAP_CODE_NOPERM) == EPERM);
	CHECK(map(IMAP_R_NO, IMAP_CODE_READONLY) == EPERM);
	CHECK(map(IMAP_R_NO, IMAP_CODE_ALREADYEXISTS) == EEXIST);
	CHECK(map(IMAP_R_NO, IMAP_CODE_INUSE) == EBUSY);
	CHECK(map(IMAP_R_NO, IMAP_CODE_LIMIT) == EBUSY);
	CHECK(map(IMAP_R_NO, IMAP_CODE_UNAVAILABLE) == EAGAIN);
	CHECK(map(IMAP_R_NO, IMAP_CODE_NONE) == EIO);
	CHECK(map(IMAP_R_BAD, IMAP_CODE_NONE) == EIO);
	CHECK(map(IMAP_R_GONE, IMAP_CODE_NONE) == ENOENT);
	CHECK(map(IMAP_R_UNSUPPORTED, IMAP_CODE_NONE) == EPERM);
	CHECK(map(IMAP_R_INVALID, IMAP_CODE_NONE) == EINVAL);
	CHECK(map(IMAP_R_EXISTS, IMAP_CODE_NONE) == EEXIST);
	CHECK(map(IMAP_R_NOTEMPTY, IMAP_CODE_NONE) == ENOTEMPTY);
	CHECK(map(IMAP_R_LOGIN, IMAP_CODE_NONE) == EACCES);
	CHECK(map(IMAP_R_TIMEOUT, IMAP_CODE_NONE) == EIO);
	CHECK(map(IMAP_R_LOST, IMAP_CODE_NONE) == EIO);
	CHECK(map(IMAP_R_PROTOCOL, IMAP_CODE_NONE) == EIO);
	CHECK(map(IMAP_R_NOMEM, IMAP_CODE_NONE) == ENOMEM);
	return check_summary("errno_map");
}
