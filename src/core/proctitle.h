/*
 * proctitle.h - process titles shown by ps ("memdbd: worker 1").
 *
 * proctitle_init() moves the environment out of the way so the title can
 * use the memory of argv and environ; call it after the arguments were
 * parsed and copied.
 */
#ifndef MEMDB_SRC_CORE_PROCTITLE_H
#define MEMDB_SRC_CORE_PROCTITLE_H

void proctitle_init(int argc, char **argv);
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
