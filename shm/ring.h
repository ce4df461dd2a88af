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
 * with the same LSN).
 *
 * Crash safety of the reservation: the reserving worker notes (pos, lsn,
 * need) in its worker slot before the two committing stores (next_lsn, then
 * head).  ring_repair() completes a reservation whose next_lsn store was done
 * and whose head store was not, so LSNs are never skipped; a reservation
 * killed before next_lsn leaves nothing behind.
 */
#ifndef MEMDB_RING_H
#define MEMDB_RING_H

#include "lock.h"

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
} ring_slot_t;

#define RING_SLOT_HDR sizeof(ring_slot_t)
_Static_assert(sizeof(ring_slot_t) == 32, "ring slot header is 32 bytes");

typedef struct ring_hdr_s {
    lock_t lock;
    uint32_t _pad;
    _Atomic uint64_t head;
    _Atomic uint64_t tail;
    _Atomic uint64_t next_lsn;
    uint64_t size; /* power of two */
} ring_hdr_t;

/* A reservation, noted in the reserving worker's slot (for ring_repair). */
typedef struct ring_resv_s {
    uint64_t pos;
    uint64_t lsn;
    uint64_t need;
} ring_resv_t;

typedef struct ring_s {
    ring_hdr_t *hdr;
    char *data;
} ring_t;

void ring_init(ring_t *r, uint64_t size, uint64_t first_lsn);
/* Largest record ring_reserve() accepts. */
uint64_t ring_max_record(const ring_t *r);
/* Reserves room for a record of reclen bytes and the next LSN.  Returns
 * MEMDB_OK (*slot set, state WRITING), MEMDB_AGAIN when the ring is full,
 * MEMDB_ERR when the record can never fit. */
int ring_reserve(ring_t *r, uint32_t reclen, uint32_t pid, ring_resv_t *rv,
                 ring_slot_t **slot);
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

/* Master, after a child died: completes or forgets its reservation and
 * marks its WRITING slots VOID.  Returns the number of slots voided. */
unsigned ring_repair(ring_t *r, uint32_t dead, const ring_resv_t *rv);

#endif
