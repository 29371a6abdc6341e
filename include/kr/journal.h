/* kr/journal.h: the append-only journal. Every accepted event and every state change is
 * a record: one line "<crc32c as 8 hex> <compact JSON>\n" in a segment file
 * (journal-NNNNNNNN.log). Appends are written (page cache) at the end of each loop pass;
 * durability comes from a group commit: a dedicated thread fdatasyncs everything written
 * so far and hands "durable up to seq N" back to the loop, which runs the callbacks of
 * every append it covered. One fsync thus serves all requests of a loop pass.
 *
 * DESIGN: loop thread: kr_journal_append (encode, queue waiter), end of the loop pass:
 * one write(2) of the pass's records → fsync thread:
 * fdatasync → event_active on the loop → loop thread: waiter callbacks in seq order. */
#ifndef KR_JOURNAL_H
#define KR_JOURNAL_H

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

typedef struct kr_journal kr_journal_t;

/* Called on the loop thread once the record is durable (rc 0) or cannot be (KR_EIO). */
typedef void (*kr_journal_done_cb)(int rc, uint64_t seq, void *arg);

/* Opens (creating) the journal directory for appending; starts the fsync thread.
 * Returns a new journal or NULL with err. */
kr_journal_t *kr_journal_open(struct event_base *base, const char *dir, char *err, size_t errlen);
/* Stops the fsync thread after a final fsync, runs pending callbacks, closes. */
void kr_journal_close(kr_journal_t *j);

/* Appends a record (borrowed; a "seq" and "t" (ms) member are added to it). `done` may be
 * NULL (fire and forget, still durable at the next group commit). The record is written
 * at the end of the loop pass together with the pass's other records (one write(2)).
 * Returns the record's sequence number (> 0) in *seq, 0, KR_ENOMEM, or KR_EIO when a new
 * segment cannot be started: then the record is not in the journal and `done` is not
 * called. A write that fails later (disk full, read-only) settles `done` with KR_EIO. */
int kr_journal_append(kr_journal_t *j, json_t *record, kr_journal_done_cb done, void *arg,
                      uint64_t *seq);

/* Writes the records appended so far now (normally done at the end of the loop pass).
 * Returns 0 or KR_EIO (the journal is then unhealthy; see kr_journal_error). */
int kr_journal_flush(kr_journal_t *j);

/* Registers a function called on the loop thread just before each write of appended
 * records (the pass's write, an earlier one when a segment fills or the batch grows large,
 * the one before a compaction snapshot, and at close): records it appends join that write.
 * One hook per journal. */
void kr_journal_set_flush_hook(kr_journal_t *j, void (*fn)(void *arg), void *arg);

/* Segment size limit (default 64 MiB): an append that would pass it starts a new segment. */
void kr_journal_set_segment_size(kr_journal_t *j, int64_t bytes);
/* The number of the segment being written (journal-NNNNNNNN.log). */
unsigned kr_journal_segment(const kr_journal_t *j);

/* 1 while the journal can accept and persist records (for /readyz); the last error text. */
int kr_journal_healthy(const kr_journal_t *j);
const char *kr_journal_error(const kr_journal_t *j);
uint64_t kr_journal_fsyncs(const kr_journal_t *j);
uint64_t kr_journal_records(const kr_journal_t *j);

/* Compaction: writes the records appended so far to the current segment, then a snapshot
 * of the live state as a new segment (to a temp file, fsync'd, renamed in), then removes
 * every older segment. `fill` adds the snapshot's records with kr_journal_snapshot_add
 * (each module writes records its replay restores from alone); the snapshot must cover
 * every record appended before it, those still waiting for their fsync included (their
 * state, or a copy of them): from then on they count as durable, their callbacks run
 * with 0 on the next wake-up, and a later fsync failure of a removed segment is not
 * reported. Replay starts at the newest segment that begins with a snapshot. Runs on
 * the loop thread and waits for the snapshot's fsync; the journal need not be idle.
 * Returns 0, KR_EAGAIN while a failed write is still being reported to its callbacks or
 * the fsync thread is far behind (try later), or KR_EIO / KR_ENOMEM (nothing changed). */
typedef struct kr_journal_snapshot kr_journal_snapshot_t;
int kr_journal_compact(kr_journal_t *j, int (*fill)(kr_journal_snapshot_t *snap, void *arg), void *arg,
                       char *err, size_t errlen);
/* Adds one record (borrowed; seq and t are set) to the snapshot being written. */
int kr_journal_snapshot_add(kr_journal_snapshot_t *snap, json_t *record);
/* Adds the record {"kind": kind, key: [strs...]} (plus seq and t) without building it in
 * jansson: for the long id lists of a snapshot. Returns 0, KR_ENOMEM (or a string that is
 * not UTF-8), KR_EIO. */
int kr_journal_snapshot_add_strings(kr_journal_snapshot_t *snap, const char *kind, const char *key,
                                    const char *const *strs, size_t n);
/* How many segment files the directory holds. */
unsigned kr_journal_segment_count(const kr_journal_t *j);

/* Reads every record of a journal directory in order, calling cb with each record (a
 * borrowed object). A torn or corrupt last line (a crash in the middle of a write) is
 * reported through `torn` and ignored; corruption before the end is an error. Returns 0,
 * KR_EIO, KR_EINVAL (corrupt, with err naming file:line), or cb's non-zero result.
 * Any thread; call before kr_journal_open on the same directory. */
int kr_journal_replay(const char *dir, int (*cb)(json_t *record, void *arg), void *arg,
                      uint64_t *last_seq, int *torn, char *err, size_t errlen);

/* CRC-32C (Castagnoli) of a buffer. */
uint32_t kr_crc32c(const void *buf, size_t len);

#endif
