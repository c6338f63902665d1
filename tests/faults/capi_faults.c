/*
 * capi_faults.c -- drive libolcaoml's C API with faults, in a process of
 * its own (a crash here cannot take pytest down; the test sees the signal
 * in the exit status).
 *
 *     capi_faults MODEL.oml WORKDIR
 *
 * Prints one line per case, "case NAME status S expect E ok|FAIL", and
 * exits 0 when every case returned the status it should.  Cases:
 *   - write_scfv on a file-size limit (RLIMIT_FSIZE, EFBIG: the same write
 *     path as a full disk): an error status, the old file unchanged, no
 *     temporary file left;
 *   - num_threads INT_MAX and 1000000: OLCAOML_ERR_ARGUMENT, no abort;
 *   - descriptors of 1e308: OLCAOML_ERR_NON_FINITE, never Inf with OK.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "olcaoml.h"

static int failures = 0;

static void expect(const char *name, int status, int want, const char *msg)
{
    int ok = (status == want);
    printf("case %s status %d expect %d %s | %s\n", name, status, want,
           ok ? "ok" : "FAIL", msg);
    if (!ok)
        failures++;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

static int count_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".olcaoml-") != NULL)
            n++;
    closedir(d);
    return n;
}

static void scfv_on_full_disk(const char *dir)
{
    enum { TYPES = 8, TERMS = 16, ROWS = TYPES * TERMS };
    static double table[ROWS][5];
    int terms[TYPES];
    char path[4096], msg[512] = "";
    struct rlimit old, small;
    long before, after;
    int i, status;

    for (i = 0; i < TYPES; i++)
        terms[i] = TERMS;
    for (i = 0; i < ROWS; i++) {
        table[i][0] = -1.5 + 0.01 * i;
        table[i][1] = 0.1 * (i % TERMS + 1);
        table[i][2] = table[i][3] = 0.25;
        table[i][4] = 0.0;
    }
    snprintf(path, sizeof path, "%s/scfV.dat", dir);
    status = olcaoml_write_scfv(path, TYPES, terms, &table[0][0], NULL, msg,
                                sizeof msg);
    expect("scfv_first_write", status, OLCAOML_OK, msg);
    before = file_size(path);

    /* A file-size limit below the new file's size: write(2) fails with
     * EFBIG (SIGXFSZ ignored), exactly where a full disk gives ENOSPC. */
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &small);
    for (i = 0; i < ROWS; i++)
        table[i][0] *= 2.0;
    msg[0] = '\0';
    status = olcaoml_write_scfv(path, TYPES, terms, &table[0][0], NULL, msg,
                                sizeof msg);
    setrlimit(RLIMIT_FSIZE, &old);
    expect("scfv_file_size_limit", status, OLCAOML_ERR_IO, msg);
    after = file_size(path);
    printf("scfv sizes before %ld after %ld temporaries %d\n", before, after,
           count_temporaries(dir));
    if (after != before || before <= 0) {
        printf("case scfv_old_file_kept FAIL\n");
        failures++;
    }
    if (count_temporaries(dir) != 0) {
        printf("case scfv_no_temporaries FAIL\n");
        failures++;
    }
}

static void threads_and_overflow(const char *model_path)
{
    olcaoml_model model = NULL;
    char msg[512] = "";
    int status, nf = 0, ld = 0, el = 1, i;
    double *x, *coeffs;
    int bad_threads[2] = {INT_MAX, 1000000};

    status = olcaoml_model_load(model_path, &model, msg, sizeof msg);
    expect("model_load", status, OLCAOML_OK, msg);
    if (status != OLCAOML_OK)
        return;
    olcaoml_model_num_features(model, &nf, NULL, 0);
    olcaoml_model_max_alphas(model, &ld, NULL, 0);
    x = calloc((size_t)nf, sizeof *x);
    coeffs = calloc((size_t)ld, sizeof *coeffs);
    for (i = 0; i < 2; i++) {
        char name[64];
        msg[0] = '\0';
        status = olcaoml_predict_from_descriptors(model, 1, &el, nf, x,
                                                  bad_threads[i], ld, coeffs,
                                                  msg, sizeof msg);
        snprintf(name, sizeof name, "predict_threads_%d", bad_threads[i]);
        expect(name, status, OLCAOML_ERR_ARGUMENT, msg);
    }
    {
        /* Two Si atoms in a diamond cell (Bohr). */
        double cell[3][3] = {{10.26, 0, 0}, {0, 10.26, 0}, {0, 0, 10.26}};
        double pos[2][3] = {{0, 0, 0}, {2.565, 2.565, 2.565}};
        int els[2] = {1, 1};
        double *d = calloc((size_t)(2 * nf), sizeof *d);
        msg[0] = '\0';
        status = olcaoml_descriptors(model, &cell[0][0], 2, &pos[0][0], els,
                                     2, NULL, INT_MAX, nf, d, msg,
                                     sizeof msg);
        expect("descriptors_threads_INT_MAX", status, OLCAOML_ERR_ARGUMENT,
               msg);
        free(d);
    }
    for (i = 0; i < nf; i++)
        x[i] = 1e308;
    msg[0] = '\0';
    status = olcaoml_predict_from_descriptors(model, 1, &el, nf, x, 1, ld,
                                              coeffs, msg, sizeof msg);
    expect("predict_descriptors_1e308", status, OLCAOML_ERR_NON_FINITE, msg);
    free(x);
    free(coeffs);
    olcaoml_model_free(&model);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: capi_faults MODEL.oml WORKDIR\n");
        return 2;
    }
    scfv_on_full_disk(argv[2]);
    threads_and_overflow(argv[1]);
    printf("failures %d\n", failures);
    return failures == 0 ? 0 : 1;
}
