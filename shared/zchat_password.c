// zchat_password.c - reading a password: from the terminal without echo, from a pipe, or from
// a file (zchat --password-file, zchat-broker user add)
//
// Byte by byte with read(2), not through stdio: nothing past the line end is taken from a
// terminal or a pipe that someone else (readline, the next question) reads afterwards.
#include "zchat_prelude.h"
#include "zchat_password.h"
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

// Read up to a newline or the end. Returns a new string, or NULL if nothing was read at all.
static char *
s_read_line(int fd)
{
    char *line = zmalloc(ZCHAT_PASSWORD_LINE_MAX + 2);
    size_t length = 0;
    bool any = false;
    while (true) {
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got == -1 && errno == EINTR && !zsys_interrupted)
            continue;
        if (got != 1) {
            if (got == -1 || !any) {
                explicit_bzero(line, ZCHAT_PASSWORD_LINE_MAX + 2);
                free(line);
                return NULL;
            }
            break;
        }
        any = true;
        if (c == '\n')
            break;
        if (length <= ZCHAT_PASSWORD_LINE_MAX)  // one byte over: too long for any rule
            line[length++] = c;
    }
    if (length > 0 && line[length - 1] == '\r')
        length--;
    line[length] = 0;
    return line;
}

char *
zchat_password_read(int fd, const char *prompt)
{
    struct termios saved;
    if (!isatty(fd) || tcgetattr(fd, &saved) == -1)
        return s_read_line(fd);
    // Echo off before the prompt shows, so that nothing typed after it is seen; TCSANOW keeps
    // what was typed already (a pasted password, a script on a pseudo-terminal)
    struct termios quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
    tcsetattr(fd, TCSANOW, &quiet);
    if (prompt) {
        fputs(prompt, stderr);
        fflush(stderr);
    }
    char *line = s_read_line(fd);
    tcsetattr(fd, TCSANOW, &saved);
    if (!line)
        fputs("\n", stderr);
    return line;
}

char *
zchat_password_file(const char *path)
{
    assert(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return NULL;
    char *line = s_read_line(fd);
    int saved = errno;
    close(fd);
    if (!line) {
        line = strdup("");  // an empty file: an empty password, which fails like a wrong one
        assert(line);
    }
    errno = saved;
    return line;
}

void
zchat_password_free(char **password_p)
{
    assert(password_p);
    if (*password_p) {
        explicit_bzero(*password_p, strlen(*password_p));
        free(*password_p);
        *password_p = NULL;
    }
}

void
zchat_password_test(bool verbose)
{
    (void)verbose;
    int fds[2];
    assert(pipe(fds) == 0);
    const char *input = "first secret\r\nsecond\nlast, no newline";
    assert(write(fds[1], input, strlen(input)) == (ssize_t)strlen(input));
    close(fds[1]);
    char *password = zchat_password_read(fds[0], "not shown: not a terminal");
    assert(password && streq(password, "first secret"));
    zchat_password_free(&password);
    assert(password == NULL);
    password = zchat_password_read(fds[0], NULL);
    assert(password && streq(password, "second"));  // nothing beyond the line was taken
    zchat_password_free(&password);
    password = zchat_password_read(fds[0], NULL);
    assert(password && streq(password, "last, no newline"));
    zchat_password_free(&password);
    assert(zchat_password_read(fds[0], NULL) == NULL);  // end of input
    close(fds[0]);
    zchat_password_free(&password);  // safe on NULL

    char path[] = "/tmp/zchat-password-XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    assert(write(fd, "from a file\nignored\n", 20) == 20);
    close(fd);
    password = zchat_password_file(path);
    assert(password && streq(password, "from a file"));
    zchat_password_free(&password);
    remove(path);
    assert(zchat_password_file(path) == NULL && errno == ENOENT);
}
