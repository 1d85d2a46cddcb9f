// render.h - an event -> the line a person reads: zchat's lines and zchat-logger's text format
// ("[10:30:20] alice: hi", "[10:30:25] *** Bob joined python ***"). Every string from the wire
// goes through zchat_text_safe, so no escape sequence reaches a terminal.
#ifndef RENDER_H_INCLUDED
#define RENDER_H_INCLUDED

#include "zchat_prelude.h"
#include "zchat_msg.h"

#define RENDER_CLOCK_SIZE 16  // bytes for render_clock's "[HH:MM:SS]"
#define RENDER_DATE_SIZE  32  // bytes for render_date's "--- YYYY-MM-DD ---"

// "[HH:MM:SS]" of ts (milliseconds since the epoch) in local time, into buf[size].
void render_clock(int64_t ts, char *buf, size_t size);

// "--- YYYY-MM-DD ---", the local date of ts, into buf[size]. Returns the date as a number
// (yyyymmdd), to tell days apart.
int render_date(int64_t ts, char *buf, size_t size);

// The time of an event: its ts, or now when it has none.
int64_t render_ts(const zchat_msg_t *event);

// The sentence of a presence event ("Bob left python (quit: bye)"), safe; NULL if it lacks its
// user, room or kind, or is a kind not known here. Caller frees.
char *render_presence(const zchat_msg_t *event);

// The line of a room event: a message is "[HH:MM:SS] alice: hi", a presence event
// "[HH:MM:SS] *** Bob joined python ***". current is the room the reader looks at (zchat's
// current room, a log file's own room): a message of another room gets the "#room" tag after
// the clock; NULL (one output for every room): every line gets its room's tag. With color, the
// sender's name is bold in its color and the rest of a presence line dimmed. Returns NULL for
// an event not rendered here (another type or kind, a field missing). Caller frees.
char *render_event(const zchat_msg_t *event, const char *current, bool color);

// The line of any event, for one render_event does not render, so that a log drops none:
// "[HH:MM:SS] *** TYPE event SEQ (USER KIND) ***"; current as for render_event. Caller frees.
char *render_unknown(const zchat_msg_t *event, const char *current);

// The line of a private message, "[HH:MM:SS] [PRIVATE] Bob: hi"; NULL if it lacks its sender
// or text. Caller frees.
char *render_private(const zchat_msg_t *private, bool color);

// A line of the program's own, "[HH:MM:SS] *** text ***" (no clock when ts is 0), dimmed with
// color; text is made safe. Caller frees.
char *render_notice(int64_t ts, const char *text, bool color);

// The line at ts for events first..last of room that the broker's history no longer holds:
// "[HH:MM:SS] *** events 5-19 of #python are lost (no longer in the broker's history) ***";
// current as for render_event (a presence event's rule: the tag only when NULL). Caller frees.
char *render_lost(int64_t ts, const char *room, uint64_t first, uint64_t last, const char *current,
                  bool color);

void render_test(bool verbose);

#endif
