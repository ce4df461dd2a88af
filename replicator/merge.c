/*
 * merge.c - handing a divergent tail over to the new leader.
 * (Implemented with the failover work; until then a node never has a
 * pending merge.)
 */
#include "repl.h"

bool
merge_ready(repl_t *r)
{
    (void) r;
    return true;
}

bool
merge_on_merged(repl_t *r, const unsigned char *p)
{
    (void) r;
    (void) p;
    return true;
}
