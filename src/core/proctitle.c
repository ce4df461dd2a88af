/*
 * proctitle.c - process titles (see proctitle.h).
 */
#include "src/core/proctitle.h"
#include "src/core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

static char *pt_start, *pt_end;

void
proctitle_init(int argc, char **argv)
{
    char *end;
    size_t n = 0;
    char **env;

    if (argc < 1 || argv[0] == NULL)
        return;
    end = argv[0] + strlen(argv[0]);
    for (int i = 1; i < argc; i++)
        if (argv[i] == end + 1)
            end = argv[i] + strlen(argv[i]);
    for (int i = 0; environ[i] != NULL; i++, n++)
        if (environ[i] == end + 1)
            end = environ[i] + strlen(environ[i]);
    env = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = xstrdup(environ[i]);
    environ = env;
    pt_start = argv[0];
    pt_end = end;
}

void
proctitle_set(const char *fmt, ...)
{
    char title[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(title, sizeof(title), fmt, ap);
    va_end(ap);
    if (pt_start == NULL)
        return;
    size_t room = (size_t) (pt_end - pt_start);
    size_t len = strlen(title);
    if (len > room)
        len = room;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): memset ends it */
    memcpy(pt_start, title, len);
    memset(pt_start + len, 0, room - len + 1);
}
