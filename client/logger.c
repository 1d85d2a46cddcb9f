// logger.c - zchat-logger: records every room event exactly once, in seq order, into files
// that survive a crash (SIGKILL), a broker restart and logrotate
//
// conn delivers each room's events exactly once and in order, starting after the seq we give
// it, and reports what the broker's history no longer holds (on_lost). The logger's part is the
// files: what they hold says where to resume. A jsonl line carries its room and seq. A text line
// does not, so text logs have a state file of "room seq offset" records, each appended only
// after the lines it covers were written: on start, a log longer than its last record is cut
// back to it, and the events of the lines cut come again from the broker's history.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "logger.h"
#include "conn.h"
#include "render.h"
#include "zchat_arg.h"
#include "zchat_msg.h"
#include "zchat_name.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOGGER_TURN_MS      200         // conn_wait slice: a SIGHUP is noticed this fast
#define LOGGER_SYNC_MS      1000        // --fsync batch: at most one fsync a second
#define LOGGER_FLUSH_BYTES  65536       // write the buffered lines once this many wait
#define LOGGER_STATE_MAX    (1 << 20)   // compact the state file once it grows past this
#define LOGGER_LINE_MAX     (16 << 20)  // a longer jsonl line is no event: skipped on recovery
#define LOGGER_CONNECT_MS   2000        // one login attempt
#define LOGGER_RETRY_MIN_MS 500         // pause after the first failed attempt
#define LOGGER_RETRY_MAX_MS 8000        // backoff ceiling
#define LOGGER_STATE_NAME   ".zchat-logger.state"

typedef struct {
    char *data;
    size_t size;
    size_t max;
} s_buf_t;

typedef struct {
    char *path;       // NULL: standard output
    int fd;           // -1 while closed
    bool regular;     // a regular file: repaired, cut back on a write error, fsynced
    bool dirty;       // written since the last fsync
    s_buf_t pending;  // lines not written yet
    uint64_t base;    // the file's size before pending was last written
    int day;          // text: local date (yyyymmdd) of the last line, 0 before the first
} s_out_t;

// A room the logger records, or has recorded
typedef struct {
    char *name;             // canonical room name
    uint64_t seq;           // last seq recorded (written or pending), 0 if none
    s_out_t *out;           // borrowed from logger.outs; NULL while not open (-d)
    bool followed;          // recorded by this run
    bool record_due;        // text: a state record is due after the next write
    size_t record_end;      // text: where this room's last pending line ends in out->pending
    bool has_state;         // text: the state file has a record for this room
    uint64_t state_offset;  // text: the file offset of the last state record
} s_logged_room_t;

struct logger {
    logger_format_t format;
    logger_fsync_t fsync;
    char *dir;       // -d, or NULL
    char *file;      // -o, or NULL
    char *endpoint;  // tcp://host:port, for messages
    bool all;
    conn_t *conn;
    zhashx_t *rooms;      // name -> s_logged_room_t *, owner
    zlistx_t *outs;       // s_out_t *, owner: one per followed room (-d), else the one output
    s_out_t *single;      // -o or stdout: the one output (in outs); NULL with -d
    char *state_path;     // text logs in files: the state file; NULL otherwise
    int state_fd;         // -1 while closed
    int lock_fd;          // holds the flock on the directory or the one file; -1 if none
    s_buf_t state;        // records waiting for their lines to be written
    uint64_t state_size;  // bytes in the state file
    bool failed;          // a write failed: logger_run returns LOGGER_EXIT_WRITE
    bool unsynced;        // written since the last fsync
    int64_t synced_at;    // zclock_mono of the last fsync
};

static volatile sig_atomic_t s_hup;  // SIGHUP arrived: reopen the files

// --- Buffers and files ---

static void
s_buf_add(s_buf_t *self, const char *data, size_t size)
{
    if (self->size + size > self->max) {
        size_t max = self->max ? self->max : 4096;
        while (max < self->size + size)
            max *= 2;
        char *bigger = realloc(self->data, max);
        assert(bigger);
        self->data = bigger;
        self->max = max;
    }
    memcpy(self->data + self->size, data, size);
    self->size += size;
}

// Write all of data; returns how much was written (size, or less with errno set).
static size_t
s_write_all(int fd, const char *data, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t rc = write(fd, data + done, size - done);
        if (rc > 0)
            done += (size_t)rc;
        else if (rc == 0)
            errno = EIO;
        if (rc <= 0 && errno != EINTR)
            break;
    }
    return done;
}

static int
s_write_failed(logger_t *self, const char *path, int err)
{
    zsys_error("cannot write %s: %s; stopping (what was written is kept)",
               path ? path : "the standard output", strerror(err));
    self->failed = true;
    return -1;
}

// Make dir and its missing parents.
static int
s_mkdirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        zsys_error("directory name too long: %s", dir);
        return -1;
    }
    for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = 0;
        if (mkdir(path, 0755) == -1 && errno != EEXIST) {
            zsys_error("cannot make the directory %s: %s", path, strerror(errno));
            return -1;
        }
        if (!slash)
            break;
        *slash = '/';
    }
    struct stat st;
    if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
        zsys_error("%s is not a directory", dir);
        return -1;
    }
    return 0;
}

// The offset of the last '\n' in [0, before) of the file, or -1 if none (-2 on a read error).
static off_t
s_rfind_newline(int fd, off_t before)
{
    char chunk[65536];
    while (before > 0) {
        off_t start = before > (off_t)sizeof chunk ? before - (off_t)sizeof chunk : 0;
        size_t size = (size_t)(before - start);
        if (pread(fd, chunk, size, start) != (ssize_t)size)
            return -2;
        for (size_t i = size; i > 0; i--)
            if (chunk[i - 1] == '\n')
                return start + (off_t)i - 1;
        before = start;
    }
    return -1;
}

// A crash while writing can leave a last line without its newline: cut the file back to its
// last newline. Returns the new size, or -1 after logging an error.
static off_t
s_repair_torn(int fd, const char *path, off_t size)
{
    char last;
    if (size == 0)
        return 0;
    if (pread(fd, &last, 1, size - 1) != 1) {
        zsys_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (last == '\n')
        return size;
    off_t newline = s_rfind_newline(fd, size);
    off_t end = newline + 1;  // 0 when there is no newline at all
    if (newline == -2 || ftruncate(fd, end) == -1) {
        zsys_error("cannot repair %s: %s", path, strerror(errno));
        return -1;
    }
    zsys_warning("%s: the last line was torn (%lld bytes without a newline, the logger stopped "
                 "while writing it): removed; its event comes again from the broker's history",
                 path, (long long)(size - end));
    return end;
}

// Take an exclusive lock on the directory (-d) or the one file (-o), so that a second logger
// on the same files fails at start instead of writing every event twice. A file that is not a
// regular one (a device, a pipe) is not locked.
static int
s_lock(logger_t *self, const char *path, bool directory)
{
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    self->lock_fd =
        open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_CREAT) | O_CLOEXEC, 0644);
    struct stat st;
    if (self->lock_fd == -1 || fstat(self->lock_fd, &st) == -1) {
        zsys_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (!directory && !S_ISREG(st.st_mode)) {
        close(self->lock_fd);
        self->lock_fd = -1;
        return 0;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) == -1) {
        if (errno == EWOULDBLOCK)
            zsys_error("%s is in use by another zchat-logger", path);
        else
            zsys_error("cannot lock %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

// --- Rooms and outputs ---

static s_out_t *
s_out_new(const char *path)
{
    s_out_t *self = zmalloc(sizeof(s_out_t));
    if (path) {
        self->path = strdup(path);
        assert(self->path);
    }
    self->fd = -1;
    return self;
}

static void
s_out_destroy(s_out_t **self_p)
{
    if (*self_p) {
        s_out_t *self = *self_p;
        if (self->fd >= 0 && self->path)
            close(self->fd);
        free(self->pending.data);
        free(self->path);
        free(self);
        *self_p = NULL;
    }
}

static void
s_room_destroy(s_logged_room_t **self_p)
{
    if (*self_p) {
        free((*self_p)->name);
        free(*self_p);
        *self_p = NULL;
    }
}

// The room, made if new; name must be canonical.
static s_logged_room_t *
s_room_require(logger_t *self, const char *name)
{
    s_logged_room_t *room = zhashx_lookup(self->rooms, name);
    if (!room) {
        room = zmalloc(sizeof(s_logged_room_t));
        room->name = strdup(name);
        assert(room->name);
        room->out = self->single;  // NULL with -d until followed
        zhashx_insert(self->rooms, name, room);
    }
    return room;
}

static const char *
s_extension(const logger_t *self)
{
    return self->format == LOGGER_JSONL ? "jsonl" : "log";
}

static char *
s_room_path(const logger_t *self, const char *room)
{
    return zsys_sprintf("%s/%s.%s", self->dir, room, s_extension(self));
}

// Queue a state record: room holds everything up to its seq in the first offset bytes.
static void
s_state_record(logger_t *self, s_logged_room_t *room, uint64_t offset)
{
    char line[128];
    int size =
        snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 "\n", room->name, room->seq, offset);
    s_buf_add(&self->state, line, (size_t)size);
    room->has_state = true;
    room->state_offset = offset;
}

static int
s_sync(logger_t *self, int fd, const char *path)
{
    // EINVAL, EROFS: a pipe, a terminal, a device: nothing to make durable
    if (fsync(fd) == -1 && errno != EINVAL && errno != EROFS)
        return s_write_failed(self, path, errno);
    return 0;
}

// Write the queued state records; with sync, make them durable. Every record queued covers
// lines already written.
static int
s_state_write(logger_t *self, bool sync)
{
    if (!self->state.size)
        return 0;
    size_t done = s_write_all(self->state_fd, self->state.data, self->state.size);
    self->state_size += done;
    if (done < self->state.size)
        return s_write_failed(self, self->state_path, errno);
    self->state.size = 0;
    return sync ? s_sync(self, self->state_fd, self->state_path) : 0;
}

// Open (or reopen) an output for appending. A text log's rooms get a state record for the
// size found, so a new file after logrotate starts from its own offset 0.
static int
s_out_open(logger_t *self, s_out_t *out)
{
    out->day = 0;
    if (!out->path) {
        out->fd = STDOUT_FILENO;
        return 0;
    }
    out->fd = open(out->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (out->fd == -1 || fstat(out->fd, &st) == -1) {
        zsys_error("cannot open %s: %s", out->path, strerror(errno));
        self->failed = true;
        return -1;
    }
    out->regular = S_ISREG(st.st_mode);
    if (self->state_path && out->regular) {
        s_logged_room_t *room;
        for (room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms))
            if (room->out == out)
                s_state_record(self, room, (uint64_t)st.st_size);
    }
    return 0;
}

static int s_flush(logger_t *self, bool sync);

// Record room from now on: with -d, open its file.
static int
s_follow(logger_t *self, s_logged_room_t *room)
{
    if (room->followed)
        return 0;
    room->followed = true;
    if (self->single)
        return 0;
    char *path = s_room_path(self, room->name);
    s_out_t *out = s_out_new(path);
    zstr_free(&path);
    zlistx_add_end(self->outs, out);
    room->out = out;
    bool had_state = room->has_state;
    uint64_t had_offset = room->state_offset;
    if (s_out_open(self, out) == -1)
        return -1;
    // The log's opening record on disk before its first line, when the state file has none
    // that fits (a new room, or a log moved away while the logger was stopped): after a crash,
    // lines without their record would be recorded again. A flush, so that in the files the
    // lines before it still come first, as every flush keeps them.
    if (self->state_fd >= 0 && (!had_state || room->state_offset != had_offset))
        return s_flush(self, self->fsync != LOGGER_FSYNC_NEVER);
    return 0;
}

// --- Writing ---

static int
s_out_write(logger_t *self, s_out_t *out)
{
    if (!out->pending.size || out->fd < 0)
        return 0;
    off_t end = out->regular ? lseek(out->fd, 0, SEEK_END) : 0;
    out->base = end > 0 ? (uint64_t)end : 0;
    size_t done = s_write_all(out->fd, out->pending.data, out->pending.size);
    if (done < out->pending.size) {
        int err = errno;
        // Keep whole lines only, so the file ends as a finished log
        while (done > 0 && out->pending.data[done - 1] != '\n')
            done--;
        if (out->regular && ftruncate(out->fd, (off_t)(out->base + done)) == -1)
            zsys_warning("cannot cut %s back to its last whole line: %s", out->path,
                         strerror(errno));
        return s_write_failed(self, out->path, err);
    }
    out->pending.size = 0;
    out->dirty = true;
    self->unsynced = true;
    return 0;
}

static int s_state_rewrite(logger_t *self);

// Write the pending lines, then the state records that cover them; with sync, make the lines
// durable before the records are written, and the records too.
static int
s_flush(logger_t *self, bool sync)
{
    if (self->failed)
        return -1;
    s_out_t *out;
    for (out = zlistx_first(self->outs); out; out = zlistx_next(self->outs))
        if (s_out_write(self, out) == -1)
            return -1;
    if (sync)
        for (out = zlistx_first(self->outs); out; out = zlistx_next(self->outs)) {
            if (out->dirty && out->regular && s_sync(self, out->fd, out->path) == -1)
                return -1;
            out->dirty = false;
        }
    if (self->state_fd >= 0) {
        s_logged_room_t *room;
        for (room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms))
            if (room->record_due) {
                s_state_record(self, room, room->out->base + room->record_end);
                room->record_due = false;
            }
        if (s_state_write(self, sync) == -1)
            return -1;
        if (self->state_size > LOGGER_STATE_MAX && s_state_rewrite(self) == -1)
            return -1;
    }
    if (sync) {
        self->unsynced = false;
        self->synced_at = zclock_mono();
    }
    return 0;
}

// Queue one line (without its newline) of room; ts dates it in a text log.
static void
s_append(logger_t *self, s_logged_room_t *room, const char *line, int64_t ts)
{
    s_out_t *out = room->out;
    assert(out);
    if (self->format == LOGGER_TEXT) {
        // The client shows the time only: a text log says when the date changes
        char date[RENDER_DATE_SIZE];
        int day = render_date(ts, date, sizeof date);
        if (day != out->day) {
            s_buf_add(&out->pending, date, strlen(date));
            s_buf_add(&out->pending, "\n", 1);
            out->day = day;
        }
    }
    s_buf_add(&out->pending, line, strlen(line));
    s_buf_add(&out->pending, "\n", 1);
    if (self->state_fd >= 0 && out->regular) {
        room->record_end = out->pending.size;
        room->record_due = true;
    }
    if (self->fsync == LOGGER_FSYNC_ALWAYS)
        s_flush(self, true);
    else if (out->pending.size >= LOGGER_FLUSH_BYTES)
        s_flush(self, false);
}

// --- conn's callbacks ---

// The room a text line is read in (render_event's current): its own file's, or NULL when one
// output holds every room
static const char *
s_text_room(const logger_t *self, const s_logged_room_t *room)
{
    return self->single ? NULL : room->name;
}

// The followed room of an event, following it if it is new here; NULL if the name is invalid.
static s_logged_room_t *
s_room_for(logger_t *self, const char *name)
{
    if (!name || !zchat_name_is_room(name)) {
        zsys_warning("ignoring an event of an invalid room name");
        return NULL;
    }
    s_logged_room_t *room = s_room_require(self, name);
    if (s_follow(self, room) == -1)
        return NULL;
    return room;
}

static void
s_on_event(void *arg, const zchat_msg_t *event)
{
    logger_t *self = arg;
    if (self->failed)
        return;
    int64_t seq = -1;
    zchat_msg_opt_int(event, "seq", &seq);
    s_logged_room_t *room = s_room_for(self, zchat_msg_string(event, "room"));
    if (!room || seq < 1)
        return;
    if ((uint64_t)seq <= room->seq) {
        zchat_debug("#%s: seq %" PRId64 " is already recorded", room->name, seq);
        return;
    }
    char *line;
    if (self->format == LOGGER_JSONL) {
        line = zchat_msg_encode(event);
    } else {
        // The client's line: the room's tag on every line when every room shares the output;
        // an event the client does not show still gets one, the log drops none
        line = render_event(event, s_text_room(self, room), false);
        if (!line)
            line = render_unknown(event, s_text_room(self, room));
    }
    room->seq = (uint64_t)seq;
    s_append(self, room, line, render_ts(event));
    free(line);
    zchat_debug("#%s: recorded seq %" PRId64, room->name, seq);
}

static void
s_on_lost(void *arg, const char *name, uint64_t first, uint64_t last)
{
    logger_t *self = arg;
    zsys_warning("events %" PRIu64 "-%" PRIu64 " of #%s are lost: the broker's history no "
                 "longer holds them (a \"lost\" marker stands in for them)",
                 first, last, name);
    s_logged_room_t *room = self->failed ? NULL : s_room_for(self, name);
    if (!room || last <= room->seq)
        return;
    if (first <= room->seq)
        first = room->seq + 1;
    int64_t now = zclock_time();
    char *line;
    if (self->format == LOGGER_JSONL) {
        zchat_msg_t *marker = zchat_msg_new("lost");
        zchat_msg_set_string(marker, "room", room->name);
        zchat_msg_set_int(marker, "first", (int64_t)first);
        zchat_msg_set_int(marker, "last", (int64_t)last);
        zchat_msg_set_int(marker, "ts", now);
        line = zchat_msg_encode(marker);
        zchat_msg_destroy(&marker);
    } else {
        line = render_lost(now, room->name, first, last, s_text_room(self, room), false);
    }
    room->seq = last;
    s_append(self, room, line, now);
    free(line);
}

static uint64_t
s_on_new_room(void *arg, const char *name)
{
    logger_t *self = arg;
    s_logged_room_t *room = s_room_for(self, name);
    if (room)
        zsys_info("recording #%s after seq %" PRIu64, room->name, room->seq);
    return room ? room->seq : 0;
}

// A broker whose room is behind the log lost its database: say so, events up to what the log
// holds count as recorded.
static void
s_check_rooms(logger_t *self, const zchat_msg_t *reply)
{
    for (size_t i = 0; i < zchat_msg_array_size(reply, "rooms"); i++) {
        zchat_msg_t *entry = zchat_msg_array_object(reply, "rooms", i);
        const char *name = entry ? zchat_msg_string(entry, "name") : NULL;
        int64_t seq = -1;
        s_logged_room_t *room = name ? zhashx_lookup(self->rooms, name) : NULL;
        if (room && room->followed && zchat_msg_opt_int(entry, "seq", &seq) == 0 && seq >= 0 &&
            (uint64_t)seq < room->seq)
            zsys_warning("#%s: the broker is at seq %" PRId64
                         " but the log already holds seq %" PRIu64
                         ": did the broker lose its database? Its events up to %" PRIu64
                         " are taken as recorded",
                         room->name, seq, room->seq, room->seq);
    }
}

static void
s_ask_rooms(logger_t *self)
{
    zchat_msg_t *request = zchat_msg_new("rooms");
    conn_send(self->conn, &request);
}

static void
s_on_reply(void *arg, const zchat_msg_t *reply)
{
    logger_t *self = arg;
    const char *type = zchat_msg_type(reply);
    if (streq(type, "rooms"))
        s_check_rooms(self, reply);
    else if (streq(type, "error")) {
        const char *message = zchat_msg_string(reply, "message");
        const char *code = zchat_msg_string(reply, "code");
        zsys_warning("the broker says: %s (%s)", message ? message : "?", code ? code : "?");
    }
}

static void
s_on_state(void *arg, conn_state_t state)
{
    logger_t *self = arg;
    if (state == CONN_LOST)
        zsys_warning("lost the broker at %s: reconnecting", self->endpoint);
    else {
        zsys_notice("back on the broker at %s: filling the gap from its history", self->endpoint);
        s_ask_rooms(self);
    }
}

// --- Recovery: where each room resumes ---

// The room and seq a jsonl line records (an event's seq, a lost marker's last).
static bool
s_jsonl_seq(const char *line, size_t size, char *room, size_t room_size, uint64_t *seq)
{
    zchat_msg_t *msg = zchat_msg_decode(line, size, NULL);
    if (!msg)
        return false;
    const char *name = zchat_msg_string(msg, "room");
    const char *type = zchat_msg_type(msg);
    int64_t value = -1;
    zchat_msg_opt_int(msg, type && streq(type, "lost") ? "last" : "seq", &value);
    bool ok = name && value > 0 && zchat_name_is_room(name) && strlen(name) < room_size;
    if (ok) {
        snprintf(room, room_size, "%s", name);
        *seq = (uint64_t)value;
    }
    zchat_msg_destroy(&msg);
    return ok;
}

// -d, jsonl: the seq of the last line of room's file that is an event of the room.
static uint64_t
s_jsonl_last_seq(int fd, const char *path, off_t size, const char *room)
{
    off_t end = size;  // the end of the line looked at, before its '\n'
    int skipped = 0;
    uint64_t seq = 0;
    while (end > 0 && !seq) {
        off_t newline = s_rfind_newline(fd, end - 1);
        if (newline == -2)
            break;
        off_t start = newline + 1;
        size_t length = (size_t)(end - 1 - start);
        char name[ZCHAT_NAME_MAX + 1];
        if (length > 0 && length <= LOGGER_LINE_MAX) {
            char *line = malloc(length);
            assert(line);
            if (pread(fd, line, length, start) != (ssize_t)length ||
                !s_jsonl_seq(line, length, name, sizeof name, &seq) || !streq(name, room))
                seq = 0;
            free(line);
        }
        if (!seq)
            skipped++;
        end = start;
    }
    if (skipped)
        zsys_warning("%s: skipped %d line%s at the end that %s no event of #%s", path, skipped,
                     skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are", room);
    return seq;
}

// Open a log for recovery: the fd, or -1 if it does not exist or is no regular file (nothing
// to recover), or -2 after logging an error.
static int
s_open_log(const char *path, off_t *size)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd == -1 && (errno == ENOENT || errno == ENXIO))
        return -1;
    struct stat st;
    if (fd == -1 || fstat(fd, &st) == -1) {
        zsys_error("cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -2;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    *size = st.st_size;
    return fd;
}

static int
s_recover_jsonl_room(logger_t *self, s_logged_room_t *room)
{
    char *path = s_room_path(self, room->name);
    off_t size = 0;
    int fd = s_open_log(path, &size);
    if (fd >= 0) {
        size = s_repair_torn(fd, path, size);
        if (size >= 0)
            room->seq = s_jsonl_last_seq(fd, path, size, room->name);
        close(fd);
    }
    zstr_free(&path);
    return fd == -2 || size < 0 ? -1 : 0;
}

// -o, jsonl: every line counts; the largest seq of each room is where it resumes.
static int
s_recover_jsonl_file(logger_t *self)
{
    off_t size = 0;
    int fd = s_open_log(self->file, &size);
    if (fd < 0)
        return fd == -2 ? -1 : 0;
    size = s_repair_torn(fd, self->file, size);
    FILE *file = size < 0 ? NULL : fdopen(fd, "r");
    if (!file) {
        close(fd);
        return -1;
    }
    char *line = NULL;
    size_t max = 0;
    ssize_t length;
    int skipped = 0;
    while ((length = getline(&line, &max, file)) > 0) {
        char name[ZCHAT_NAME_MAX + 1];
        uint64_t seq = 0;
        if (s_jsonl_seq(line, (size_t)length, name, sizeof name, &seq)) {
            s_logged_room_t *room = s_room_require(self, name);
            if (seq > room->seq)
                room->seq = seq;
        } else if (length > 1) {
            skipped++;
        }
    }
    free(line);
    fclose(file);
    if (skipped)
        zsys_warning("%s: skipped %d line%s that %s no zchat event", self->file, skipped,
                     skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
    return 0;
}

// Text: read the state file. Sets *last to the offset of its last record (-o: the point up to
// which the one log is committed); *any tells whether there was one.
static int
s_state_load(logger_t *self, uint64_t *last, bool *any)
{
    FILE *file = fopen(self->state_path, "r");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        zsys_error("cannot read %s: %s", self->state_path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t max = 0;
    ssize_t length;
    int bad = 0;
    while ((length = getline(&line, &max, file)) > 0) {
        if (line[length - 1] != '\n')
            break;  // torn: its lines were not committed
        if (line[0] == '#')
            continue;
        char name[64];
        uint64_t seq, offset;
        if (sscanf(line, "%63s %" SCNu64 " %" SCNu64, name, &seq, &offset) != 3 ||
            !zchat_name_is_room(name)) {
            bad++;
            continue;
        }
        s_logged_room_t *room = s_room_require(self, name);
        room->seq = seq;
        room->has_state = true;
        room->state_offset = offset;
        // One flush writes its records in table order, not file order: the log is committed
        // up to the furthest record, not the last one read
        if (offset > *last)
            *last = offset;
        *any = true;
    }
    free(line);
    fclose(file);
    if (bad)
        zsys_warning("%s: skipped %d malformed record%s", self->state_path, bad,
                     bad == 1 ? "" : "s");
    return 0;
}

// Text: cut a log back to what the state file says it committed, and repair a torn line.
static int
s_recover_text(logger_t *self, const char *path, bool has_state, uint64_t committed)
{
    off_t size = 0;
    int fd = s_open_log(path, &size);
    if (fd < 0)
        return fd == -2 ? -1 : 0;
    if (has_state && (uint64_t)size > committed) {
        if (ftruncate(fd, (off_t)committed) == -1) {
            zsys_error("cannot repair %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        zsys_notice("%s: removed the last %lld bytes, written after the last seq recorded in %s "
                    "(the logger stopped abruptly): their events come again from the broker's "
                    "history",
                    path, (long long)(size - (off_t)committed), self->state_path);
        size = (off_t)committed;
    } else if (!has_state && size > 0) {
        zsys_warning("%s holds lines but %s has no record of the seq they reach: recording "
                     "starts from the oldest event the broker holds, so some lines may repeat",
                     path, self->state_path);
    }
    size = s_repair_torn(fd, path, size);
    close(fd);
    return size < 0 ? -1 : 0;
}

// -d --all: the rooms that already have a file.
static int
s_scan_dir(logger_t *self)
{
    DIR *dir = opendir(self->dir);
    if (!dir) {
        zsys_error("cannot read the directory %s: %s", self->dir, strerror(errno));
        return -1;
    }
    const char *extension = s_extension(self);
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        char *dot = strrchr(entry->d_name, '.');
        if (!dot || !streq(dot + 1, extension) || dot - entry->d_name > ZCHAT_NAME_MAX)
            continue;
        char name[ZCHAT_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(dot - entry->d_name), entry->d_name);
        if (zchat_name_is_room(name))
            s_room_require(self, name);
    }
    closedir(dir);
    return 0;
}

static int
s_recover(logger_t *self, const logger_options_t *options)
{
    if (self->state_path) {
        uint64_t last = 0;
        bool any = false;
        if (s_state_load(self, &last, &any) == -1)
            return -1;
        if (!self->dir)
            return s_recover_text(self, self->file, any, last);
    }
    if (!self->dir)
        return self->file ? s_recover_jsonl_file(self) : 0;
    if (self->all && s_scan_dir(self) == -1)
        return -1;
    for (size_t i = 0; i < options->room_count; i++)
        s_room_require(self, options->rooms[i]);
    for (s_logged_room_t *room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms)) {
        int rc;
        if (self->state_path) {
            char *path = s_room_path(self, room->name);
            rc = s_recover_text(self, path, room->has_state, room->state_offset);
            zstr_free(&path);
        } else {
            rc = s_recover_jsonl_room(self, room);
        }
        if (rc == -1)
            return -1;
    }
    return 0;
}

// --- The state file ---

static int
s_compare_offset(const void *a, const void *b)
{
    const s_logged_room_t *ra = *(s_logged_room_t *const *)a, *rb = *(s_logged_room_t *const *)b;
    return ra->state_offset < rb->state_offset ? -1 : ra->state_offset > rb->state_offset;
}

// Write the state file afresh, one record per room: a new file, renamed over the old one.
// Ordered by offset, so with -o the last record is the newest commit point of the one log.
static int
s_state_rewrite(logger_t *self)
{
    size_t count = 0, size = zhashx_size(self->rooms);
    s_logged_room_t **rooms = zmalloc((size ? size : 1) * sizeof(s_logged_room_t *));
    for (s_logged_room_t *room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms))
        if (room->has_state)
            rooms[count++] = room;
    qsort(rooms, count, sizeof(s_logged_room_t *), s_compare_offset);
    s_buf_t text = {0};
    const char *header = "# zchat-logger state: room, last seq, log size up to it\n";
    s_buf_add(&text, header, strlen(header));
    for (size_t i = 0; i < count; i++) {
        char line[128];
        int length = snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 "\n", rooms[i]->name,
                              rooms[i]->seq, rooms[i]->state_offset);
        s_buf_add(&text, line, (size_t)length);
    }
    free(rooms);

    char *temp = zsys_sprintf("%s.tmp", self->state_path);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd == -1 ? -1 : 0;
    if (rc == 0 && s_write_all(fd, text.data, text.size) < text.size)
        rc = -1;
    if (rc == 0 && self->fsync != LOGGER_FSYNC_NEVER && fsync(fd) == -1)
        rc = -1;
    int err = errno;
    if (fd >= 0 && close(fd) == -1 && rc == 0)
        rc = -1, err = errno;
    if (rc == 0 && rename(temp, self->state_path) == -1)
        rc = -1, err = errno;
    if (rc == -1)
        unlink(temp);
    zstr_free(&temp);
    free(text.data);
    if (rc == -1)
        return s_write_failed(self, self->state_path, err);
    if (self->state_fd >= 0)
        close(self->state_fd);
    self->state_fd = open(self->state_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (self->state_fd == -1)
        return s_write_failed(self, self->state_path, errno);
    self->state_size = text.size;
    self->state.size = 0;  // every record waiting is in the new file
    return 0;
}

// --- Public ---

static void
s_on_sighup(int signum)
{
    (void)signum;
    s_hup = 1;
}

logger_t *
logger_new(const logger_options_t *options)
{
    assert(options && options->host);
    assert(!(options->dir && options->file));
    // SIGHUP sets a flag from now on: logrotate during a long recovery must not kill us
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_sighup;
    sigemptyset(&action.sa_mask);
    sigaction(SIGHUP, &action, NULL);

    logger_t *self = zmalloc(sizeof(logger_t));
    self->format = options->format;
    self->fsync = options->fsync;
    self->all = options->all;
    self->state_fd = -1;
    self->lock_fd = -1;
    self->synced_at = zclock_mono();
    self->endpoint = zsys_sprintf("tcp://%s:%d", options->host, options->port);
    self->rooms = zchat_hash_new();
    zhashx_set_destructor(self->rooms, (zhashx_destructor_fn *)s_room_destroy);
    self->outs = zlistx_new();
    zlistx_set_destructor(self->outs, (zlistx_destructor_fn *)s_out_destroy);
    if (options->dir) {
        self->dir = strdup(options->dir);
        assert(self->dir);
    } else {
        if (options->file) {
            self->file = strdup(options->file);
            assert(self->file);
        }
        self->single = s_out_new(options->file);
        zlistx_add_end(self->outs, self->single);
    }
    struct stat st;
    if (self->format == LOGGER_TEXT && self->dir)
        self->state_path = zsys_sprintf("%s/%s", self->dir, LOGGER_STATE_NAME);
    else if (self->format == LOGGER_TEXT && self->file &&
             (stat(self->file, &st) == -1 || S_ISREG(st.st_mode)))
        self->state_path = zsys_sprintf("%s.state", self->file);

    if ((self->dir && (s_mkdirs(self->dir) == -1 || s_lock(self, self->dir, true) == -1)) ||
        (self->file && s_lock(self, self->file, false) == -1) || s_recover(self, options) == -1 ||
        (self->state_path && s_state_rewrite(self) == -1) ||
        (self->single && s_out_open(self, self->single) == -1)) {
        logger_destroy(&self);
        return NULL;
    }
    conn_options_t conn_options = {
        .host = options->host,
        .port = options->port,
        .observer = true,
        .client = "zchat-logger/" ZCHAT_VERSION,
        .connect_ms = options->connect_ms > 0 ? options->connect_ms : LOGGER_CONNECT_MS,
        .sub_hwm = options->sub_hwm,
        .server_key = options->server_key,
        .client_cert = options->client_cert,
    };
    conn_handler_t handler = {
        .on_event = s_on_event,
        .on_reply = s_on_reply,
        .on_state = s_on_state,
        .on_lost = s_on_lost,
        .on_new_room = s_on_new_room,
    };
    self->conn = conn_new(&conn_options, &handler, self);
    for (size_t i = 0; i < options->room_count; i++) {
        s_logged_room_t *room = s_room_require(self, options->rooms[i]);
        if (s_follow(self, room) == -1) {
            logger_destroy(&self);
            return NULL;
        }
        conn_follow(self->conn, room->name, room->seq);
    }
    if (self->all)
        conn_follow(self->conn, NULL, 0);
    return self;
}

void
logger_destroy(logger_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        logger_t *self = *self_p;
        conn_destroy(&self->conn, NULL);
        zlistx_destroy(&self->outs);
        zhashx_destroy(&self->rooms);
        if (self->state_fd >= 0)
            close(self->state_fd);
        if (self->lock_fd >= 0)
            close(self->lock_fd);
        free(self->state.data);
        zstr_free(&self->state_path);
        zstr_free(&self->endpoint);
        free(self->dir);
        free(self->file);
        free(self);
        *self_p = NULL;
    }
}

// One turn of the loop: reopen after SIGHUP, write what arrived, fsync when due.
static void
s_turn(logger_t *self)
{
    if (s_hup) {
        s_hup = 0;
        logger_reopen(self);
        return;
    }
    bool sync = self->fsync == LOGGER_FSYNC_ALWAYS ||
                (self->fsync == LOGGER_FSYNC_BATCH && self->unsynced &&
                 zclock_mono() - self->synced_at >= LOGGER_SYNC_MS);
    s_flush(self, sync);
}

// Sleep ms, still reopening on SIGHUP; returns early on SIGINT/SIGTERM.
static void
s_pause(logger_t *self, int ms)
{
    int64_t until = zclock_mono() + ms;
    while (!zsys_interrupted && !self->failed && zclock_mono() < until) {
        if (s_hup)
            s_turn(self);
        int64_t left = until - zclock_mono();
        zclock_sleep(left < 50 ? (int)(left > 0 ? left : 0) : 50);
    }
}

// Log in, retrying with backoff while the broker cannot be reached (its name may resolve later:
// a logger started before the network) or cannot take us yet
// (conn_error_is_retryable: rate_limited, server_full), or answers with an internal error.
static int
s_connect(logger_t *self)
{
    int retry_ms = LOGGER_RETRY_MIN_MS;
    while (conn_connect(self->conn) == -1) {
        const char *code = conn_error_code(self->conn);
        if (zsys_interrupted)
            return LOGGER_EXIT_OK;
        if (streq(code, "interrupted")) {  // another signal: SIGHUP
            s_turn(self);
            if (conn_is_online(self->conn))
                break;  // the welcome had come: logged in
        } else if (streq(code, "unreachable") || streq(code, "unknown_host") ||
                   conn_error_is_retryable(code) || streq(code, "internal")) {
            zsys_warning("%s; retrying in %d.%d s", conn_error(self->conn), retry_ms / 1000,
                         retry_ms % 1000 / 100);
            s_pause(self, retry_ms);
            retry_ms = retry_ms * 2 > LOGGER_RETRY_MAX_MS ? LOGGER_RETRY_MAX_MS : retry_ms * 2;
        } else if (streq(code, "handshake")) {
            zsys_error("%s", conn_error(self->conn));  // a wrong key stays wrong: no retry
            return LOGGER_EXIT_FATAL;
        } else {
            zsys_error("the broker at %s refused the login: %s (%s)", self->endpoint,
                       conn_error(self->conn), code);
            return LOGGER_EXIT_FATAL;
        }
        if (self->failed)
            return LOGGER_EXIT_WRITE;
    }
    zsys_info("recording from %s", self->endpoint);
    s_ask_rooms(self);
    return LOGGER_EXIT_OK;
}

int
logger_run(logger_t *self)
{
    assert(self);
    // A closed standard output is a write error (EPIPE), not a silent death
    signal(SIGPIPE, SIG_IGN);
    int rc = s_connect(self);
    while (rc == LOGGER_EXIT_OK && !zsys_interrupted && !self->failed) {
        int ready = conn_wait(self->conn, -1, LOGGER_TURN_MS);
        s_turn(self);
        if (ready == -1 && zsys_interrupted)
            break;  // -1 without zsys_interrupted: SIGHUP interrupted the poll
    }
    // Stopping: everything received goes to the files, durably unless --fsync never
    s_flush(self, self->fsync != LOGGER_FSYNC_NEVER);
    return self->failed ? LOGGER_EXIT_WRITE : rc;
}

int
logger_reopen(logger_t *self)
{
    assert(self);
    if (s_flush(self, self->fsync != LOGGER_FSYNC_NEVER) == -1)
        return -1;
    int count = 0;
    for (s_out_t *out = zlistx_first(self->outs); out; out = zlistx_next(self->outs))
        if (out->path) {
            if (out->fd >= 0)
                close(out->fd);
            out->fd = -1;
            if (s_out_open(self, out) == -1)
                return -1;
            count++;
        }
    // The lock goes with the one file to its new inode; the state file is written afresh, in
    // case it was moved too
    if (self->file && s_lock(self, self->file, false) == -1) {
        self->failed = true;
        return -1;
    }
    if (self->state_path && s_state_rewrite(self) == -1)
        return -1;
    zsys_notice("reopened %d file%s", count, count == 1 ? "" : "s");
    return s_flush(self, false);
}

uint64_t
logger_last_seq(const logger_t *self, const char *room)
{
    assert(self && room);
    s_logged_room_t *found = zhashx_lookup(self->rooms, room);
    return found ? found->seq : 0;
}

// --- The command line: the logger's options beside the shared ones (client_options) ---

enum { S_OPT_ALL = CLIENT_OPTIONS_OWN, S_OPT_FORMAT, S_OPT_FSYNC, S_OPT_SUB_HWM };

static const struct option s_options[] = {
    {"all", no_argument, NULL, S_OPT_ALL},
    {"format", required_argument, NULL, S_OPT_FORMAT},
    {"dir", required_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"fsync", required_argument, NULL, S_OPT_FSYNC},
    {"sub-hwm", required_argument, NULL, S_OPT_SUB_HWM},
    {NULL, 0, NULL, 0},
};

static int
s_bad(const char *option, const char *value, const char *expect)
{
    return zchat_arg_bad("zchat-logger", option, value, expect);
}

static int
s_parse_option(void *arg, int option, const char *value)
{
    logger_options_t *options = arg;
    long n;
    if (option == S_OPT_ALL) {
        options->all = true;
    } else if (option == S_OPT_FORMAT) {
        if (streq(value, "jsonl"))
            options->format = LOGGER_JSONL;
        else if (streq(value, "text"))
            options->format = LOGGER_TEXT;
        else
            return s_bad("--format", value, "jsonl or text");
    } else if (option == 'd') {
        if (!*value)
            return s_bad("--dir", value, "a directory");
        options->dir = value;
    } else if (option == 'o') {
        if (!*value)
            return s_bad("--output", value, "a file");
        options->file = value;
    } else if (option == S_OPT_FSYNC) {
        if (streq(value, "always"))
            options->fsync = LOGGER_FSYNC_ALWAYS;
        else if (streq(value, "batch"))
            options->fsync = LOGGER_FSYNC_BATCH;
        else if (streq(value, "never"))
            options->fsync = LOGGER_FSYNC_NEVER;
        else
            return s_bad("--fsync", value, "always, batch or never");
    } else if (option == S_OPT_SUB_HWM) {
        if (zchat_arg_number(value, 0, 1000000000, &n))
            return s_bad("--sub-hwm", value, "a count of messages, 0-1000000000");
        options->sub_hwm = (int)n;
    }
    return -1;
}

static int
s_check_options(void *arg, const client_options_t *shared)
{
    const logger_options_t *options = arg;
    if (options->dir && options->file)
        return client_options_bad("zchat-logger", "-d and -o exclude each other");
    if (!shared->room_count && !options->all)
        return client_options_bad("zchat-logger", "nothing to record: give -r ROOM or --all");
    return -1;
}

// clang-format off
static const char s_help[] =
    "Usage: zchat-logger [OPTION]... (-r ROOM... | --all)\n"
    "Record every event of zchat rooms, exactly once and in order, as an observer (no presence,\n"
    "not listed). Restarted, it resumes after the last event in its files and fills the gap from\n"
    "the broker's history; events the history no longer holds are marked as lost.\n"
    "\n"
    CLIENT_OPTIONS_HELP_BROKER
    "  -r, --room ROOM          record ROOM (repeatable)\n"
    "      --all                record every room, including rooms created later\n"
    "      --format FORMAT      jsonl (default): each event as the broker's JSON object, one a\n"
    "                           line; text: the lines the zchat client shows\n"
    "  -d, --dir DIR            one file per room: DIR/ROOM.jsonl or DIR/ROOM.log\n"
    "  -o, --output FILE        one file for every room (neither -d nor -o: standard output)\n"
    "      --fsync MODE         always (after each event), batch (at most once a second,\n"
    "                           default) or never\n"
    "      --sub-hwm N          feed receive high-water mark in messages (default: libzmq's)\n"
    CLIENT_OPTIONS_HELP_KEYS
    "  -v, --verbose            log every event recorded (debug level)\n"
    CLIENT_OPTIONS_HELP_END
    "\n"
    "SIGHUP reopens the files (logrotate); SIGINT and SIGTERM flush them and stop.\n"
    "Exit status: 0 after SIGINT/SIGTERM, 1 if the broker refuses the login or a secure\n"
    "connection (wrong --server-key), or the files cannot be opened (or another logger uses\n"
    "them), 2 on a bad option, 3 on a write error (what was written is kept).\n"
    "See zchat-logger(1).\n";
// clang-format on

const client_options_program_t logger_program = {
    .name = "zchat-logger",
    .help = s_help,
    .options = s_options,
    .letters = "d:o:",
    .parse = s_parse_option,
    .check = s_check_options,
};

// --- Self-test: the files, without a broker ---

static void
s_test_write(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert(file);
    fputs(text, file);
    fclose(file);
}

// The file's content; caller frees it.
static char *
s_test_read(const char *path)
{
    FILE *file = fopen(path, "r");
    assert(file);
    char *text = zmalloc(65536);
    size_t size = fread(text, 1, 65535, file);
    text[size] = 0;
    fclose(file);
    return text;
}

static void
s_test_event(logger_t *logger, const char *json)
{
    zchat_msg_t *event = zchat_msg_decode(json, strlen(json), NULL);
    assert(event);
    s_on_event(logger, event);
    zchat_msg_destroy(&event);
}

static void
s_test_remove_dir(const char *path)
{
    DIR *dir = opendir(path);
    assert(dir);
    struct dirent *entry;
    while ((entry = readdir(dir)))
        if (!streq(entry->d_name, ".") && !streq(entry->d_name, "..")) {
            char *child = zsys_sprintf("%s/%s", path, entry->d_name);
            struct stat st;
            assert(lstat(child, &st) == 0);
            if (S_ISDIR(st.st_mode))
                s_test_remove_dir(child);
            else
                unlink(child);
            zstr_free(&child);
        }
    closedir(dir);
    rmdir(path);
}

// The expected "[HH:MM:SS]" of ts, computed on its own.
static void
s_test_clock(int64_t ts, char *buf, size_t size)
{
    time_t seconds = (time_t)(ts / 1000);
    struct tm tm;
    localtime_r(&seconds, &tm);
    snprintf(buf, size, "[%02d:%02d:%02d]", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Parse the NULL-ended words as zchat-logger's command line into *options; returns the status
static int
s_test_command_run(logger_options_t *options, const char *const words[])
{
    char *argv[16] = {"zchat-logger"};
    int argc = 1;
    for (; words[argc - 1]; argc++)
        argv[argc] = (char *)words[argc - 1];
    *options = (logger_options_t){0};
    client_options_t *command = client_options_new(&logger_program, options);
    FILE *saved = stderr;  // what is wrong goes there: keep the self-test quiet
    stderr = fopen("/dev/null", "w");
    assert(stderr);
    int rc = client_options_parse(command, argc, argv);
    fclose(stderr);
    stderr = saved;
    if (rc == -1)
        assert(command->room_count > 0 || options->all);
    client_options_destroy(&command);
    return rc;
}
#define s_test_command(options, ...)                                                               \
    s_test_command_run(options, (const char *const[]){__VA_ARGS__, NULL})

void
logger_test(bool verbose)
{
    (void)verbose;
    // The command line: the logger's own options, and its rules across them
    logger_options_t parsed;
    assert(s_test_command(&parsed, "-r", "py", "--format", "text", "-d", "logs", "--fsync",
                          "always", "--sub-hwm", "5") == -1);
    assert(parsed.format == LOGGER_TEXT && streq(parsed.dir, "logs") && !parsed.file);
    assert(parsed.fsync == LOGGER_FSYNC_ALWAYS && parsed.sub_hwm == 5 && !parsed.all);
    assert(s_test_command(&parsed, "--all", "-o", "all.log", "--fsync", "never") == -1);
    assert(parsed.all && streq(parsed.file, "all.log") && parsed.fsync == LOGGER_FSYNC_NEVER);
    assert(parsed.format == LOGGER_JSONL);
    assert(s_test_command(&parsed, "--all", "-d", "x", "-o", "y") == LOGGER_EXIT_USAGE);
    assert(s_test_command(&parsed, "-d", "x") == LOGGER_EXIT_USAGE);  // nothing to record
    assert(s_test_command(&parsed, "--all", "--format", "xml") == LOGGER_EXIT_USAGE);
    assert(s_test_command(&parsed, "--all", "--fsync", "sometimes") == LOGGER_EXIT_USAGE);
    assert(s_test_command(&parsed, "--all", "--sub-hwm", "-1") == LOGGER_EXIT_USAGE);
    assert(s_test_command(&parsed, "--all", "-d", "") == LOGGER_EXIT_USAGE);
    assert(s_test_command(&parsed, "--all", "-u", "alice") == LOGGER_EXIT_USAGE);  // no login

    const char *base = getenv("TMPDIR");
    char *tmp = zsys_sprintf("%s/zchat-logger-test-XXXXXX", base && *base ? base : "/tmp");
    assert(mkdtemp(tmp));
    char *dir = zsys_sprintf("%s/logs/sub", tmp);  // made with its parent
    const char *rooms[] = {"r", "s"};
    logger_options_t options = {.host = "127.0.0.1",
                                .port = 1,
                                .rooms = rooms,
                                .room_count = 2,
                                .format = LOGGER_JSONL,
                                .dir = dir,
                                .fsync = LOGGER_FSYNC_NEVER};

    // jsonl, one file per room: events go to their room's file, in order, once
    logger_t *logger = logger_new(&options);
    assert(logger);
    assert(logger_last_seq(logger, "r") == 0);
    const char *e1 = "{\"type\":\"message\",\"room\":\"r\",\"seq\":1,\"ts\":1,\"from\":\"a\","
                     "\"text\":\"one\"}";
    const char *e2 = "{\"type\":\"message\",\"room\":\"r\",\"seq\":2,\"ts\":2,\"from\":\"a\","
                     "\"text\":\"two\"}";
    s_test_event(logger, e1);
    s_test_event(logger, e2);
    s_test_event(logger, e1);  // a duplicate is dropped
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"s\",\"seq\":4,\"ts\":1}");
    s_on_lost(logger, "r", 3, 6);
    assert(logger_last_seq(logger, "r") == 6 && logger_last_seq(logger, "s") == 4);
    assert(s_flush(logger, true) == 0);
    logger_destroy(&logger);
    assert(logger == NULL);
    logger_destroy(&logger);  // idempotent

    char *r_path = zsys_sprintf("%s/r.jsonl", dir);
    char *text = s_test_read(r_path);
    assert(strncmp(text, e1, strlen(e1)) == 0 && text[strlen(e1)] == '\n');
    char *second = text + strlen(e1) + 1;
    assert(strncmp(second, e2, strlen(e2)) == 0);
    assert(strstr(second, "{\"type\":\"lost\",\"room\":\"r\",\"first\":3,\"last\":6,\"ts\":"));
    free(text);

    // Restart: the last seq comes from the last line (a lost marker's last); a torn line goes
    FILE *file = fopen(r_path, "a");
    fputs("{\"type\":\"message\",\"room\":\"r\",\"se", file);
    fclose(file);
    logger = logger_new(&options);
    assert(logger);
    assert(logger_last_seq(logger, "r") == 6 && logger_last_seq(logger, "s") == 4);
    logger_destroy(&logger);
    text = s_test_read(r_path);
    assert(text[strlen(text) - 1] == '\n' && strstr(text, "\"last\":6,\"ts\":"));
    size_t lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    assert(lines == 3);  // e1, e2 and the marker: the torn line is gone
    free(text);
    // Lines at the end that are no event of the room are skipped back over
    file = fopen(r_path, "a");
    fputs("not json\n{\"type\":\"message\",\"room\":\"other\",\"seq\":99}\n", file);
    fclose(file);
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "r") == 6);
    logger_destroy(&logger);
    zstr_free(&r_path);

    // --all picks up the rooms that have a file
    options.room_count = 0;
    options.all = true;
    char *t_path = zsys_sprintf("%s/t.jsonl", dir);
    s_test_write(t_path, "{\"type\":\"message\",\"room\":\"t\",\"seq\":9}\n");
    char *junk_path = zsys_sprintf("%s/Not-A-Room.jsonl", dir);
    s_test_write(junk_path, "{\"type\":\"message\",\"room\":\"x\",\"seq\":9}\n");
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "r") == 6 && logger_last_seq(logger, "s") == 4);
    assert(logger_last_seq(logger, "t") == 9 && logger_last_seq(logger, "x") == 0);
    logger_destroy(&logger);
    zstr_free(&t_path);
    zstr_free(&junk_path);

    // jsonl, one file: every line counts, per room
    char *one = zsys_sprintf("%s/all.jsonl", tmp);
    s_test_write(one, "{\"type\":\"message\",\"room\":\"a\",\"seq\":1}\n"
                      "{\"type\":\"message\",\"room\":\"b\",\"seq\":7}\n"
                      "garbage\n"
                      "{\"type\":\"lost\",\"room\":\"a\",\"first\":2,\"last\":5,\"ts\":1}\n"
                      "{\"type\":\"message\",\"room\":\"b\",\"seq\":8,\"te");
    options = (logger_options_t){.host = "127.0.0.1",
                                 .port = 1,
                                 .all = true,
                                 .format = LOGGER_JSONL,
                                 .file = one,
                                 .fsync = LOGGER_FSYNC_BATCH};
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "a") == 5 && logger_last_seq(logger, "b") == 7);
    logger_destroy(&logger);
    text = s_test_read(one);
    assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n' && !strstr(text, "\"te"));
    free(text);
    zstr_free(&one);

    // text, one file per room: the client's lines; the seq lives in the state file
    char *text_dir = zsys_sprintf("%s/text", tmp);
    options = (logger_options_t){.host = "127.0.0.1",
                                 .port = 1,
                                 .rooms = rooms,
                                 .room_count = 1,
                                 .format = LOGGER_TEXT,
                                 .dir = text_dir,
                                 .fsync = LOGGER_FSYNC_BATCH};
    logger = logger_new(&options);
    assert(logger);
    logger_t *rival = logger_new(&options);
    assert(rival == NULL);  // a second logger on the same files cannot start
    s_test_event(logger, "{\"type\":\"presence\",\"room\":\"r\",\"seq\":1,\"ts\":1790000000123,"
                         "\"user\":\"alice\",\"event\":\"join\"}");
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"r\",\"seq\":2,\"ts\":1790000000123,"
                         "\"from\":\"alice\",\"text\":\"hi\"}");
    assert(s_flush(logger, false) == 0);
    logger_destroy(&logger);
    char clock[16], date[32];
    s_test_clock(1790000000123, clock, sizeof clock);
    time_t seconds = 1790000000;
    struct tm tm;
    localtime_r(&seconds, &tm);
    strftime(date, sizeof date, "--- %Y-%m-%d ---", &tm);
    char *expected =
        zsys_sprintf("%s\n%s *** alice joined r ***\n%s alice: hi\n", date, clock, clock);
    char *log_path = zsys_sprintf("%s/r.log", text_dir);
    text = s_test_read(log_path);
    assert(streq(text, expected));
    free(text);

    // A crash after lines were written but before their record: cut back to the record
    file = fopen(log_path, "a");
    fputs("[00:00:00] alice: not recorded\n[00:00:01] alice: torn", file);
    fclose(file);
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "r") == 2);
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"r\",\"seq\":3,\"ts\":1790000000123,"
                         "\"from\":\"bob\",\"text\":\"again\"}");
    assert(s_flush(logger, true) == 0);
    logger_destroy(&logger);
    text = s_test_read(log_path);
    char *again = zsys_sprintf("%s%s\n%s bob: again\n", expected, date, clock);
    assert(streq(text, again));
    free(text);
    zstr_free(&again);

    // SIGHUP after logrotate moved the file: a new one starts, the old one keeps its lines
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "r") == 3);
    char *moved = zsys_sprintf("%s.1", log_path);
    assert(rename(log_path, moved) == 0);
    int rc = logger_reopen(logger);
    assert(rc == 0);
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"r\",\"seq\":4,\"ts\":1790000000123,"
                         "\"from\":\"bob\",\"text\":\"new file\"}");
    assert(s_flush(logger, false) == 0);
    logger_destroy(&logger);
    text = s_test_read(log_path);
    char *fresh = zsys_sprintf("%s\n%s bob: new file\n", date, clock);
    assert(streq(text, fresh));
    free(text);
    zstr_free(&fresh);
    logger = logger_new(&options);  // the new file's offsets are the ones recorded
    assert(logger && logger_last_seq(logger, "r") == 4);
    logger_destroy(&logger);
    text = s_test_read(moved);
    assert(strstr(text, "bob: again\n") && !strstr(text, "new file"));
    free(text);
    zstr_free(&moved);
    zstr_free(&log_path);
    zstr_free(&expected);

    // A room new to the logger has its record on disk before its first line: a crash between
    // the lines and their record cuts the lines back, instead of recording them twice
    options.rooms = NULL;
    options.room_count = 0;
    options.all = true;
    logger = logger_new(&options);
    assert(logger);
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"n\",\"seq\":1,\"ts\":1790000000123,"
                         "\"from\":\"carol\",\"text\":\"first\"}");
    char *state_path = zsys_sprintf("%s/%s", text_dir, LOGGER_STATE_NAME);
    char *state = s_test_read(state_path);  // as a crash right now would leave it
    assert(strstr(state, "\nn 0 0\n"));
    char *crashed = zsys_sprintf("%s/crashed", tmp);
    assert(mkdir(crashed, 0755) == 0);
    char *crashed_state = zsys_sprintf("%s/%s", crashed, LOGGER_STATE_NAME);
    s_test_write(crashed_state, state);
    char *crashed_log = zsys_sprintf("%s/n.log", crashed);
    s_test_write(crashed_log, "[00:00:00] carol: first\n");  // written, its record not yet
    logger_destroy(&logger);
    options.dir = crashed;
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "n") == 0);
    logger_destroy(&logger);
    text = s_test_read(crashed_log);
    assert(*text == 0);  // cut back: the broker's history gives carol's line again, once
    free(text);
    // So does a log moved away while the logger was stopped: its new file's record first
    options.dir = text_dir;
    char *r_log = zsys_sprintf("%s/r.log", text_dir), *r_moved = zsys_sprintf("%s.2", r_log);
    assert(rename(r_log, r_moved) == 0);
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "r") == 4);
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"r\",\"seq\":5,\"ts\":1790000000123,"
                         "\"from\":\"bob\",\"text\":\"after the move\"}");
    zstr_free(&state);
    state = s_test_read(state_path);
    assert(strstr(state, "\nr 4 0\n"));
    logger_destroy(&logger);
    zstr_free(&r_log);
    zstr_free(&r_moved);
    zstr_free(&state);
    zstr_free(&state_path);
    zstr_free(&crashed_log);
    zstr_free(&crashed_state);
    zstr_free(&crashed);
    zstr_free(&text_dir);

    // text, one file: the room in front; the state's last record is the commit point
    char *one_text = zsys_sprintf("%s/all.log", tmp);
    options = (logger_options_t){.host = "127.0.0.1",
                                 .port = 1,
                                 .all = true,
                                 .format = LOGGER_TEXT,
                                 .file = one_text,
                                 .fsync = LOGGER_FSYNC_ALWAYS};
    logger = logger_new(&options);
    assert(logger);
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"a\",\"seq\":1,\"ts\":1790000000123,"
                         "\"from\":\"x\",\"text\":\"in a\"}");
    s_test_event(logger, "{\"type\":\"message\",\"room\":\"b\",\"seq\":5,\"ts\":1790000000123,"
                         "\"from\":\"y\",\"text\":\"in b\"}");
    logger_destroy(&logger);
    file = fopen(one_text, "a");
    fputs("[00:00:00] #a x: written, not recorded\n", file);
    fclose(file);
    logger = logger_new(&options);
    assert(logger && logger_last_seq(logger, "a") == 1 && logger_last_seq(logger, "b") == 5);
    logger_destroy(&logger);
    text = s_test_read(one_text);
    expected = zsys_sprintf("%s\n%s #a x: in a\n%s #b y: in b\n", date, clock, clock);
    assert(streq(text, expected));
    free(text);
    zstr_free(&expected);
    zstr_free(&one_text);

    zstr_free(&dir);
    s_test_remove_dir(tmp);
    zstr_free(&tmp);
}
