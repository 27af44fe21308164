/*
 * aws_answer.c — ask the AWS client one of the policy's queries, as chgd's
 * resolver does, and print the answer (JSON) or the error; for the tests
 * of the client against the local endpoint (tests/aws/test_aws.py).
 *
 *   aws_answer [--repeat N] [--sleep SECONDS] [--timeout MS] CALL ARG...
 *   aws_answer --act CALL ARGS_JSON [KEY]  run an action (chg_aws_act), KEY its idempotency key
 *
 * Each repetition prints one line: the answer, or "error CODE: message".
 * Exits 0 when every call answered, 1 otherwise, 2 on a usage error.
 */
#include "chg_aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int i = 1, repeat = 1, pause = 0;
    bool act = false;
    long timeout = 0;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sleep"))
            pause = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--act")) {
            act = true;
            i--; /* a flag without a value */
        } else if (!strcmp(argv[i], "--timeout"))
            timeout = atol(argv[i + 1]);
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: aws_answer [--repeat N] [--sleep S] [--timeout MS] CALL ARG...\n");
        return 2;
    }
    chg_aws_options o = {.timeout_ms = timeout};
    chg_aws *a;
    chg_aws_error err;
    if (chg_aws_new(&o, &a, &err) != CHG_OK) {
        printf("error %s: %s\n", err.code, err.message);
        return 1;
    }
    int status = 0;
    for (int r = 0; r < repeat; r++) {
        if (r && pause)
            sleep((unsigned)pause);
        chg_buf out;
        chg_buf_init(&out);
        int rc = act ? chg_aws_act(a, argv[i], i + 1 < argc ? argv[i + 1] : "[]", i + 2 < argc ? argv[i + 2] : NULL,
                                 &out, &err)
                     : chg_aws_answer(a, argv[i], (const char *const *)argv + i + 1, (uint32_t)(argc - i - 1),
                                      time(NULL), &out, &err);
        if (rc == CHG_OK)
            printf("%s\n", out.data);
        else {
            printf("error %s: %s\n", err.code, err.message);
            status = 1;
        }
        chg_buf_free(&out);
        fflush(stdout);
    }
    chg_aws_free(a);
    return status;
}
