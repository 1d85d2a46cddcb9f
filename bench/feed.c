// feed.c - the feed workloads: W1 fan-out, W2 fan-in, W3 latency
//
// Every bench session is a DEALER (requests) and, for a subscriber, a SUB on BENCH_TOPIC, set
// up as zchat-protocol(7) SEQ, HISTORY AND EXACTLY-ONCE DISPLAY says: subscribe, hello, join. Each
// measured say carries a marker in its text, "#B<number>:<send time in µs>#", padded with 'x' to
// text_size bytes, and an id, so the broker acks it. Senders are windowed: at most `window` says
// without a reply over all senders (W2: window / senders each), so the figure is sustained
// throughput, not how deep the high-water marks are. W3 paces its one sender at a fixed rate on a
// thread of its own instead. A subscriber marks each measured message it receives; against the
// broker it also follows seq and, like a real client, fetches every gap with `history`, at once,
// one request at a time; after the flood, the tail up to the last acked seq. The relay has no seq
// and no history: there, lost = raw drops.
#include "bench.h"
#include <cJSON.h>
#include <sys/prctl.h>
#include <time.h>

#define FEED_SETUP_MS  10000  // login, join and subscription sync must finish within this
#define FEED_IDLE_MS   500    // senders done and no event for this long: the flood is over
#define FEED_REPAIR_MS 20000  // the tail repair after the flood must finish within this
#define FEED_DRAIN_MAX 1024   // messages read from one socket per poll turn
#define FEED_SYNC_MS   20     // a sync say this often until every subscriber has seen one
#define FEED_MARKER    30     // bytes of "#B%010d:%016lld#" at the start of a measured text

typedef struct {
    uint64_t from, to;  // seqs to fetch, inclusive
} s_gap_t;

// One bench session: a DEALER, and for a subscriber a SUB.
typedef struct {
    zsock_t *dealer;
    void *dealer_h;
    zsock_t *sub;  // NULL for a sender
    void *sub_h;
    // As a sender
    int first;    // the number of its first measured message
    int count;    // measured messages it sends
    int next;     // its next message, 0..count
    int unacked;  // requests without a reply yet
    int window;   // most says in flight
    // As a subscriber
    bool synced;        // has received a feed event since the sync started
    uint64_t last_seq;  // broker: newest seq seen on the feed
    uint8_t *seen;      // per measured message: 0 not yet, 1 over the feed, 2 from history
    int64_t unique;     // measured messages received, either way
    int64_t on_feed;    // ... over the feed
    int64_t repaired;   // ... from history
    s_gap_t *gaps;      // seq ranges still to fetch, a queue from gaps_head
    size_t gaps_head, gaps_size, gaps_max;
    bool fetching;  // a history request is in flight for gaps[gaps_head]
} s_peer_t;

// A sender's report from the pacer thread (W3).
typedef struct {
    void *dealer;  // the sender's DEALER, lent to the thread while it runs
    int count;     // says to send
    int rate;      // per second
    int text_size;
    int64_t start;  // send time of message 0, µs
    // Results, written before the thread signals "done"
    int sent;
    int replies;
    int errors;
    uint64_t ack_seq;
    int64_t late_us;  // worst lateness of a send behind its schedule
} s_pacer_t;

typedef struct {
    const bench_options_t *options;
    bench_system_t system;
    s_peer_t *senders;
    int nsenders;
    s_peer_t *subs;
    int nsubs;
    int total;           // measured messages, over all senders
    uint64_t ack_seq;    // broker: highest seq in an ack so far
    uint64_t final_seq;  // broker: seq of the last measured message
    bool measuring;      // measured messages are on their way
    bool flooding;       // ... and the flood is not over: repairs count as delivered
    int64_t t0;          // first measured send, µs
    int64_t t_last;      // last measured delivery during the flood, µs
    int64_t t_feed;      // last feed event, µs
    int64_t *latency;    // W3: send -> feed receive, µs, one per delivery
    size_t latency_size, latency_max;
    int64_t errors;  // error replies
    char first_error[200];
    zmq_pollitem_t *items;  // senders' DEALERs, subscribers' SUBs and DEALERs, [pacer pipe]
    int nitems;
    char *request;  // a say being built
    size_t request_max;
    char *padding;  // text_size bytes of 'x'
} s_feed_t;

// --- Small parsers: the hot path reads only seq and the marker ---

// The unsigned integer after key in data, or 0.
static uint64_t
s_find_uint(const char *data, size_t size, const char *key)
{
    size_t key_size = strlen(key);
    const char *at = bench_find(data, size, key, key_size);
    if (!at)
        return 0;
    uint64_t n = 0;
    for (at += key_size; at < data + size && *at >= '0' && *at <= '9'; at++)
        n = n * 10 + (uint64_t)(*at - '0');
    return n;
}

// Parse a marker "#B<number>:<usecs>#" in data. Returns the number, or -1 if none.
static int64_t
s_marker(const char *data, size_t size, int64_t *sent)
{
    const char *at = bench_find(data, size, "#B", 2);
    if (!at)
        return -1;
    const char *end = data + size;
    int64_t number = 0, usecs = 0;
    for (at += 2; at < end && *at >= '0' && *at <= '9'; at++)
        number = number * 10 + (*at - '0');
    if (at >= end || *at != ':')
        return -1;
    for (at++; at < end && *at >= '0' && *at <= '9'; at++)
        usecs = usecs * 10 + (*at - '0');
    *sent = usecs;
    return number;
}

// True if a reply frame has this type ("ack", "error"...).
static bool
s_is_type(const char *data, size_t size, const char *type)
{
    char key[32];
    int length = snprintf(key, sizeof key, "\"type\":\"%s\"", type);
    return bench_find(data, size, key, (size_t)length) != NULL;
}

// --- Sessions ---

static void
s_peer_init(s_peer_t *self, const server_t *server, bool subscriber)
{
    self->dealer = zsock_new(ZMQ_DEALER);
    assert(self->dealer);
    zsock_set_linger(self->dealer, 0);
    zsock_connect(self->dealer, "%s", server_commands(server));
    self->dealer_h = zsock_resolve(self->dealer);
    if (subscriber) {
        // zchat-protocol(7) SEQ, HISTORY AND EXACTLY-ONCE DISPLAY: subscribe first, then join
        self->sub = zsock_new(ZMQ_SUB);
        assert(self->sub);
        zsock_set_linger(self->sub, 0);
        zsock_set_subscribe(self->sub, BENCH_TOPIC);
        zsock_connect(self->sub, "%s", server_feed(server));
        self->sub_h = zsock_resolve(self->sub);
    }
}

static void
s_peer_fini(s_peer_t *self)
{
    zsock_destroy(&self->dealer);
    zsock_destroy(&self->sub);
    free(self->seen);
    free(self->gaps);
}

// Send a request and wait for its reply until deadline. Returns the reply (free it) if it is
// not an error, else NULL after noting why.
static char *
s_call(s_peer_t *peer, const char *request, int64_t deadline)
{
    if (zmq_send(peer->dealer_h, request, strlen(request), 0) == -1)
        return NULL;
    zmq_pollitem_t item = {peer->dealer_h, 0, ZMQ_POLLIN, 0};
    while (zclock_mono() < deadline && !zsys_interrupted) {
        if (zmq_poll(&item, 1, 50) == 1) {
            char *reply = zstr_recv(peer->dealer);
            if (reply && s_is_type(reply, strlen(reply), "error")) {
                bench_note("%s: %s", request, reply);
                zstr_free(&reply);
            }
            return reply;
        }
    }
    bench_note("no reply to %s", request);
    return NULL;
}

// Log a session in and join BENCH_ROOM. Returns 0 or -1.
static int
s_login(s_peer_t *peer, const char *user, int64_t deadline)
{
    char request[128];
    snprintf(request, sizeof request, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", user);
    char *reply = s_call(peer, request, deadline);
    if (!reply)
        return -1;
    zstr_free(&reply);
    reply = s_call(peer, "{\"type\":\"join\",\"room\":\"" BENCH_ROOM "\"}", deadline);
    if (!reply)
        return -1;
    zstr_free(&reply);
    return 0;
}

// --- Sending ---

// Send say number `number` of sender. Returns 0, or -1 if the DEALER cannot take it now.
static int
s_say(s_feed_t *self, s_peer_t *sender, int number)
{
    size_t head_size = (size_t)snprintf(self->request, self->request_max,
                                        "{\"type\":\"say\",\"room\":\"" BENCH_ROOM "\",\"text\":\""
                                        "#B%010d:%016" PRId64 "#",
                                        number, bench_usecs());
    size_t pad = (size_t)(self->options->text_size - FEED_MARKER);
    memcpy(self->request + head_size, self->padding, pad);
    size_t size = head_size + pad;
    size += (size_t)snprintf(self->request + size, self->request_max - size, "\",\"id\":\"m%d\"}",
                             number);
    if (zmq_send(sender->dealer_h, self->request, size, ZMQ_DONTWAIT) == -1)
        return -1;
    sender->unacked++;
    return 0;
}

// Fill every sender's window.
static void
s_refill(s_feed_t *self)
{
    for (int i = 0; i < self->nsenders; i++) {
        s_peer_t *sender = &self->senders[i];
        while (sender->next < sender->count && sender->unacked < sender->window) {
            if (s_say(self, sender, sender->first + sender->next) == -1)
                break;  // its high-water mark: the next turn
            if (self->t0 == 0)
                self->t0 = bench_usecs();
            sender->next++;
        }
    }
}

// --- Gap repair (broker only) ---

// Ask history for the first gap in the queue, if none is in flight.
static void
s_fetch(s_feed_t *self, s_peer_t *sub)
{
    (void)self;
    if (sub->fetching || sub->gaps_head == sub->gaps_size)
        return;
    s_gap_t *gap = &sub->gaps[sub->gaps_head];
    uint64_t limit = gap->to - gap->from + 1;
    if (limit > ZCHAT_HISTORY_MAX)
        limit = ZCHAT_HISTORY_MAX;
    char request[160];
    int size = snprintf(request, sizeof request,
                        "{\"type\":\"history\",\"room\":\"" BENCH_ROOM "\",\"since\":%" PRIu64
                        ",\"limit\":%" PRIu64 ",\"id\":\"h%" PRIu64 "\"}",
                        gap->from - 1, limit, gap->from);
    // A DEALER queues without bound below its high-water mark; a full one retries later
    if (zmq_send(sub->dealer_h, request, (size_t)size, ZMQ_DONTWAIT) == 0)
        sub->fetching = true;
}

static void
s_add_gap(s_feed_t *self, s_peer_t *sub, uint64_t from, uint64_t to)
{
    if (from > to)
        return;
    if (sub->gaps_head == sub->gaps_size)
        sub->gaps_head = sub->gaps_size = 0;
    if (sub->gaps_size == sub->gaps_max) {
        sub->gaps_max = sub->gaps_max ? sub->gaps_max * 2 : 16;
        sub->gaps = realloc(sub->gaps, sub->gaps_max * sizeof(s_gap_t));
        assert(sub->gaps);
    }
    sub->gaps[sub->gaps_size++] = (s_gap_t){from, to};
    s_fetch(self, sub);
}

// Mark measured message number as received by sub (how: 1 feed, 2 history).
static void
s_mark(s_feed_t *self, s_peer_t *sub, int64_t number, int how, int64_t now)
{
    if (number < 0 || number >= self->total || sub->seen[number])
        return;
    sub->seen[number] = (uint8_t)how;
    sub->unique++;
    if (how == 1)
        sub->on_feed++;
    else
        sub->repaired++;
    if (self->flooding)
        self->t_last = now;
}

// A history reply: mark its events, then go on with the gap or the next one.
static void
s_on_history(s_feed_t *self, s_peer_t *sub, const char *data, size_t size, int64_t now)
{
    sub->fetching = false;
    if (sub->gaps_head == sub->gaps_size)
        return;
    s_gap_t *gap = &sub->gaps[sub->gaps_head];
    cJSON *reply = cJSON_ParseWithLength(data, size);
    cJSON *events = cJSON_GetObjectItemCaseSensitive(reply, "events");
    uint64_t newest = 0;
    int count = 0;
    cJSON *event;
    cJSON_ArrayForEach(event, events)
    {
        cJSON *seq = cJSON_GetObjectItemCaseSensitive(event, "seq");
        cJSON *text = cJSON_GetObjectItemCaseSensitive(event, "text");
        if (cJSON_IsNumber(seq) && seq->valuedouble > (double)newest)
            newest = (uint64_t)seq->valuedouble;
        if (cJSON_IsString(text)) {
            int64_t sent;
            int64_t number = s_marker(text->valuestring, strlen(text->valuestring), &sent);
            s_mark(self, sub, number, 2, now);
        }
        count++;
    }
    cJSON_Delete(reply);
    if (count > 0 && newest < gap->to)
        gap->from = newest + 1;  // a page: ask for the rest
    else
        sub->gaps_head++;  // done, or history has nothing more (trimmed): give up the rest
    s_fetch(self, sub);
}

// --- Receiving ---

// A feed event: [topic][json].
static void
s_on_event(s_feed_t *self, s_peer_t *sub, const char *data, size_t size, int64_t now)
{
    self->t_feed = now;
    sub->synced = true;
    if (self->system == BENCH_BROKER) {
        uint64_t seq = s_find_uint(data, size, "\"seq\":");
        if (self->measuring && seq > sub->last_seq + 1)
            s_add_gap(self, sub, sub->last_seq + 1, seq - 1);
        if (seq > sub->last_seq)
            sub->last_seq = seq;
    }
    int64_t sent;
    int64_t number = s_marker(data, size, &sent);
    if (number < 0 || !self->measuring)
        return;
    if (self->latency && number < self->total && !sub->seen[number] &&
        self->latency_size < self->latency_max)
        self->latency[self->latency_size++] = now - sent;
    s_mark(self, sub, number, 1, now);
}

// A reply on a DEALER: an ack, a history, an error.
static void
s_on_reply(s_feed_t *self, s_peer_t *peer, const char *data, size_t size, int64_t now)
{
    if (peer->sub && s_is_type(data, size, "history")) {
        s_on_history(self, peer, data, size, now);
        return;
    }
    if (s_is_type(data, size, "error")) {
        if (self->errors++ == 0)
            snprintf(self->first_error, sizeof self->first_error, "%.*s",
                     (int)(size < 150 ? size : 150), data);
        if (peer->sub && peer->fetching) {
            peer->fetching = false;
            peer->gaps_head++;
            s_fetch(self, peer);
            return;
        }
    } else if (self->system == BENCH_BROKER) {
        uint64_t seq = s_find_uint(data, size, "\"seq\":");
        if (seq > self->ack_seq)
            self->ack_seq = seq;
    }
    if (peer->unacked > 0)
        peer->unacked--;
}

// Read what is ready on one socket, up to FEED_DRAIN_MAX messages.
static void
s_drain(s_feed_t *self, s_peer_t *peer, bool feed)
{
    void *socket = feed ? peer->sub_h : peer->dealer_h;
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    for (int n = 0; n < FEED_DRAIN_MAX; n++) {
        if (zmq_msg_recv(&frame, socket, ZMQ_DONTWAIT) == -1)
            break;
        if (feed && zmq_msg_more(&frame) && zmq_msg_recv(&frame, socket, 0) == -1)
            break;  // the topic came, the body did not: interrupted
        int64_t now = bench_usecs();
        const char *data = zmq_msg_data(&frame);
        size_t size = zmq_msg_size(&frame);
        if (feed)
            s_on_event(self, peer, data, size, now);
        else
            s_on_reply(self, peer, data, size, now);
    }
    zmq_msg_close(&frame);
}

// Poll every socket up to timeout_ms and handle what is ready. Returns the poll's result.
static int
s_poll(s_feed_t *self, long timeout_ms)
{
    int rc = zmq_poll(self->items, self->nitems, timeout_ms);
    if (rc <= 0)
        return rc;
    int item = 0;
    for (int i = 0; i < self->nsenders; i++, item++)
        if (self->items[item].revents & ZMQ_POLLIN)
            s_drain(self, &self->senders[i], false);
    for (int i = 0; i < self->nsubs; i++, item++)
        if (self->items[item].revents & ZMQ_POLLIN)
            s_drain(self, &self->subs[i], true);
    for (int i = 0; i < self->nsubs; i++, item++)
        if (self->items[item].revents & ZMQ_POLLIN)
            s_drain(self, &self->subs[i], false);
    return rc;
}

// --- Setup and teardown ---

static void s_feed_destroy(s_feed_t **self_p);

// Create the sessions, log them in, join, and wait until every subscription is live.
static s_feed_t *
s_feed_new(const bench_options_t *options, const server_t *server, bench_system_t system,
           int nsenders, int per_sender, int nsubs, int window)
{
    s_feed_t *self = zmalloc(sizeof(s_feed_t));
    self->options = options;
    self->system = system;
    self->nsenders = nsenders;
    self->nsubs = nsubs;
    self->total = nsenders * per_sender;
    self->senders = zmalloc((size_t)nsenders * sizeof(s_peer_t));
    self->subs = zmalloc((size_t)nsubs * sizeof(s_peer_t));
    self->request_max = (size_t)options->text_size + 256;
    self->request = zmalloc(self->request_max);
    self->padding = zmalloc((size_t)options->text_size + 1);
    memset(self->padding, 'x', (size_t)options->text_size);
    // One extra item for W3's pacer pipe
    self->items = zmalloc((size_t)(nsenders + 2 * nsubs + 1) * sizeof(zmq_pollitem_t));

    int64_t deadline = zclock_mono() + FEED_SETUP_MS;
    char user[32];
    for (int i = 0; i < nsubs; i++) {
        s_peer_t *sub = &self->subs[i];
        s_peer_init(sub, server, true);
        sub->seen = zmalloc((size_t)self->total + 1);
        snprintf(user, sizeof user, "sub%d", i);
        if (s_login(sub, user, deadline) == -1) {
            s_feed_destroy(&self);
            return NULL;
        }
    }
    for (int i = 0; i < nsenders; i++) {
        s_peer_t *sender = &self->senders[i];
        s_peer_init(sender, server, false);
        sender->first = i * per_sender;
        sender->count = per_sender;
        sender->window = window;
        snprintf(user, sizeof user, "snd%d", i);
        if (s_login(sender, user, deadline) == -1) {
            s_feed_destroy(&self);
            return NULL;
        }
    }
    int item = 0;
    for (int i = 0; i < nsenders; i++)
        self->items[item++] = (zmq_pollitem_t){self->senders[i].dealer_h, 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < nsubs; i++)
        self->items[item++] = (zmq_pollitem_t){self->subs[i].sub_h, 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < nsubs; i++)
        self->items[item++] = (zmq_pollitem_t){self->subs[i].dealer_h, 0, ZMQ_POLLIN, 0};
    self->nitems = item;

    // Slow joiner: say "sync" until every subscriber has received something on its feed
    s_peer_t *sender = &self->senders[0];
    int syncs = 0;
    int64_t next_sync = 0;
    while (zclock_mono() < deadline && !zsys_interrupted) {
        int synced = 0;
        for (int i = 0; i < nsubs; i++)
            synced += self->subs[i].synced;
        if (synced == nsubs && sender->unacked == 0)
            break;
        if (synced < nsubs && zclock_mono() >= next_sync) {
            char request[128];
            snprintf(request, sizeof request,
                     "{\"type\":\"say\",\"room\":\"" BENCH_ROOM "\",\"text\":\"sync\",\"id\":"
                     "\"s%d\"}",
                     syncs++);
            if (zmq_send(sender->dealer_h, request, strlen(request), ZMQ_DONTWAIT) == 0)
                sender->unacked++;
            next_sync = zclock_mono() + FEED_SYNC_MS;
        }
        s_poll(self, 5);
    }
    if (zclock_mono() >= deadline || zsys_interrupted) {
        bench_note("setup: the subscriptions did not all come up within %d ms", FEED_SETUP_MS);
        s_feed_destroy(&self);
        return NULL;
    }
    // Every event so far has a seq up to ack_seq: the measured ones follow it
    for (int i = 0; i < nsubs; i++)
        if (self->subs[i].last_seq < self->ack_seq)
            self->subs[i].last_seq = self->ack_seq;
    self->errors = 0;
    return self;
}

static void
s_feed_destroy(s_feed_t **self_p)
{
    s_feed_t *self = *self_p;
    if (!self)
        return;
    // In creation order: CZMQ finds each socket at the head of its list
    for (int i = 0; i < self->nsubs; i++)
        s_peer_fini(&self->subs[i]);
    for (int i = 0; i < self->nsenders; i++)
        s_peer_fini(&self->senders[i]);
    free(self->subs);
    free(self->senders);
    free(self->items);
    free(self->request);
    free(self->padding);
    free(self->latency);
    free(self);
    *self_p = NULL;
}

// --- The run ---

static bool
s_all_delivered(const s_feed_t *self)
{
    for (int i = 0; i < self->nsubs; i++)
        if (self->subs[i].unique < self->total)
            return false;
    return true;
}

static bool
s_senders_done(const s_feed_t *self)
{
    for (int i = 0; i < self->nsenders; i++)
        if (self->senders[i].next < self->senders[i].count || self->senders[i].unacked > 0)
            return false;
    return true;
}

static bool
s_fetches_done(const s_feed_t *self)
{
    for (int i = 0; i < self->nsubs; i++)
        if (self->subs[i].fetching || self->subs[i].gaps_head < self->subs[i].gaps_size)
            return false;
    return true;
}

// After the flood: fetch each subscriber's missing tail, then wait for every repair.
static void
s_repair(s_feed_t *self)
{
    self->flooding = false;
    if (self->system != BENCH_BROKER)
        return;
    for (int i = 0; i < self->nsubs; i++) {
        s_peer_t *sub = &self->subs[i];
        s_add_gap(self, sub, sub->last_seq + 1, self->final_seq);
        if (self->final_seq > sub->last_seq)
            sub->last_seq = self->final_seq;
    }
    int64_t deadline = zclock_mono() + FEED_REPAIR_MS;
    while (!s_fetches_done(self) && zclock_mono() < deadline && !zsys_interrupted) {
        for (int i = 0; i < self->nsubs; i++)
            s_fetch(self, &self->subs[i]);
        s_poll(self, 10);
    }
    if (!s_fetches_done(self))
        bench_note("repair: history requests still open after %d ms", FEED_REPAIR_MS);
}

// The flood is over when every subscriber has every message, or the senders are done and
// nothing has come for FEED_IDLE_MS (what is missing then is lost on the feed).
static bool
s_flood_over(s_feed_t *self, bool senders_done)
{
    if (s_all_delivered(self))
        return true;
    return senders_done && s_fetches_done(self) &&
           bench_usecs() - self->t_feed > FEED_IDLE_MS * 1000;
}

// Sum the subscribers' counts into delivered/s, lost, raw drops and repaired.
static void
s_results(s_feed_t *self, int64_t delivered, double *rate, double *lost, double *drops,
          double *repaired)
{
    int64_t missing = 0, feed_missing = 0, fixed = 0;
    for (int i = 0; i < self->nsubs; i++) {
        missing += self->total - self->subs[i].unique;
        feed_missing += self->total - self->subs[i].on_feed;
        fixed += self->subs[i].repaired;
    }
    double seconds = (double)(self->t_last - self->t0) / 1e6;
    if (rate)
        *rate = seconds > 0 ? (double)delivered / seconds : NAN;
    *lost = (double)missing;
    *drops = (double)feed_missing;
    if (repaired)
        *repaired = self->system == BENCH_BROKER ? (double)fixed : NAN;
    if (self->errors)
        bench_note("%" PRId64 " error replies, the first: %s", self->errors, self->first_error);
}

static int64_t
s_delivered(const s_feed_t *self)
{
    int64_t delivered = 0;
    for (int i = 0; i < self->nsubs; i++)
        delivered += self->subs[i].unique;
    return delivered;
}

// CPU time per measured say since the flood began, of the server (all its threads) and of this
// load generator: what each message costs, whatever the scheduler made of the 2 cores.
static void
s_cpu_per_say(const s_feed_t *self, const server_t *server, int64_t server_start,
              int64_t load_start, double *server_cpu, double *load_cpu)
{
    int64_t server_now = server_cpu_usecs(server), load_now = bench_cpu_usecs();
    *server_cpu = server_start >= 0 && server_now >= 0 && self->total > 0
                      ? (double)(server_now - server_start) / self->total
                      : NAN;
    if (load_cpu)
        *load_cpu = load_start >= 0 && load_now >= 0 && self->total > 0
                        ? (double)(load_now - load_start) / self->total
                        : NAN;
}

// W1 and W2: windowed senders, as fast as replies come back.
static int
s_throughput(const bench_options_t *options, const server_t *server, bench_system_t system,
             int nsenders, int per_sender, int nsubs, double *figures, int first_figure)
{
    int window = options->window / nsenders;
    if (window < 1)
        window = 1;
    s_feed_t *self = s_feed_new(options, server, system, nsenders, per_sender, nsubs, window);
    if (!self)
        return -1;
    self->measuring = self->flooding = true;
    self->t_feed = bench_usecs();
    int64_t server_cpu = server_cpu_usecs(server), load_cpu = bench_cpu_usecs();
    // Bounded in time too: 30 s plus 1 s per 2,000 messages
    int64_t deadline = zclock_mono() + 30000 + self->total / 2;
    bool senders_done = false;
    int64_t stall_end = options->stall_ms ? zclock_mono() + options->stall_ms : 0;
    if (stall_end)
        self->items[nsenders].events = 0;  // --stall-ms: subscriber 0 stops reading its feed
    while (!zsys_interrupted && zclock_mono() < deadline) {
        if (stall_end && zclock_mono() >= stall_end) {
            self->items[nsenders].events = ZMQ_POLLIN;
            stall_end = 0;
        }
        s_refill(self);
        s_poll(self, 10);
        senders_done = s_senders_done(self);
        if (senders_done && !stall_end && s_flood_over(self, senders_done))
            break;
    }
    if (!senders_done)
        bench_note("the senders did not finish within the time limit");
    int64_t delivered = s_delivered(self);
    s_cpu_per_say(self, server, server_cpu, load_cpu, &figures[first_figure + 4],
                  &figures[first_figure + 5]);
    self->final_seq = self->ack_seq;
    s_repair(self);
    s_results(self, delivered, &figures[first_figure], &figures[first_figure + 1],
              &figures[first_figure + 2], &figures[first_figure + 3]);
    s_feed_destroy(&self);
    return 0;
}

int
feed_fanout(const bench_options_t *options, const server_t *server, bench_system_t system,
            double *figures)
{
    return s_throughput(options, server, system, 1, options->w1_messages, options->w1_subscribers,
                        figures, BENCH_W1_RATE);
}

int
feed_fanin(const bench_options_t *options, const server_t *server, bench_system_t system,
           double *figures)
{
    return s_throughput(options, server, system, options->w2_senders, options->w2_messages, 1,
                        figures, BENCH_W2_RATE);
}

// --- W3: a paced sender on a thread of its own ---

// The pacer: send count says at rate per second from start, reading the acks as they come.
static void
s_pacer(zsock_t *pipe, void *arg)
{
    s_pacer_t *self = arg;
    // Sleep to the microsecond, not to the default 50 µs timer slack
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    zsock_signal(pipe, 0);
    char *request = zmalloc((size_t)self->text_size + 256);
    char *padding = zmalloc((size_t)self->text_size + 1);
    memset(padding, 'x', (size_t)self->text_size);
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    int64_t period_ns = 1000000000LL / self->rate;
    bool stopped = false;
    for (int i = 0; i < self->count && !zsys_interrupted; i++) {
        if (zsock_events(pipe) & ZMQ_POLLIN) {
            stopped = true;  // $TERM: the run is over
            break;
        }
        int64_t due = self->start + (int64_t)i * period_ns / 1000;
        int64_t now = bench_usecs();
        if (due > now) {
            struct timespec pause = {(due - now) / 1000000, (due - now) % 1000000 * 1000};
            nanosleep(&pause, NULL);
            now = bench_usecs();
        }
        if (now - due > self->late_us)
            self->late_us = now - due;
        size_t size = (size_t)snprintf(request, (size_t)self->text_size + 256,
                                       "{\"type\":\"say\",\"room\":\"" BENCH_ROOM "\",\"text\":\""
                                       "#B%010d:%016" PRId64 "#",
                                       i, bench_usecs());
        memcpy(request + size, padding, (size_t)(self->text_size - FEED_MARKER));
        size += (size_t)(self->text_size - FEED_MARKER);
        size += (size_t)snprintf(request + size, 64, "\",\"id\":\"m%d\"}", i);
        // Blocking send (up to the DEALER's send timeout): at this rate a full DEALER means
        // the system is far behind anyway
        if (zmq_send(self->dealer, request, size, 0) == -1)
            break;
        self->sent++;
        while (zmq_msg_recv(&reply, self->dealer, ZMQ_DONTWAIT) != -1) {
            self->replies++;
            const char *data = zmq_msg_data(&reply);
            size_t length = zmq_msg_size(&reply);
            if (s_is_type(data, length, "error"))
                self->errors++;
            uint64_t seq = s_find_uint(data, length, "\"seq\":");
            if (seq > self->ack_seq)
                self->ack_seq = seq;
        }
    }
    // The last acks
    int64_t deadline = zclock_mono() + 5000;
    zmq_pollitem_t item = {self->dealer, 0, ZMQ_POLLIN, 0};
    while (!stopped && self->replies < self->sent && zclock_mono() < deadline &&
           !zsys_interrupted) {
        if (zmq_poll(&item, 1, 10) == 1 && zmq_msg_recv(&reply, self->dealer, 0) != -1) {
            self->replies++;
            const char *data = zmq_msg_data(&reply);
            size_t length = zmq_msg_size(&reply);
            if (s_is_type(data, length, "error"))
                self->errors++;
            uint64_t seq = s_find_uint(data, length, "\"seq\":");
            if (seq > self->ack_seq)
                self->ack_seq = seq;
        }
    }
    zmq_msg_close(&reply);
    free(request);
    free(padding);
    if (stopped)
        return;
    zstr_send(pipe, "done");
    // Wait for $TERM from zactor_destroy
    char *command = zstr_recv(pipe);
    zstr_free(&command);
}

int
feed_latency(const bench_options_t *options, const server_t *server, bench_system_t system,
             double *figures)
{
    int count = (int)((int64_t)options->w3_rate * options->w3_ms / 1000);
    s_feed_t *self =
        s_feed_new(options, server, system, 1, count, options->w3_subscribers, options->window);
    if (!self)
        return -1;
    self->latency_max = (size_t)count * (size_t)options->w3_subscribers;
    self->latency = zmalloc(self->latency_max * sizeof(int64_t));

    // The sender's DEALER belongs to the pacer until it says "done"
    zsock_set_sndtimeo(self->senders[0].dealer, 1000);
    s_pacer_t pacer = {.dealer = self->senders[0].dealer_h,
                       .count = count,
                       .rate = options->w3_rate,
                       .text_size = options->text_size,
                       .start = bench_usecs() + 20000};
    self->measuring = self->flooding = true;
    self->t0 = pacer.start;
    self->t_feed = bench_usecs();
    int64_t server_cpu = server_cpu_usecs(server);
    zactor_t *actor = zactor_new(s_pacer, &pacer);
    assert(actor);
    // The pacer's pipe takes the sender's place among the poll items
    self->items[0] = (zmq_pollitem_t){zsock_resolve(zactor_sock(actor)), 0, ZMQ_POLLIN, 0};
    self->nsenders = 0;
    int64_t deadline = zclock_mono() + options->w3_ms + 30000;
    bool pacer_done = false;
    while (!zsys_interrupted && zclock_mono() < deadline) {
        int rc = zmq_poll(self->items, self->nitems, 10);
        if (rc > 0 && (self->items[0].revents & ZMQ_POLLIN)) {
            char *done = zstr_recv(actor);
            zstr_free(&done);
            pacer_done = true;
        }
        if (rc > 0)
            for (int i = 0; i < self->nsubs; i++) {
                if (self->items[1 + i].revents & ZMQ_POLLIN)
                    s_drain(self, &self->subs[i], true);
                if (self->items[1 + self->nsubs + i].revents & ZMQ_POLLIN)
                    s_drain(self, &self->subs[i], false);
            }
        if (pacer_done && s_flood_over(self, pacer_done))
            break;
    }
    if (!pacer_done)
        bench_note("W3: the paced sender did not finish within the time limit");
    zactor_destroy(&actor);  // $TERM stops a pacer that is not done
    self->nsenders = 1;
    self->items[0] = (zmq_pollitem_t){self->senders[0].dealer_h, 0, ZMQ_POLLIN, 0};
    self->senders[0].unacked = 0;
    if (pacer.errors) {
        self->errors += pacer.errors;
        snprintf(self->first_error, sizeof self->first_error, "an error reply to a say");
    }
    if (options->verbose || pacer.late_us > 5000)
        bench_note("W3 %s: %d sent, %d replies, the latest send %" PRId64 " µs behind schedule",
                   system == BENCH_BROKER ? "broker" : "relay", pacer.sent, pacer.replies,
                   pacer.late_us);
    s_cpu_per_say(self, server, server_cpu, -1, &figures[BENCH_W3_SERVER_CPU], NULL);
    self->final_seq = pacer.ack_seq;
    s_repair(self);
    bench_sort(self->latency, self->latency_size);
    figures[BENCH_W3_P50] = bench_quantile(self->latency, self->latency_size, 0.50);
    figures[BENCH_W3_P99] = bench_quantile(self->latency, self->latency_size, 0.99);
    figures[BENCH_W3_P999] = bench_quantile(self->latency, self->latency_size, 0.999);
    figures[BENCH_W3_MAX] = bench_quantile(self->latency, self->latency_size, 1.0);
    s_results(self, 0, NULL, &figures[BENCH_W3_LOST], &figures[BENCH_W3_DROPS], NULL);
    s_feed_destroy(&self);
    return 0;
}
