#define FUSE_USE_VERSION 314
#include "fs/version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fuse_lowlevel.h>
#include <openssl/crypto.h>
#include <zlib.h>

void version_print(FILE *out)
{
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

	fprintf(out, "inboxfs %s\n", INBOXFS_VERSION);
	fprintf(out, "libfuse %s\n", fuse_pkgversion());
	/* "OpenSSL 3.0.15 3 Sep 2024": the name is part of the string. */
	fprintf(out, "%s\n", OpenSSL_version(OPENSSL_VERSION));
	fprintf(out, "libcurl %s\n", curl ? curl->version : "(unknown)");
	fprintf(out, "zlib %s\n", zlibVersion());
	fprintf(out, "cJSON %s\n", cJSON_Version());
}
