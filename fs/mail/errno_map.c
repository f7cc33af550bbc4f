#include "fs/mail/errno_map.h"

#include <errno.h>

#include "common/log.h"

static int code_errno(enum imap_code code)
{
	switch (code) {
	case IMAP_CODE_TRYCREATE:
	case IMAP_CODE_NONEXISTENT:
		return ENOENT;
	case IMAP_CODE_OVERQUOTA:
		return EDQUOT;
	case IMAP_CODE_NOPERM:
	case IMAP_CODE_CANNOT:
	case IMAP_CODE_READONLY:
		return EPERM;
	case IMAP_CODE_ALREADYEXISTS:
		return EEXIST;
	case IMAP_CODE_INUSE:
	case IMAP_CODE_LIMIT:
		return EBUSY;
	case IMAP_CODE_UNAVAILABLE:
		return EAGAIN;
	default:
		return EIO;
	}
}

static int result_errno(const struct imap_status *st)
{
	switch (st->result) {
	case IMAP_R_OK:
		return 0;
	case IMAP_R_NO:
		return code_errno(st->code);
	case IMAP_R_GONE:
		return ENOENT;
	case IMAP_R_UNSUPPORTED:
		return EPERM; /* e.g. rm without UIDPLUS: refused to protect other mail */
	case IMAP_R_INVALID:
		return EINVAL;
	case IMAP_R_EXISTS:
		return EEXIST;
	case IMAP_R_NOTEMPTY:
		return ENOTEMPTY;
	case IMAP_R_NOMEM:
		return ENOMEM;
	case IMAP_R_LOGIN:
	case IMAP_R_CREDENTIALS:
		return EACCES;
	case IMAP_R_TIMEOUT:
	case IMAP_R_LOST:
	case IMAP_R_CONNECT:
	case IMAP_R_TLS:
	case IMAP_R_PROTOCOL:
	case IMAP_R_BAD:
	default:
		return EIO;
	}
}

int imap_errno(const struct imap_status *st, const char *what)
{
	int e = result_errno(st);

	if (e && e != ENOENT)
		log_warn(LOG_CAT_FS, "%s: %s (%s)", what, st->text, imap_result_name(st->result));
	else if (e)
		log_debug(LOG_CAT_FS, "%s: %s", what, st->text);
	return e;
}

int readonly_errno(const char *what)
{
	log_info(LOG_CAT_FS, "%s refused: message parts are read-only", what);
	return EROFS;
}
