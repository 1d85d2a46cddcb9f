// zchat_arg.h - command-line values: one rule and one message for every program
#ifndef ZCHAT_ARG_H_INCLUDED
#define ZCHAT_ARG_H_INCLUDED

#include "zchat_prelude.h"

// Parse text, a whole decimal number in [min, max], into *value. Returns 0, or -1 if text is
// not one (empty, trailing characters, out of range).
int zchat_arg_number(const char *text, long min, long max, long *value);

// Say on stderr "PROGRAM: invalid OPTION 'VALUE': expected EXPECT (see --help)". Returns 2,
// the exit status for a bad option.
int zchat_arg_bad(const char *program, const char *option, const char *value, const char *expect);

void zchat_arg_test(bool verbose);

#endif
