// admin.h - zchat-broker's subcommands: keygen, and user add, del, list, passwd on the database
#ifndef ADMIN_H_INCLUDED
#define ADMIN_H_INCLUDED

#include "zchat_prelude.h"
#include "options.h"

// Do options->command (not OPTIONS_RUN). A password is read from standard input: without
// echo and twice when it is a terminal, else one line. Returns the exit status: 0 done, 1 it
// could not be done (the user exists or does not, the passwords differ or break the rules,
// the database failed), 2 a usage error; every failure says why on stderr, in one line.
int admin_run(const options_t *options);

void admin_test(bool verbose);

#endif
