/*
 * kpop/main.c: the kpop entry point.  Fetching mail is not built yet (see
 * the kpop client issue); for now the program reports its version and
 * refuses everything else so that nobody mistakes it for a client.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

int
main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "--version") == 0)) {
		printf("kpop %s (OpenSSL %s)\n", PACKAGE_VERSION,
		    OpenSSL_version(OPENSSL_VERSION_STRING));
		return 0;
	}
	fprintf(stderr, "kpop: this build cannot fetch mail yet; only -V "
	    "works\n");
	return 64;
}
