/*
 * kpopd/main.c: the kpopd entry point.  Serving POP3 is not built yet
 * (see the kpopd issues); for now the program reports its version and the
 * libraries it links, and refuses everything else so that nobody mistakes
 * it for a server.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <krb5.h>
#include <openssl/crypto.h>
#include <sasl/sasl.h>

int
main(int argc, char **argv)
{
	const char *sasl_impl = NULL, *sasl_ver = NULL;

	if (argc == 2 && (strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "--version") == 0)) {
		sasl_version_info(&sasl_impl, &sasl_ver, NULL, NULL, NULL,
		    NULL);
		printf("kpopd %s (OpenSSL %s, %s SASL %s)\n", PACKAGE_VERSION,
		    OpenSSL_version(OPENSSL_VERSION_STRING),
		    sasl_impl != NULL ? sasl_impl : "Cyrus",
		    sasl_ver != NULL ? sasl_ver : "?");
		return 0;
	}
	fprintf(stderr, "kpopd: this build cannot serve POP3 yet; only -V "
	    "works\n");
	return 64;
}
