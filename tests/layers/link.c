/*
 * link.c - main() of the tests/layers/link_LAYER programs.  Each of them
 * is one layer's library linked whole with only the libraries below it
 * (Makefile.am, "layers"): that it links at all is the test, so running
 * it only reports that.  Prints TAP.
 */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
    const char *layer = name ? name + 1 : argc > 0 ? argv[0] : "?";

    if (strncmp(layer, "link_", 5) == 0)
        layer += 5;
    printf("1..1\nok 1 - lib%s.a links whole with the libraries below it "
           "only\n",
           layer);
    return 0;
}
