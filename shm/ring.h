/*
 * ring.h - the change ring: LSN-numbered change records in the shared
 * segment, many producers (the workers), one consumer (the master's log
 * writer).
 *
 * Positions are free-running 64-bit byte counts; the slot for position p is
 * at data[p & (size - 1)].  [tail, head) holds records not yet persisted;
 * producers never reserve past tail + size, so nothing unpersisted is ever
 * overwritten (a full ring makes producers wait: MEMDB_AGAIN).
 *
 * Reserving takes the ring's pid lock for a few stores: it assigns the next
 * LSN and the slot together, so LSN order is position order.  A slot never
 * wraps: when the record does not fit before the end of the data area, a pad
 * slot fills the rest (a tail shorter than a slot header is skipped
 * implicitly).  The slot header carries its own position, which tells a
 * reader whether the header belongs to this lap.
 *
 * Slot states: WRITING (reserved, payload being copied), READY (complete),
 * VOID (its writer died before READY; the log writer persists a REC_NOOP
 * with the same LSN and epoch).
 *
 * The write fence.  Who may reserve is decided where LSNs are assigned,
 * under the ring lock: the header holds this node's role and epoch, which
 * the replicator changes only under that lock (ring_set_role).  Uploads
 * need a leader (or a node that runs alone), hand-over records a leader,
 * replicated records a replica and the exact next LSN; anything else gets
 * MEMDB_BUSY and reserves nothing.  The epoch a reservation returns is the
 * one the record must carry.  So no upload parked before a step-down can
 * take an LSN on a replica, and no record of an old leader can carry the
 * epoch of the new one.
 *
 * Crash safety of the reservation: the reserving worker notes (pos, lsn,
 * need) in its worker slot before the two committing stores (next_lsn, then
 * head).  ring_repair() rolls back a reservation whose next_lsn store was
 * done and whose head store was not; a reservation killed before next_lsn
 * leaves nothing behind.  A WRITING slot of a dead producer that is the
 * last reservation is taken back (head and next_lsn move back over it, as
 * if it had never been made); any other is voided.  So a replica, whose
 * only producer is its replicator, never voids a record: the LSN it lost
 * is asked for again, and its log never holds a no-op where its leader's
 * holds a record.
 */
#ifndef MEMDB_SHM_RING_H
#define MEMDB_SHM_RING_H

#include "shm/lock.h"

/* A node's role: who leads takes the writes (see the write fence above). */
enum { ROLE_STANDALONE = 0, ROLE_LEADER = 1, ROLE_REPLICA = 2 };
/* What a reservation is for. */
enum { RING_W_UPLOAD = 1, RING_W_MERGE, RING_W_REPLICATE };

enum { RING_REC = 1, RING_PAD = 2 };
enum { RING_WRITING = 1, RING_READY = 2, RING_VOID = 3 };

typedef struct ring_slot_s {
    _Atomic uint64_t pos; /* position of this slot (lap marker) */
    uint32_t size;        /* slot bytes, header included */
    uint16_t kind;
    _Atomic uint16_t state;
    int32_t pid;     /* writer */
    uint32_t reclen; /* record bytes after the header */
    uint64_t lsn;
    uint64_t epoch; /* the epoch of the reservation */
    uint64_t aux;   /* what ring_reserve_with()'s callback noted (a
                       table's commit word, shm/catalog.h) */
} ring_slot_t;

#define RING_SLOT_HDR sizeof(ring_slot_t)
_Static_assert(sizeof(ring_slot_t) == 48, "ring slot header is 48 bytes");

typedef struct ring_hdr_s {
    lock_t lock;
    _Atomic uint32_t role; /* ROLE_*: the write fence (under lock) */
    _Atomic uint64_t head;
    _Atomic uint64_t tail;
    _Atomic uint64_t next_lsn;
    uint64_t size;          /* power of two */
    _Atomic uint64_t epoch; /* the write fence's epoch (under lock) */
} ring_hdr_t;

/* A reservation, noted in the reserving worker's slot (for ring_repair). */
typedef struct ring_resv_s {
    uint64_t pos;
    uint64_t lsn; /* RING_W_REPLICATE: set by the caller, the LSN wanted */
    uint64_t need;
    uint64_t epoch;
} ring_resv_t;

typedef struct ring_s {
    ring_hdr_t *hdr;
    char *data;
} ring_t;

void ring_init(ring_t *r, uint64_t size, uint64_t first_lsn);
/* Largest record ring_reserve() accepts. */
uint64_t ring_max_record(const ring_t *r);
/* Reserves room for a record of reclen bytes and the next LSN, for what
 * (RING_W_*).  Returns MEMDB_OK (*slot set, state WRITING; rv holds LSN
 * and epoch), MEMDB_AGAIN when the ring is full, MEMDB_BUSY when the write
 * fence refuses (role, or for RING_W_REPLICATE the next LSN is not
 * rv->lsn), MEMDB_ERR when the record can never fit. */
int ring_reserve(ring_t *r, uint32_t reclen, uint32_t pid, int what,
                 ring_resv_t *rv, ring_slot_t **slot);
/* The same, and fn(arg, slot) runs under the ring lock once the slot has
 * its LSN (slot->lsn): what it decides is in LSN order.  It may fill and
 * publish the slot.  If it returns anything but MEMDB_OK the reservation
 * is taken back and that is returned.  A process killed inside fn leaves
 * the lock to the master, which keeps it until the dead process's record
 * is finished (ring_repair, ring_repaired). */
typedef int (*ring_locked_fn)(void *arg, ring_slot_t *slot);
int ring_reserve_with(ring_t *r, uint32_t reclen, uint32_t pid, int what,
                      ring_resv_t *rv, ring_slot_t **slot, ring_locked_fn fn,
                      void *arg);
/* Sets the write fence (role and epoch) under the ring lock; returns the
 * next LSN at that instant, where a new leader's epoch starts. */
uint64_t ring_set_role(ring_t *r, uint32_t role, uint64_t epoch, uint32_t pid);
static inline void *
ring_slot_rec(ring_slot_t *s)
{
    return (char *) s + RING_SLOT_HDR;
}
void ring_publish(ring_slot_t *s);

/* Consumer.  ring_next() returns the slot of the next record at or after
 * *cursor (skipping pads, advancing *cursor to it), or NULL when the next
 * record is not there yet or still WRITING. */
ring_slot_t *ring_next(ring_t *r, uint64_t *cursor, bool include_writing);
/* The slot at a position known to hold a record header of this lap. */
ring_slot_t *ring_slot_at(ring_t *r, uint64_t pos);
void ring_release(ring_t *r, uint64_t upto);
uint64_t ring_used(const ring_t *r);

/* Master (pid self), after a child died: rolls back its reservation, takes
 * back its last WRITING slot and marks the others VOID.  Returns the
 * number of slots it changed.  A ring lock the dead child held stays held,
 * by the master, until ring_repaired(): what the child did under it (a
 * published record's table operation) must be finished first. */
unsigned ring_repair(ring_t *r, uint32_t dead, const ring_resv_t *rv,
                     uint32_t self);
void ring_repaired(ring_t *r, uint32_t self);

#endif
