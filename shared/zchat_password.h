// zchat_password.h - reading a password: from the terminal without echo, from a pipe, or from
// a file (zchat --password-file, zchat-broker user add)
#ifndef ZCHAT_PASSWORD_H_INCLUDED
#define ZCHAT_PASSWORD_H_INCLUDED

#include "zchat_prelude.h"

// Bytes of a password line kept; a longer line comes back longer than any valid password
#define ZCHAT_PASSWORD_LINE_MAX 1024

// Read one line from fd without its line end. When fd is a terminal, prompt on stderr and turn
// echo off while reading. Returns a new string (free it with zchat_password_free), or NULL at
// end of input before any byte, on a read error or when a signal interrupted the read.
char *zchat_password_read(int fd, const char *prompt);

// The first line of the file at path, without its line end. Returns a new string (free it with
// zchat_password_free), or NULL with errno set.
char *zchat_password_file(const char *path);

// Overwrite the password with zeros and free it; null *password_p; safe on NULL.
void zchat_password_free(char **password_p);

void zchat_password_test(bool verbose);

#endif
