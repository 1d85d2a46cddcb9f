// ui.c - the zchat command line on top of conn: commands, the display of every line, and line
// editing with GNU readline when stdin is a terminal (plain lines when it is not)
//
// conn delivers every room event once and in order; this module only decides what a line looks
// like. Every string that came from the wire (or from the keyboard) goes through
// zchat_text_safe before it reaches the terminal, so nobody can move our cursor, change colors
// or set the window title with a message.
#include "zchat_prelude.h"
#include "zchat_hash.h"
#include "ui.h"
#include "conn.h"
#include "render.h"
#include "zchat_msg.h"
#include "zchat_name.h"
#include "zchat_password.h"
#include "zchat_text.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  // readline.h uses FILE without including stdio.h
#include <strings.h>
#include <unistd.h>
#include <readline/readline.h>
#include <readline/history.h>

#define UI_HISTORY_DEFAULT 20     // events shown by /history without N
#define UI_DRAIN_MS        2000   // at end of input, how long replies in flight are waited for
#define UI_INPUT_MAX       65536  // bytes of one input line without a newline, in non-tty mode
#define UI_WAIT_MS         1000   // one conn_wait slice
#define UI_CONNECT_MS      3000   // an unreachable broker is reported within this

// A room we are in
typedef struct {
    char name[ZCHAT_NAME_MAX + 1];
    uint64_t last_seq;  // newest seq seen in this room; 0 until one is seen
} s_joined_room_t;

// A join or leave in flight. Both act at once, so the next line of a script already goes to the
// new room; an error undoes them.
typedef struct {
    char room[ZCHAT_NAME_MAX + 1];  // canonical; "" for a name the broker will refuse
    bool changed;                   // join: the room was added; leave: the room was removed
    bool switched;                  // leave: the current room changed
} s_room_wait_t;

// What a rooms request in flight is for: showing the list, or finding the seq for /history
typedef struct {
    char history_room[ZCHAT_NAME_MAX + 1];  // "" for /rooms
    int count;                              // events /history asked for
} s_rooms_wait_t;

struct ui {
    char *host;
    int port;
    char *user;
    char *start_room;                  // -r: joined after login; NULL if none
    bool tty;                          // stdin is a terminal: readline in callback mode
    bool color;                        // ANSI colors on stdout
    conn_t *conn;                      // NULL until ui_run
    zlistx_t *rooms;                   // s_joined_room_t *, least recently current first
    char current[ZCHAT_NAME_MAX + 1];  // where plain text goes; "" when in no room
    zhashx_t *users;                   // folded name -> display name, for completion (owned)
    zhashx_t *room_names;              // every room name seen, for completion (owned)
    zhashx_t *statuses;                // folded name -> "ts text" of the last status shown
    zlistx_t *rooms_waits;             // s_rooms_wait_t *, one per rooms request in flight
    zlistx_t *join_waits;              // s_room_wait_t *, one per join in flight
    zlistx_t *leave_waits;             // s_room_wait_t *, one per leave in flight
    zlistx_t *ok_waits;                // char *, the line to show for each status request
    int pending_sends;                 // say and msg not acked yet (conn retries them)
    int pending_requests;              // other requests in flight (lost with the connection)
    bool quit;                         // leave the main loop now
    bool leaving;                      // /quit or end of input: leave once replies are in
    char *quit_reason;                 // for the quit request; NULL if none
    char *input;                       // non-tty: bytes read that are not a whole line yet
    size_t input_size;                 // bytes in input
    bool readline_on;                  // the readline callback handler is installed
    bool in_handler;                   // readline is calling us with a finished line
    FILE *quiet_log;                   // /dev/null: where logs go while readline draws
    char *server_key;                  // CURVE: the broker's public key; NULL: plain
    zcert_t *client_cert;              // our certificate; NULL: conn makes one
    char *password;                    // --password-file's (wiped when freed); NULL: none
    int password_asks;                 // passwords asked on the terminal so far
    char *error;                       // why ui_run returned 1; NULL before
};

// --- Input: one line is a command or a message ---

typedef enum {
    S_ARGS_NONE,       // /who
    S_ARGS_OPT_WORD,   // /leave [room]
    S_ARGS_WORD,       // /join <room>
    S_ARGS_OPT_TEXT,   // /away [note]
    S_ARGS_WORD_TEXT,  // /msg <user> <text>
} s_args_t;

typedef enum {
    S_INPUT_EMPTY,    // nothing but blanks
    S_INPUT_TEXT,     // a message for the current room
    S_INPUT_COMMAND,  // a known command with valid arguments
    S_INPUT_USAGE,    // a known command with missing or extra arguments
    S_INPUT_UNKNOWN,  // /something we do not know
} s_input_kind_t;

typedef struct {
    s_input_kind_t kind;
    int command;       // index in s_commands (COMMAND, USAGE); -1 otherwise
    const char *word;  // the first argument (WORD, OPT_WORD, WORD_TEXT) or the unknown command
    const char *text;  // TEXT: the message; OPT_TEXT and WORD_TEXT: the free text
} s_input_t;

typedef void s_command_fn(ui_t *self, const s_input_t *input);

static s_command_fn s_cmd_help, s_cmd_join, s_cmd_leave, s_cmd_rooms, s_cmd_users, s_cmd_who,
    s_cmd_msg, s_cmd_switch, s_cmd_away, s_cmd_back, s_cmd_history, s_cmd_quit;

// Every command, in the order /help lists them
static const struct {
    const char *name;
    s_args_t args;
    const char *usage;
    const char *help;
    s_command_fn *run;
    bool completes_room;  // Tab on the first argument offers room names
    bool completes_user;  // Tab on the first argument offers user names
} s_commands[] = {
    {"/help", S_ARGS_NONE, "/help", "list the commands", s_cmd_help, false, false},
    {"/join", S_ARGS_WORD, "/join <room>", "join a room and make it current", s_cmd_join, true,
     false},
    {"/leave", S_ARGS_OPT_WORD, "/leave [room]", "leave a room (the current one if none)",
     s_cmd_leave, true, false},
    {"/rooms", S_ARGS_NONE, "/rooms", "list the rooms and how many are in each", s_cmd_rooms, false,
     false},
    {"/users", S_ARGS_OPT_WORD, "/users [room]", "list the users in a room (the current one)",
     s_cmd_users, true, false},
    {"/who", S_ARGS_NONE, "/who", "list every user online", s_cmd_who, false, false},
    {"/msg", S_ARGS_WORD_TEXT, "/msg <user> <text>", "send a private message", s_cmd_msg, false,
     true},
    {"/switch", S_ARGS_WORD, "/switch <room>", "make another joined room current", s_cmd_switch,
     true, false},
    {"/away", S_ARGS_OPT_TEXT, "/away [note]", "mark yourself away", s_cmd_away, false, false},
    {"/back", S_ARGS_NONE, "/back", "mark yourself back", s_cmd_back, false, false},
    {"/history", S_ARGS_OPT_WORD, "/history [N]", "show the last N events of the current room",
     s_cmd_history, false, false},
    {"/quit", S_ARGS_OPT_TEXT, "/quit [reason]", "leave the chat", s_cmd_quit, false, false},
};

#define S_COMMANDS (int)(sizeof s_commands / sizeof s_commands[0])

static bool
s_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

// Split a typed line into a command and its arguments, or a message. Cuts line in place (the
// command's words are NUL-terminated, trailing blanks of a command line removed); input points
// into line.
static void
s_parse(char *line, s_input_t *input)
{
    *input = (s_input_t){.kind = S_INPUT_TEXT, .command = -1, .word = "", .text = ""};
    const char *start = line;
    while (s_is_blank(*start))
        start++;
    if (!*start) {
        input->kind = S_INPUT_EMPTY;
        return;
    }
    if (line[0] != '/' || line[1] == '/') {
        input->text = line[0] == '/' ? line + 1 : line;  // "//x" says "/x"
        return;
    }
    size_t end = strlen(line);
    while (end > 0 && s_is_blank(line[end - 1]))
        line[--end] = 0;
    size_t length = 0;
    while (line[length] && !s_is_blank(line[length]))
        length++;
    char *rest = line + length;
    while (s_is_blank(*rest))
        rest++;
    for (int i = 0; i < S_COMMANDS; i++)
        if (strlen(s_commands[i].name) == length &&
            strncasecmp(line, s_commands[i].name, length) == 0)
            input->command = i;
    line[length] = 0;
    if (input->command < 0) {
        input->kind = S_INPUT_UNKNOWN;
        input->word = line;
        return;
    }
    // The first word of rest, NUL-terminated; after points at what follows it
    char *word_end = rest;
    while (*word_end && !s_is_blank(*word_end))
        word_end++;
    char *after = word_end;
    while (s_is_blank(*after))
        after++;
    bool valid = true;
    switch (s_commands[input->command].args) {
    case S_ARGS_NONE:
        valid = !*rest;
        break;
    case S_ARGS_OPT_WORD:
    case S_ARGS_WORD:
        valid = !*after && (*rest || s_commands[input->command].args == S_ARGS_OPT_WORD);
        *word_end = 0;
        input->word = rest;
        break;
    case S_ARGS_OPT_TEXT:
        input->text = rest;
        break;
    case S_ARGS_WORD_TEXT:
        valid = *rest && *after;
        *word_end = 0;
        input->word = rest;
        input->text = after;
        break;
    }
    input->kind = valid ? S_INPUT_COMMAND : S_INPUT_USAGE;
}

// /history's count: 1..ZCHAT_HISTORY_MAX, or UI_HISTORY_DEFAULT for "". -1 if not a count.
static int
s_parse_count(const char *word)
{
    if (!*word)
        return UI_HISTORY_DEFAULT;
    int count = 0;
    for (const char *c = word; *c; c++) {
        if (*c < '0' || *c > '9' || count > ZCHAT_HISTORY_MAX)
            return -1;
        count = count * 10 + (*c - '0');
    }
    return count >= 1 && count <= ZCHAT_HISTORY_MAX ? count : -1;
}

// The since of a history request for the last count events of a room whose newest is last
static uint64_t
s_history_since(uint64_t last, int count)
{
    return last > (uint64_t)count ? last - (uint64_t)count : 0;
}

// --- Lines: what the user sees (render.c makes the lines of events) ---

// A broker's error sentence as one line's text: safe, on one line, without a final period
static char *
s_error_text(const zchat_msg_t *error)
{
    const char *message = zchat_msg_string(error, "message");
    const char *code = zchat_msg_string(error, "code");
    char *text = zchat_text_safe(message && *message ? message : code ? code : "error");
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '.' || text[length - 1] == ' '))
        text[--length] = 0;
    for (char *c = text; *c; c++)
        if (*c == '\t')
            *c = ' ';
    return text;
}

// --- Showing lines ---

static void
s_show(ui_t *self, const char *line)
{
    if (self->readline_on && !self->in_handler) {
        // Take the input line off the screen, print above it, then draw it again as it was:
        // rl_line_buffer and rl_point are untouched, so the half-typed text survives
        rl_clear_visible_line();
        fputs(line, stdout);
        fputs("\n", stdout);
        rl_forced_update_display();
    } else {
        fputs(line, stdout);
        fputs("\n", stdout);
    }
    fflush(stdout);
}

// Show "[now] *** text ***"; text need not be safe.
static void
s_notice(ui_t *self, const char *text)
{
    char *line = render_notice(zclock_time(), text, self->color);
    s_show(self, line);
    free(line);
}

// --- Rooms and names we know ---

static void
s_item_free(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

static s_joined_room_t *
s_room_find(ui_t *self, const char *name)
{
    for (s_joined_room_t *room = zlistx_first(self->rooms); room; room = zlistx_next(self->rooms))
        if (streq(room->name, name))
            return room;
    return NULL;
}

// Add a room we are in: at the end when it becomes current, else at the front (least recent).
// Returns NULL, adding nothing, for a name that is not a room name as the broker must send it
// (canonical): names from the wire reach the prompt and readline's completion, which print
// them as they are, so anything else could carry escape sequences.
static s_joined_room_t *
s_room_add(ui_t *self, const char *name, bool becomes_current)
{
    if (!zchat_name_is_room(name))
        return NULL;
    s_joined_room_t *room = s_room_find(self, name);
    if (room && becomes_current)
        zlistx_move_end(self->rooms, zlistx_cursor(self->rooms));
    if (!room) {
        room = zmalloc(sizeof(s_joined_room_t));
        snprintf(room->name, sizeof room->name, "%s", name);
        if (becomes_current)
            zlistx_add_end(self->rooms, room);
        else
            zlistx_add_start(self->rooms, room);
    }
    zhashx_update(self->room_names, name, (void *)name);
    return room;
}

static void
s_room_remove(ui_t *self, const char *name)
{
    if (s_room_find(self, name)) {
        s_joined_room_t *room = zlistx_detach_cur(self->rooms);
        free(room);
    }
}

static void
s_room_seen(ui_t *self, const char *name, int64_t seq)
{
    s_joined_room_t *room = s_room_find(self, name);
    if (room && seq > 0 && (uint64_t)seq > room->last_seq)
        room->last_seq = (uint64_t)seq;
}

static void
s_user_seen(ui_t *self, const char *name)
{
    char fold[ZCHAT_NAME_MAX + 1];
    if (name && zchat_name_is_user(name) && zchat_name_fold(name, fold, sizeof fold) == 0)
        zhashx_update(self->users, fold, (void *)name);
}

static char *
s_prompt(const ui_t *self)
{
    return *self->current ? zsys_sprintf("#%s> ", self->current) : zsys_sprintf("> ");
}

static void
s_set_current(ui_t *self, const char *room)
{
    snprintf(self->current, sizeof self->current, "%s", room);
    if (self->readline_on) {
        char *prompt = s_prompt(self);
        rl_set_prompt(prompt);
        free(prompt);
    }
}

// --- Requests ---

static bool
s_require_online(ui_t *self)
{
    if (conn_is_online(self->conn))
        return true;
    s_notice(self, "Not connected to the broker: try again once reconnected");
    return false;
}

static void
s_send(ui_t *self, zchat_msg_t **request_p)
{
    conn_send(self->conn, request_p);
    self->pending_requests++;
}

static void
s_send_rooms(ui_t *self, const char *history_room, int count)
{
    s_rooms_wait_t *wait = zmalloc(sizeof(s_rooms_wait_t));
    snprintf(wait->history_room, sizeof wait->history_room, "%s", history_room);
    wait->count = count;
    zlistx_add_end(self->rooms_waits, wait);
    zchat_msg_t *request = zchat_msg_new("rooms");
    s_send(self, &request);
}

static void
s_send_history(ui_t *self, const char *room, uint64_t since, int count)
{
    zchat_msg_t *request = zchat_msg_new("history");
    zchat_msg_set_string(request, "room", room);
    zchat_msg_set_int(request, "since", (int64_t)since);
    zchat_msg_set_int(request, "limit", count);
    s_send(self, &request);
}

static void
s_send_status(ui_t *self, const char *status, const char *note, const char *confirmation)
{
    zchat_msg_t *request = zchat_msg_new("status");
    zchat_msg_set_string(request, "status", status);
    if (note && *note)
        zchat_msg_set_string(request, "note", note);
    char *line = strdup(confirmation);
    assert(line);
    zlistx_add_end(self->ok_waits, line);
    s_send(self, &request);
}

// true if text may go out as say/msg text or a note; says why not otherwise
static bool
s_text_ok(ui_t *self, const char *text, size_t min, size_t max)
{
    if (zchat_text_is_valid(text, min, max))
        return true;
    char *why =
        zsys_sprintf("Text must be %zu to %zu bytes of UTF-8 without control characters", min, max);
    s_notice(self, why);
    free(why);
    return false;
}

// true if a name may go out in a request: the broker judges it, but it must be UTF-8 to be
// sent at all
static bool
s_name_ok(ui_t *self, const char *name)
{
    if (zchat_text_is_utf8(name, strlen(name)))
        return true;
    s_notice(self, "Names must be valid UTF-8");
    return false;
}

// --- Commands ---

static void
s_cmd_help(ui_t *self, const s_input_t *input)
{
    (void)input;
    s_notice(self, "Commands");
    for (int i = 0; i < S_COMMANDS; i++) {
        char *line = zsys_sprintf("  %-20s %s", s_commands[i].usage, s_commands[i].help);
        s_show(self, line);
        free(line);
    }
    s_show(self, "  Anything else is said in the current room (start with // to say /...).");
}

static s_room_wait_t *
s_room_wait_new(zlistx_t *waits, const char *input)
{
    s_room_wait_t *wait = zmalloc(sizeof(s_room_wait_t));
    if (zchat_name_room(input, wait->room, sizeof wait->room) == -1)
        wait->room[0] = 0;
    zlistx_add_end(waits, wait);
    return wait;
}

static void
s_cmd_join(ui_t *self, const s_input_t *input)
{
    if (!s_name_ok(self, input->word) || !s_require_online(self))
        return;
    conn_join(self->conn, input->word);
    self->pending_requests++;
    s_room_wait_t *wait = s_room_wait_new(self->join_waits, input->word);
    if (*wait->room) {
        wait->changed = !s_room_find(self, wait->room);
        s_room_add(self, wait->room, true);
        s_set_current(self, wait->room);
    }
}

static void
s_cmd_leave(ui_t *self, const s_input_t *input)
{
    const char *room = *input->word ? input->word : self->current;
    if (!*room) {
        s_notice(self, "You are in no room");
        return;
    }
    if (!s_name_ok(self, room) || !s_require_online(self))
        return;
    conn_leave(self->conn, room);
    self->pending_requests++;
    s_room_wait_t *wait = s_room_wait_new(self->leave_waits, room);
    if (*wait->room && s_room_find(self, wait->room)) {
        wait->changed = true;
        s_room_remove(self, wait->room);
        if (streq(wait->room, self->current)) {
            // Back to the room that was current before: the list is in order of use
            s_joined_room_t *previous = zlistx_last(self->rooms);
            s_set_current(self, previous ? previous->name : "");
            wait->switched = true;
        }
    }
}

static void
s_cmd_rooms(ui_t *self, const s_input_t *input)
{
    (void)input;
    if (s_require_online(self))
        s_send_rooms(self, "", 0);
}

static void
s_cmd_users(ui_t *self, const s_input_t *input)
{
    const char *room = *input->word ? input->word : self->current;
    if (!s_name_ok(self, room) || !s_require_online(self))
        return;
    zchat_msg_t *request = zchat_msg_new("users");
    if (*room)
        zchat_msg_set_string(request, "room", room);
    s_send(self, &request);
}

static void
s_cmd_who(ui_t *self, const s_input_t *input)
{
    (void)input;
    if (!s_require_online(self))
        return;
    zchat_msg_t *request = zchat_msg_new("users");
    s_send(self, &request);
}

static void
s_cmd_msg(ui_t *self, const s_input_t *input)
{
    if (!s_name_ok(self, input->word) || !s_text_ok(self, input->text, 1, ZCHAT_TEXT_MAX))
        return;
    conn_msg(self->conn, input->word, input->text);  // conn resends it after a reconnect
    self->pending_sends++;
}

static void
s_cmd_switch(ui_t *self, const s_input_t *input)
{
    char room[ZCHAT_NAME_MAX + 1];
    if (zchat_name_room(input->word, room, sizeof room) == -1 || !s_room_find(self, room)) {
        char *text = zsys_sprintf("You are not in %s: /join it first", input->word);
        s_notice(self, text);
        free(text);
        return;
    }
    s_room_add(self, room, true);
    s_set_current(self, room);
    char *text = zsys_sprintf("Switched to room: %s", room);
    s_notice(self, text);
    free(text);
}

static void
s_cmd_away(ui_t *self, const s_input_t *input)
{
    if (!s_text_ok(self, input->text, 0, ZCHAT_NOTE_MAX) || !s_require_online(self))
        return;
    char *confirmation = *input->text ? zsys_sprintf("You are marked as away: %s", input->text)
                                      : zsys_sprintf("You are marked as away");
    s_send_status(self, "away", input->text, confirmation);
    free(confirmation);
}

static void
s_cmd_back(ui_t *self, const s_input_t *input)
{
    (void)input;
    if (s_require_online(self))
        s_send_status(self, "online", NULL, "You are back");
}

static void
s_cmd_history(ui_t *self, const s_input_t *input)
{
    int count = s_parse_count(input->word);
    if (count == -1) {
        char *text = zsys_sprintf("Usage: /history [N] (N from 1 to %d)", ZCHAT_HISTORY_MAX);
        s_notice(self, text);
        free(text);
        return;
    }
    if (!*self->current) {
        s_notice(self, "You are in no room");
        return;
    }
    if (!s_require_online(self))
        return;
    s_joined_room_t *room = s_room_find(self, self->current);
    if (room && room->last_seq > 0)
        s_send_history(self, room->name, s_history_since(room->last_seq, count), count);
    else
        s_send_rooms(self, self->current, count);  // the room's last seq first
}

static void
s_cmd_quit(ui_t *self, const s_input_t *input)
{
    if (!s_text_ok(self, input->text, 0, ZCHAT_NOTE_MAX))
        return;
    zstr_free(&self->quit_reason);
    if (*input->text) {
        self->quit_reason = strdup(input->text);
        assert(self->quit_reason);
    }
    self->leaving = true;  // after the answers to what was typed before
}

static void
s_say(ui_t *self, const char *text)
{
    if (!*self->current) {
        s_notice(self, "You are in no room: /join one first");
        return;
    }
    if (s_text_ok(self, text, 1, ZCHAT_TEXT_MAX)) {
        conn_say(self->conn, self->current, text);  // shown when it comes back on the feed
        self->pending_sends++;
    }
}

// Run what was typed
static void
s_run_input(ui_t *self, const s_input_t *input)
{
    if (input->kind == S_INPUT_TEXT) {
        s_say(self, input->text);
    } else if (input->kind == S_INPUT_COMMAND) {
        s_commands[input->command].run(self, input);
    } else if (input->kind == S_INPUT_USAGE) {
        char *text = zsys_sprintf("Usage: %s", s_commands[input->command].usage);
        s_notice(self, text);
        free(text);
    } else if (input->kind == S_INPUT_UNKNOWN) {
        char *text = zsys_sprintf("Unknown command: %s (try /help)", input->word);
        s_notice(self, text);
        free(text);
    }
}

// Run one typed line. line is cut in place.
static void
s_run_line(ui_t *self, char *line)
{
    s_input_t input;
    s_parse(line, &input);
    s_run_input(self, &input);
}

// --- Replies from the broker (through conn) ---

typedef void s_reply_fn(ui_t *self, const zchat_msg_t *reply);

static void
s_on_joined(ui_t *self, const zchat_msg_t *reply)
{
    free(zlistx_detach(self->join_waits, NULL));
    const char *room = zchat_msg_string(reply, "room");
    if (!room)
        return;
    int64_t seq = 0;
    zchat_msg_opt_int(reply, "seq", &seq);
    if (!s_room_find(self, room))
        s_room_add(self, room, false);
    s_room_seen(self, room, seq);
    for (size_t i = 0; i < zchat_msg_array_size(reply, "members"); i++)
        s_user_seen(self, zchat_msg_array_string(reply, "members", i));
    char *text = zsys_sprintf("Joined room: %s", room);
    s_notice(self, text);
    free(text);
}

static void
s_on_left(ui_t *self, const zchat_msg_t *reply)
{
    s_room_wait_t *wait = zlistx_detach(self->leave_waits, NULL);
    const char *room = zchat_msg_string(reply, "room");
    if (room) {
        s_room_remove(self, room);
        char *text = zsys_sprintf("Left room: %s", room);
        s_notice(self, text);
        free(text);
    }
    if (wait && wait->switched) {
        char *text = *self->current ? zsys_sprintf("Switched to room: %s", self->current)
                                    : zsys_sprintf("You are in no room now: /join one");
        s_notice(self, text);
        free(text);
    }
    free(wait);
}

// A join or leave failed: undo what it did at once
static void
s_undo_room_change(ui_t *self, const char *request, const char *code)
{
    bool join = streq(request, "join");
    s_room_wait_t *wait = zlistx_detach(join ? self->join_waits : self->leave_waits, NULL);
    if (wait && wait->changed && join) {
        s_room_remove(self, wait->room);
        if (streq(self->current, wait->room)) {
            s_joined_room_t *previous = zlistx_last(self->rooms);
            s_set_current(self, previous ? previous->name : "");
        }
    } else if (wait && wait->changed && !streq(code, "not_in_room")) {
        s_room_add(self, wait->room, false);  // still in it
    }
    free(wait);
}

static void
s_on_rooms(ui_t *self, const zchat_msg_t *reply)
{
    char *list = strdup("");
    assert(list);
    size_t count = zchat_msg_array_size(reply, "rooms");
    for (size_t i = 0; i < count; i++) {
        zchat_msg_t *room = zchat_msg_array_object(reply, "rooms", i);
        const char *name = room ? zchat_msg_string(room, "name") : NULL;
        if (!name || !zchat_name_is_room(name))
            continue;  // a broker's bug or worse: never offered for completion
        int64_t members = 0, seq = 0;
        zchat_msg_opt_int(room, "members", &members);
        zchat_msg_opt_int(room, "seq", &seq);
        s_room_seen(self, name, seq);
        zhashx_update(self->room_names, name, (void *)name);
        char *longer = zsys_sprintf("%s%s%s (%" PRId64 " user%s)", list, *list ? ", " : "", name,
                                    members, members == 1 ? "" : "s");
        free(list);
        list = longer;
    }
    s_rooms_wait_t *wait = zlistx_detach(self->rooms_waits, NULL);
    if (wait && *wait->history_room) {
        // /history needed the room's last seq: now ask for its events
        s_joined_room_t *room = s_room_find(self, wait->history_room);
        uint64_t last = room ? room->last_seq : 0;
        s_send_history(self, wait->history_room, s_history_since(last, wait->count), wait->count);
    } else {
        char *text = *list ? zsys_sprintf("Rooms: %s", list) : zsys_sprintf("No rooms yet");
        s_notice(self, text);
        free(text);
    }
    free(wait);
    free(list);
}

static void
s_on_users(ui_t *self, const zchat_msg_t *reply)
{
    char *list = strdup("");
    assert(list);
    for (size_t i = 0; i < zchat_msg_array_size(reply, "users"); i++) {
        zchat_msg_t *user = zchat_msg_array_object(reply, "users", i);
        const char *name = user ? zchat_msg_string(user, "name") : NULL;
        if (!name)
            continue;
        s_user_seen(self, name);
        const char *status = zchat_msg_string(user, "status");
        const char *note = zchat_msg_string(user, "note");
        char *entry;
        if (status && !streq(status, "online") && note && *note)
            entry = zsys_sprintf("%s (%s: %s)", name, status, note);
        else if (status && !streq(status, "online"))
            entry = zsys_sprintf("%s (%s)", name, status);
        else
            entry = zsys_sprintf("%s", name);
        char *longer = zsys_sprintf("%s%s%s", list, *list ? ", " : "", entry);
        free(entry);
        free(list);
        list = longer;
    }
    const char *room = zchat_msg_string(reply, "room");
    char *text;
    if (room)
        text = zsys_sprintf("Users in %s: %s", room, *list ? list : "nobody");
    else
        text = zsys_sprintf("Online: %s", *list ? list : "nobody");
    s_notice(self, text);
    free(text);
    free(list);
}

static void
s_on_history(ui_t *self, const zchat_msg_t *reply)
{
    const char *room = zchat_msg_string(reply, "room");
    size_t count = zchat_msg_array_size(reply, "events");
    char *text;
    if (count == 0)
        text = zsys_sprintf("No events in %s yet", room ? room : "?");
    else
        text =
            zsys_sprintf("Last %zu event%s of %s", count, count == 1 ? "" : "s", room ? room : "?");
    s_notice(self, text);
    free(text);
    if (count == 0)
        return;
    for (size_t i = 0; i < count; i++) {
        zchat_msg_t *event = zchat_msg_array_object(reply, "events", i);
        char *line = event ? render_event(event, self->current, self->color) : NULL;
        if (line)
            s_show(self, line);
        free(line);
    }
    s_notice(self, "End of history");
}

static void
s_on_ok(ui_t *self, const zchat_msg_t *reply)
{
    (void)reply;
    char *line = zlistx_detach(self->ok_waits, NULL);
    if (line)
        s_notice(self, line);
    free(line);
}

static void
s_on_ack(ui_t *self, const zchat_msg_t *reply)
{
    const char *request = zchat_msg_string(reply, "request");
    const char *to = zchat_msg_string(reply, "to");
    if (request && streq(request, "msg") && to) {
        char *text = zsys_sprintf("Private message sent to %s", to);
        s_notice(self, text);
        free(text);
    }
    // A say shows when it comes back on the feed, with its seq and timestamp
}

static void
s_on_error(ui_t *self, const zchat_msg_t *reply)
{
    // The reply to this request will not come: forget what it was for
    const char *request = zchat_msg_string(reply, "request");
    const char *code = zchat_msg_string(reply, "code");
    if (request && streq(request, "rooms"))
        free(zlistx_detach(self->rooms_waits, NULL));
    else if (request && streq(request, "status"))
        free(zlistx_detach(self->ok_waits, NULL));
    else if (request && (streq(request, "join") || streq(request, "leave")))
        s_undo_room_change(self, request, code ? code : "");
    char *text = s_error_text(reply);
    s_notice(self, text);
    free(text);
}

static void
s_on_private(ui_t *self, const zchat_msg_t *reply)
{
    s_user_seen(self, zchat_msg_string(reply, "from"));
    char *line = render_private(reply, self->color);
    if (line)
        s_show(self, line);
    free(line);
}

static const struct {
    const char *type;
    s_reply_fn *show;
    bool answers;  // the answer to one of our requests (private is not)
} s_replies[] = {
    {"joined", s_on_joined, true},    {"left", s_on_left, true},
    {"rooms", s_on_rooms, true},      {"users", s_on_users, true},
    {"history", s_on_history, true},  {"ok", s_on_ok, true},
    {"ack", s_on_ack, true},          {"error", s_on_error, true},
    {"private", s_on_private, false},
};

static void
s_conn_reply(void *arg, const zchat_msg_t *reply)
{
    ui_t *self = arg;
    const char *type = zchat_msg_type(reply);
    for (size_t i = 0; type && i < sizeof s_replies / sizeof s_replies[0]; i++)
        if (streq(type, s_replies[i].type)) {
            if (s_replies[i].answers) {
                const char *request = zchat_msg_string(reply, "request");
                bool send = request && (streq(request, "say") || streq(request, "msg"));
                int *counter = send ? &self->pending_sends : &self->pending_requests;
                if (*counter > 0)
                    (*counter)--;
            }
            s_replies[i].show(self, reply);
            return;
        }
    zchat_debug("ignoring a %s reply", type ? type : "typeless");
}

// True if name (from the wire) is ours, case aside.
static bool
s_is_me(ui_t *self, const char *name)
{
    char fold[ZCHAT_NAME_MAX + 1], my_fold[ZCHAT_NAME_MAX + 1];
    return zchat_name_fold(name, fold, sizeof fold) == 0 &&
           zchat_name_fold(conn_user(self->conn), my_fold, sizeof my_fold) == 0 &&
           streq(fold, my_fold);
}

static void
s_conn_event(void *arg, const zchat_msg_t *event)
{
    ui_t *self = arg;
    const char *room = zchat_msg_string(event, "room");
    if (!room)
        return;
    if (!s_room_find(self, room))
        s_room_add(self, room, false);  // conn says we are in it (a rejoin after a restart)
    int64_t seq = 0;
    zchat_msg_opt_int(event, "seq", &seq);
    s_room_seen(self, room, seq);
    const char *who = zchat_msg_string(event, "user");
    if (!who)
        who = zchat_msg_string(event, "from");
    s_user_seen(self, who);
    const char *what = zchat_msg_string(event, "event");
    if (who && what && streq(what, "status")) {
        // A status change comes once per room we share: show it once. Ours: /away said it
        char fold[ZCHAT_NAME_MAX + 1];
        if (zchat_name_fold(who, fold, sizeof fold) == -1 || s_is_me(self, who))
            return;
        // One status request makes one event per room, all with the same ts: that is a repeat;
        // the same words later are a new change
        char *text = render_presence(event);
        char *change = text ? zsys_sprintf("%" PRId64 " %s", render_ts(event), text) : NULL;
        const char *shown = zhashx_lookup(self->statuses, fold);
        bool repeat = change && shown && streq(shown, change);
        if (change && !repeat)
            zhashx_update(self->statuses, fold, change);
        zstr_free(&change);
        free(text);
        if (repeat)
            return;
    }
    // Our own line was said in its room while that room was current (text goes to the current
    // room): shown as it was then, whatever a /join or /switch made current since
    const char *from = zchat_msg_string(event, "from");
    bool mine = from && s_is_me(self, from);
    char *line = render_event(event, mine ? room : self->current, self->color);
    if (line)
        s_show(self, line);
    free(line);
}

static void
s_conn_state(void *arg, conn_state_t state)
{
    ui_t *self = arg;
    if (state == CONN_LOST) {
        // Replies to what was in flight went with the old connection; say and msg are resent
        zlistx_purge(self->rooms_waits);
        zlistx_purge(self->ok_waits);
        zlistx_purge(self->join_waits);
        zlistx_purge(self->leave_waits);
        self->pending_requests = 0;
        s_notice(self, "Connection lost, reconnecting...");
    } else {
        s_notice(self, "Reconnected");
    }
}

static void
s_conn_lost(void *arg, const char *room, uint64_t first, uint64_t last)
{
    ui_t *self = arg;
    char *line = render_lost(zclock_time(), room, first, last, self->current, self->color);
    s_show(self, line);
    free(line);
}

// --- Line editing ---

static ui_t *s_readline_ui;  // readline's callbacks take no argument: the one ui in tty mode
static volatile sig_atomic_t s_resized;

static void
s_on_winch(int signum)
{
    (void)signum;
    s_resized = 1;
}

static int
s_compare_words(const void *a, const void *b)
{
    return strcmp(a, b);
}

// Tab: the words that may complete the word at start of line. Caller destroys the list.
static zlistx_t *
s_candidates(ui_t *self, const char *line, int start)
{
    zlistx_t *words = zlistx_new();
    zlistx_set_destructor(words, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_duplicator(words, (zlistx_duplicator_fn *)strdup);
    if (start == 0 && line[0] == '/') {
        for (int i = 0; i < S_COMMANDS; i++)
            zlistx_add_end(words, (void *)s_commands[i].name);
        return words;
    }
    // The first argument of a command: rooms or users; anywhere else: users
    bool rooms = false;
    if (line[0] == '/') {
        size_t length = strcspn(line, " \t");
        const char *arg = line + length;
        arg += strspn(arg, " \t");
        bool first_arg = arg - line == start;
        for (int i = 0; first_arg && i < S_COMMANDS; i++)
            if (strlen(s_commands[i].name) == length &&
                strncasecmp(line, s_commands[i].name, length) == 0)
                rooms = s_commands[i].completes_room;
    }
    zhashx_t *source = rooms ? self->room_names : self->users;
    for (const char *word = zhashx_first(source); word; word = zhashx_next(source))
        zlistx_add_end(words, (void *)word);
    zlistx_set_comparator(words, s_compare_words);
    zlistx_sort(words);
    return words;
}

static zlistx_t *s_completions;  // the candidates of the completion running now

static char *
s_complete_next(const char *text, int state)
{
    const char *word = state == 0 ? zlistx_first(s_completions) : zlistx_next(s_completions);
    for (; word; word = zlistx_next(s_completions))
        if (strncasecmp(word, text, strlen(text)) == 0) {
            char *copy = strdup(word);  // readline frees it
            assert(copy);
            return copy;
        }
    return NULL;
}

static char **
s_complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;  // never fall back to file names
    zlistx_destroy(&s_completions);
    s_completions = s_candidates(s_readline_ui, rl_line_buffer, start);
    char **matches = rl_completion_matches(text, s_complete_next);
    zlistx_destroy(&s_completions);
    return matches;
}

static void s_readline_stop(ui_t *self);

// A paste of several lines: readline's bracketed paste hands them over as one line with the
// newlines (or carriage returns) in it. Each line runs as if typed on its own, in order; says go
// through conn's outbox, which paces them to the broker's rate limit. Empty lines are skipped.
static void
s_run_paste(ui_t *self, char *text)
{
    self->in_handler = true;
    for (char *next = text; next;) {
        char *line = next;
        size_t size = strcspn(line, "\r\n");
        next = line[size] ? line + size + 1 : NULL;
        line[size] = 0;
        if (*line) {
            add_history(line);
            s_run_line(self, line);
        }
    }
    self->in_handler = false;
}

// readline hands over a whole line (NULL at Ctrl-D on an empty line)
static void
s_on_readline(char *line)
{
    ui_t *self = s_readline_ui;
    if (!line) {
        // Ctrl-D: removing the handler now keeps readline from drawing another prompt
        self->quit = true;
        self->in_handler = true;
        s_readline_stop(self);
        self->in_handler = false;
        fputs("\n", stdout);
        fflush(stdout);
        return;
    }
    if (strpbrk(line, "\r\n")) {
        s_run_paste(self, line);
        free(line);
        return;
    }
    if (*line)
        add_history(line);
    // A message comes back on the feed with its timestamp: take the typed copy off the screen
    // when it fits on one row (a wrapped one is left alone rather than guessed at)
    int rows = 0, columns = 0;
    rl_get_screen_size(&rows, &columns);
    char *prompt = s_prompt(self);
    bool one_row = strlen(prompt) + strlen(line) < (size_t)columns;
    free(prompt);
    s_input_t input;
    s_parse(line, &input);
    if (input.kind == S_INPUT_TEXT && one_row && *self->current && isatty(STDOUT_FILENO)) {
        fputs("\033[A\r\033[K", stdout);
        fflush(stdout);
    }
    // readline still holds the line and the terminal is not in its mode while we are called:
    // lines shown now go out plainly, readline draws the new prompt when we return
    self->in_handler = true;
    s_run_input(self, &input);
    self->in_handler = false;
    free(line);
}

static void
s_readline_start(ui_t *self)
{
    s_readline_ui = self;
    rl_readline_name = "zchat";
    rl_catch_signals = 0;  // CZMQ handles SIGINT/SIGTERM: conn_wait returns -1, we leave
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_attempted_completion_function = s_complete;
    rl_basic_word_break_characters = " \t";
    rl_variable_bind("completion-ignore-case", "on");
    using_history();
    struct sigaction action = {.sa_handler = s_on_winch};
    sigemptyset(&action.sa_mask);
    sigaction(SIGWINCH, &action, NULL);
    // A log line on the terminal would break into the input line; conn's warnings repeat what
    // the notices say anyway. -v, or a stderr elsewhere, keeps them.
    if (!zchat_verbose && isatty(STDERR_FILENO)) {
        self->quiet_log = fopen("/dev/null", "w");
        if (self->quiet_log)
            zsys_set_logstream(self->quiet_log);
    }
    char *prompt = s_prompt(self);
    rl_callback_handler_install(prompt, s_on_readline);
    free(prompt);
    self->readline_on = true;
}

static void
s_readline_stop(ui_t *self)
{
    if (self->readline_on) {
        self->readline_on = false;
        if (!self->in_handler) {
            // Leave the screen tidy: an empty input line goes, a started one stays whole
            if (rl_end == 0) {
                rl_clear_visible_line();
            } else {
                rl_point = rl_end;
                rl_redisplay();
                fputs("\n", stdout);
            }
            fflush(stdout);
        }
        rl_callback_handler_remove();  // the terminal as it was
        if (self->quiet_log) {
            zsys_set_logstream(stderr);
            fclose(self->quiet_log);
            self->quiet_log = NULL;
        }
        signal(SIGWINCH, SIG_DFL);
        clear_history();
        s_readline_ui = NULL;
    }
}

// --- Input without a terminal: read(2) into our own buffer, not stdio, so poll stays true ---

static void
s_read_input(ui_t *self)
{
    char chunk[4096];
    ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    bool eof = got <= 0;
    if (eof) {
        if (self->input_size == 0) {
            self->leaving = true;
            return;
        }
        chunk[0] = '\n';  // a last line without a newline still counts
        got = 1;
    }
    // One spare byte: a line that fills the buffer gets its NUL there
    self->input = realloc(self->input, self->input_size + (size_t)got + 1);
    assert(self->input);
    memcpy(self->input + self->input_size, chunk, (size_t)got);
    self->input_size += (size_t)got;
    size_t used = 0;
    while (!self->leaving && used < self->input_size) {
        char *start = self->input + used;
        char *newline = memchr(start, '\n', self->input_size - used);
        if (!newline && self->input_size - used < UI_INPUT_MAX)
            break;
        size_t length = newline ? (size_t)(newline - start) : self->input_size - used;
        used += length + (newline ? 1 : 0);
        start[length] = 0;
        if (memchr(start, 0, length)) {
            s_notice(self, "Input lines must not contain NUL bytes");
            continue;
        }
        if (length > 0 && start[length - 1] == '\r')
            start[length - 1] = 0;
        s_run_line(self, start);
    }
    memmove(self->input, self->input + used, self->input_size - used);
    self->input_size -= used;
    if (eof)
        self->leaving = true;  // after the last line ran, not before
}

// --- Public ---

ui_t *
ui_new(const ui_options_t *options)
{
    assert(options && options->host && options->user);
    ui_t *self = zmalloc(sizeof(ui_t));
    self->host = strdup(options->host);
    self->user = strdup(options->user);
    assert(self->host && self->user);
    self->port = options->port;
    if (options->room) {
        self->start_room = strdup(options->room);
        assert(self->start_room);
    }
    self->tty = isatty(STDIN_FILENO);
    if (options->server_key) {
        self->server_key = strdup(options->server_key);
        assert(self->server_key);
    }
    if (options->client_cert) {
        self->client_cert = zcert_dup(options->client_cert);
        assert(self->client_cert);
    }
    if (options->password) {
        self->password = strdup(options->password);
        assert(self->password);
    }
    const char *no_color = getenv("NO_COLOR");
    self->color = !options->no_color && !(no_color && *no_color) && isatty(STDOUT_FILENO);
    self->rooms = zlistx_new();
    zlistx_set_destructor(self->rooms, s_item_free);
    self->users = zchat_hash_new();
    zhashx_set_destructor(self->users, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(self->users, (zhashx_duplicator_fn *)strdup);
    self->room_names = zchat_hash_new();
    zhashx_set_destructor(self->room_names, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(self->room_names, (zhashx_duplicator_fn *)strdup);
    self->statuses = zchat_hash_new();
    zhashx_set_destructor(self->statuses, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(self->statuses, (zhashx_duplicator_fn *)strdup);
    self->rooms_waits = zlistx_new();
    zlistx_set_destructor(self->rooms_waits, s_item_free);
    self->ok_waits = zlistx_new();
    zlistx_set_destructor(self->ok_waits, s_item_free);
    self->join_waits = zlistx_new();
    zlistx_set_destructor(self->join_waits, s_item_free);
    self->leave_waits = zlistx_new();
    zlistx_set_destructor(self->leave_waits, s_item_free);
    self->input = malloc(1);
    assert(self->input);
    return self;
}

void
ui_destroy(ui_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        ui_t *self = *self_p;
        s_readline_stop(self);
        conn_destroy(&self->conn, self->quit_reason);
        zlistx_destroy(&self->rooms);
        zhashx_destroy(&self->users);
        zhashx_destroy(&self->room_names);
        zhashx_destroy(&self->statuses);
        zlistx_destroy(&self->rooms_waits);
        zlistx_destroy(&self->ok_waits);
        zlistx_destroy(&self->join_waits);
        zlistx_destroy(&self->leave_waits);
        zstr_free(&self->quit_reason);
        free(self->input);
        free(self->start_room);
        free(self->user);
        free(self->host);
        zstr_free(&self->server_key);
        zcert_destroy(&self->client_cert);
        zchat_password_free(&self->password);
        zstr_free(&self->error);
        free(self);
        *self_p = NULL;
    }
}

static int
s_compare_names(void *a, void *b)
{
    return strcmp(a, b);
}

// After the welcome: the greeting, our own joins (conn does not deliver the join of our hello)
static void
s_greet(ui_t *self)
{
    char *user = zchat_text_safe(conn_user(self->conn));
    printf("Connected to %s:%d\n", self->host, self->port);
    printf("Welcome to the chat, %s!\n", user);
    fflush(stdout);
    zlist_t *rooms = conn_rooms(self->conn);
    zlist_sort(rooms, s_compare_names);
    for (const char *room = zlist_first(rooms); room; room = zlist_next(rooms)) {
        s_room_add(self, room, streq(room, "lobby"));
        zchat_msg_t *join = zchat_msg_new("presence");  // as the feed would have shown it
        zchat_msg_set_string(join, "room", room);
        zchat_msg_set_string(join, "user", conn_user(self->conn));
        zchat_msg_set_string(join, "event", "join");
        char *line = render_event(join, self->current, self->color);
        if (line)
            s_show(self, line);
        free(line);
        zchat_msg_destroy(&join);
    }
    zlist_destroy(&rooms);
    s_joined_room_t *current = zlistx_last(self->rooms);
    s_set_current(self, current ? current->name : "");
    free(user);
}

// The broker wants a password for the login (or another one): ask it on the terminal, without
// echo. Only when stdin is a terminal and no --password-file was given.
static char *
s_conn_password(void *arg, const char *user)
{
    ui_t *self = arg;
    if (self->password_asks++ > 0)
        fprintf(stderr, "zchat: wrong user name or password\n");
    char *safe = zchat_text_safe(user);
    char *prompt = zsys_sprintf("Password for %s: ", safe);
    char *password = zchat_password_read(STDIN_FILENO, prompt);
    zstr_free(&prompt);
    free(safe);
    return password;
}

int
ui_run(ui_t *self)
{
    assert(self && !self->conn);
    conn_options_t options = {.host = self->host,
                              .port = self->port,
                              .user = self->user,
                              .client = "zchat/" ZCHAT_VERSION,
                              .connect_ms = UI_CONNECT_MS,
                              .server_key = self->server_key,
                              .client_cert = self->client_cert,
                              .password = self->password};
    conn_handler_t handler = {.on_event = s_conn_event,
                              .on_reply = s_conn_reply,
                              .on_state = s_conn_state,
                              .on_lost = s_conn_lost,
                              .on_password = self->tty && !self->password ? s_conn_password : NULL};
    self->conn = conn_new(&options, &handler, self);
    zchat_password_free(&self->password);  // the conn has its own copy
    if (conn_connect(self->conn) == -1) {
        bool interrupted = zsys_interrupted;
        const char *code = conn_error_code(self->conn);
        char *why = zchat_text_safe(conn_error(self->conn));
        zstr_free(&self->error);
        if (streq(code, "unreachable") || streq(code, "unknown_host") || streq(code, "handshake"))
            self->error = zsys_sprintf("%s", why);
        else
            self->error = zsys_sprintf("login refused: %s", why);
        free(why);
        conn_destroy(&self->conn, NULL);
        return interrupted ? 0 : 1;
    }
    s_greet(self);
    if (self->start_room) {
        s_input_t input = {.kind = S_INPUT_COMMAND, .word = self->start_room, .text = ""};
        s_cmd_join(self, &input);
    }
    if (self->tty)
        s_readline_start(self);

    int64_t drain_until = 0;
    int drained_to = 0;  // replies still awaited at the last turn of the drain
    while (!self->quit) {
        int rc = conn_wait(self->conn, self->leaving ? -1 : STDIN_FILENO, UI_WAIT_MS);
        if (rc == -1 && zsys_interrupted)
            break;  // SIGINT or SIGTERM: leave like /quit
        if (s_resized) {
            s_resized = 0;
            if (self->readline_on)
                rl_resize_terminal();
        }
        if (rc == 1 && self->tty)
            rl_callback_read_char();
        else if (rc == 1)
            s_read_input(self);
        if (self->leaving) {
            // Let the answers to the last lines of a script arrive first: as long as they
            // keep coming (a long paste goes a window at a time), and UI_DRAIN_MS more
            int pending = self->pending_sends + self->pending_requests;
            if (!drain_until || pending < drained_to)
                drain_until = zclock_mono() + UI_DRAIN_MS;
            drained_to = pending;
            if (pending == 0 || zclock_mono() >= drain_until)
                self->quit = true;
        }
    }
    s_readline_stop(self);
    int undelivered = self->pending_sends;
    conn_destroy(&self->conn, self->quit_reason);
    if (undelivered) {
        zstr_free(&self->error);
        self->error = zsys_sprintf("%d of the messages typed got no ack from the broker before "
                                   "the end: they may not have been delivered",
                                   undelivered);
        return 1;
    }
    return 0;
}

const char *
ui_error(const ui_t *self)
{
    assert(self);
    return self->error;
}

// SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\) end the session like SIGINT and SIGTERM,
// which CZMQ catches: quit is sent and the terminal restored, instead of a death that leaves
// the session to time out and the terminal without echo.
static void
s_on_hangup(int signum)
{
    (void)signum;
    zsys_interrupted = 1;
}

void
ui_signals(void)
{
    // A signal ignored on purpose (nohup ignores SIGHUP; a shell script's background job,
    // SIGINT and SIGQUIT) stays ignored: note which before CZMQ catches SIGINT and SIGTERM
    int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    bool ignored[sizeof signals / sizeof signals[0]];
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction old;
        ignored[i] = sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN;
    }
    zsys_init();
    signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill us before we say quit
    struct sigaction hangup = {.sa_handler = s_on_hangup};  // no SA_RESTART: polls wake up
    sigemptyset(&hangup.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (ignored[i])
            signal(signals[i], SIG_IGN);
        else if (signals[i] == SIGHUP || signals[i] == SIGQUIT)
            sigaction(signals[i], &hangup, NULL);
    }
}

// --- The command line: zchat's options beside the shared ones (client_options) ---

enum { S_OPT_NO_COLOR = CLIENT_OPTIONS_OWN };

static const struct option s_options[] = {
    {"no-color", no_argument, NULL, S_OPT_NO_COLOR},
    {NULL, 0, NULL, 0},
};

static int
s_parse_option(void *arg, int option, const char *value)
{
    ui_options_t *options = arg;
    (void)value;
    if (option == S_OPT_NO_COLOR)
        options->no_color = true;
    return -1;
}

// clang-format off
static const char s_help[] =
    "Usage: zchat [OPTION]...\n"
    "Chat on a zchat-broker from the terminal.\n"
    "\n"
    CLIENT_OPTIONS_HELP_BROKER
    CLIENT_OPTIONS_HELP_USER
    "  -r, --room ROOM          also join ROOM at start and make it the current room\n"
    CLIENT_OPTIONS_HELP_KEYS
    CLIENT_OPTIONS_HELP_PASSWORD
    "      --no-color           no colors (also with NO_COLOR set, or when stdout is not a\n"
    "                           terminal)\n"
    "  -v, --verbose            debug log on stderr\n"
    CLIENT_OPTIONS_HELP_END
    "\n"
    "Without options on a terminal, zchat asks for the host, port and user name.\n"
    "When stdin is not a terminal, each input line is one command or message: there is no\n"
    "prompt, no color and no line editing, and -u is required. Type /help in the chat for\n"
    "the commands.\n"
    "\n"
    "Without --server-key, traffic (passwords included) is plain text.\n"
    "\n"
    "Exit status: 0 after /quit, Ctrl-D, end of input, SIGINT, SIGTERM, SIGHUP or SIGQUIT\n"
    "(the session quits); 1 if the broker cannot be reached (or not securely) or refuses the\n"
    "login, or if messages typed got no ack before the end (said on stderr); 2 for a bad\n"
    "option.\n";
// clang-format on

const client_options_program_t ui_program = {
    .name = "zchat",
    .help = s_help,
    .login = true,
    .options = s_options,
    .parse = s_parse_option,
};

// --- Self-test: parsing, the error line, the options, rooms in order of use, completion ---

static void
s_check_parse(const char *typed, s_input_kind_t kind, const char *command, const char *word,
              const char *text)
{
    char line[256];
    snprintf(line, sizeof line, "%s", typed);
    s_input_t input;
    s_parse(line, &input);
    assert(input.kind == kind);
    if (command)
        assert(input.command >= 0 && streq(s_commands[input.command].name, command));
    else
        assert(input.command == -1);
    assert(streq(input.word, word));
    assert(streq(input.text, text));
}

void
ui_test(bool verbose)
{
    (void)verbose;
    // Commands, their arguments, and plain text
    s_check_parse("hello there", S_INPUT_TEXT, NULL, "", "hello there");
    s_check_parse("  indented ", S_INPUT_TEXT, NULL, "", "  indented ");
    s_check_parse("//slash", S_INPUT_TEXT, NULL, "", "/slash");
    s_check_parse(" \t ", S_INPUT_EMPTY, NULL, "", "");
    s_check_parse("", S_INPUT_EMPTY, NULL, "", "");
    s_check_parse("/join python", S_INPUT_COMMAND, "/join", "python", "");
    s_check_parse("/JOIN  #Python  ", S_INPUT_COMMAND, "/join", "#Python", "");
    s_check_parse("/join", S_INPUT_USAGE, "/join", "", "");
    s_check_parse("/join a b", S_INPUT_USAGE, "/join", "a", "");
    s_check_parse("/leave", S_INPUT_COMMAND, "/leave", "", "");
    s_check_parse("/leave python", S_INPUT_COMMAND, "/leave", "python", "");
    s_check_parse("/who", S_INPUT_COMMAND, "/who", "", "");
    s_check_parse("/who all", S_INPUT_USAGE, "/who", "", "");
    s_check_parse("/msg Bob hi  there ", S_INPUT_COMMAND, "/msg", "Bob", "hi  there");
    s_check_parse("/msg Bob", S_INPUT_USAGE, "/msg", "Bob", "");
    s_check_parse("/msg", S_INPUT_USAGE, "/msg", "", "");
    s_check_parse("/away", S_INPUT_COMMAND, "/away", "", "");
    s_check_parse("/away out to lunch", S_INPUT_COMMAND, "/away", "", "out to lunch");
    s_check_parse("/quit", S_INPUT_COMMAND, "/quit", "", "");
    s_check_parse("/quit see you", S_INPUT_COMMAND, "/quit", "", "see you");
    s_check_parse("/history 5", S_INPUT_COMMAND, "/history", "5", "");
    s_check_parse("/frobnicate now", S_INPUT_UNKNOWN, NULL, "/frobnicate", "");
    s_check_parse("/", S_INPUT_UNKNOWN, NULL, "/", "");
    s_check_parse("/joinx", S_INPUT_UNKNOWN, NULL, "/joinx", "");
    for (int i = 0; i < S_COMMANDS; i++)
        assert(s_commands[i].name[0] == '/' &&
               strncmp(s_commands[i].usage, s_commands[i].name, strlen(s_commands[i].name)) == 0);
    assert(s_parse_count("") == UI_HISTORY_DEFAULT);
    assert(s_parse_count("1") == 1 && s_parse_count("1000") == 1000);
    assert(s_parse_count("0") == -1 && s_parse_count("1001") == -1);
    assert(s_parse_count("-3") == -1 && s_parse_count("5x") == -1);
    assert(s_parse_count("99999999999999999999") == -1);
    assert(s_history_since(10, 3) == 7 && s_history_since(2, 5) == 0 && s_history_since(0, 5) == 0);

    // A broker's error as one line
    const char *error_json = "{\"type\":\"error\",\"code\":\"no_such_user\","
                             "\"message\":\"No such user: Bobby.\",\"request\":\"msg\"}";
    zchat_msg_t *error = zchat_msg_decode(error_json, strlen(error_json), NULL);
    assert(error);
    char *text = s_error_text(error);
    assert(streq(text, "No such user: Bobby"));
    free(text);
    zchat_msg_destroy(&error);

    // The command line: --no-color is zchat's own, -u and -r are shared
    ui_options_t parsed = {0};
    client_options_t *command = client_options_new(&ui_program, &parsed);
    char *argv[] = {"zchat", "-u", "Alice", "--no-color", "-r", "#Python", NULL};
    assert(client_options_parse(command, 6, argv) == -1);
    assert(parsed.no_color && streq(command->user, "Alice") && command->room_count == 1 &&
           streq(command->rooms[0], "python"));
    client_options_destroy(&command);

    // Rooms in order of use, and Tab completion
    ui_options_t options = {.host = "127.0.0.1", .port = 1, .user = "Alice"};
    ui_t *ui = ui_new(&options);
    s_room_add(ui, "lobby", true);
    s_room_add(ui, "python", true);
    s_room_add(ui, "rust", false);
    // Names from the wire reach the prompt and completion only when they are room names
    assert(!s_room_add(ui, "x\x1b[2J", true) && !s_room_add(ui, "Python", true));
    assert(!s_room_add(ui, "#rust", true) && !s_room_add(ui, "", true));
    const char *rooms_json = "{\"type\":\"rooms\",\"rooms\":[{\"name\":\"go\",\"members\":1,"
                             "\"seq\":3},{\"name\":\"\\u001b]0;owned\\u0007\",\"members\":1}]}";
    zchat_msg_t *rooms_reply = zchat_msg_decode(rooms_json, strlen(rooms_json), NULL);
    assert(rooms_reply);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), quiet = open("/dev/null", O_WRONLY);
    assert(saved >= 0 && quiet >= 0 && dup2(quiet, STDOUT_FILENO) >= 0);
    s_on_rooms(ui, rooms_reply);  // prints the list: out of the self-test's way
    fflush(stdout);
    assert(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    close(quiet);
    zchat_msg_destroy(&rooms_reply);
    assert(zhashx_size(ui->room_names) == 4);  // lobby, python, rust, go
    assert(streq(((s_joined_room_t *)zlistx_last(ui->rooms))->name, "python"));
    assert(streq(((s_joined_room_t *)zlistx_first(ui->rooms))->name, "rust"));
    s_room_add(ui, "lobby", true);
    assert(streq(((s_joined_room_t *)zlistx_last(ui->rooms))->name, "lobby"));
    s_room_seen(ui, "lobby", 9);
    s_room_seen(ui, "lobby", 4);
    assert(s_room_find(ui, "lobby")->last_seq == 9);
    s_room_remove(ui, "lobby");
    assert(!s_room_find(ui, "lobby"));
    assert(streq(((s_joined_room_t *)zlistx_last(ui->rooms))->name, "python"));
    s_user_seen(ui, "Bob");
    s_user_seen(ui, "bob");  // one user, the newest spelling
    s_user_seen(ui, "Carol");
    s_user_seen(ui, "not a name");
    zlistx_t *words = s_candidates(ui, "/jo", 0);
    assert(zlistx_size(words) == (size_t)S_COMMANDS);
    zlistx_destroy(&words);
    words = s_candidates(ui, "/join py", 6);
    assert(zlistx_size(words) == 4);  // lobby, python, rust, go: every room seen
    assert(streq(zlistx_first(words), "go"));
    zlistx_destroy(&words);
    words = s_candidates(ui, "/msg Ca", 5);
    assert(zlistx_size(words) == 2);
    assert(streq(zlistx_first(words), "Carol") && streq(zlistx_next(words), "bob"));
    zlistx_destroy(&words);
    words = s_candidates(ui, "hello Ca", 6);
    assert(zlistx_size(words) == 2);
    zlistx_destroy(&words);
    s_completions = s_candidates(ui, "/msg ca", 5);
    char *match = s_complete_next("ca", 0);
    assert(streq(match, "Carol"));
    free(match);
    assert(!s_complete_next("ca", 1));
    zlistx_destroy(&s_completions);
    ui_destroy(&ui);
    ui_destroy(&ui);
    assert(ui == NULL);
}
