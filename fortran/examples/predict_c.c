/*
 * predict_c: the C interface of libolcaoml in a few lines.
 *
 *    predict_c MODEL_FILE OUTPUT
 *
 * Predicts the potential of an 8-atom diamond silicon cell (lattice
 * constant 10.26 Bohr) and writes it as scfV.dat with one potential type
 * per atom.  Build:  cc predict_c.c $(pkg-config --cflags --libs olcaoml)
 */
#include <stdio.h>
#include <stdlib.h>

#include "olcaoml.h"

#define NUM_ATOMS 8

int main(int argc, char **argv)
{
    char message[512];
    olcaoml_model model = NULL;
    int status, element, num_alphas, max_alphas, i, k;

    if (argc != 3) {
        fprintf(stderr, "usage: predict_c MODEL_FILE OUTPUT\n");
        return 2;
    }
    if (olcaoml_api_version() / 10000 != OLCAOML_API_VERSION / 10000) {
        fprintf(stderr, "library and header versions differ\n");
        return 1;
    }

    /* Lattice vectors one after the other, positions atom by atom (Bohr). */
    const double a = 10.263102445200127377;
    const double real_vectors[3][3] = {{a, 0, 0}, {0, a, 0}, {0, 0, a}};
    const double fract[NUM_ATOMS][3] = {
        {0, 0, 0}, {0, .5, .5}, {.5, 0, .5}, {.5, .5, 0},
        {.25, .25, .25}, {.25, .75, .75}, {.75, .25, .75}, {.75, .75, .25}};
    double positions[NUM_ATOMS][3];
    int element_of[NUM_ATOMS];

    status = olcaoml_model_load(argv[1], &model, message, sizeof message);
    if (status != OLCAOML_OK) {
        fprintf(stderr, "load: %s\n", message);
        return 1;
    }
    status = olcaoml_model_element_index(model, "si", &element, message,
                                         sizeof message);
    if (status == OLCAOML_OK)
        status = olcaoml_model_num_alphas(model, element, &num_alphas,
                                          message, sizeof message);
    if (status == OLCAOML_OK)
        status = olcaoml_model_max_alphas(model, &max_alphas, message,
                                          sizeof message);
    if (status != OLCAOML_OK) {
        fprintf(stderr, "model: %s\n", message);
        olcaoml_model_free(&model);
        return 1;
    }
    for (i = 0; i < NUM_ATOMS; i++) {
        for (k = 0; k < 3; k++)
            positions[i][k] = fract[i][k] * a;
        element_of[i] = element;
    }

    double *coeffs = malloc(sizeof(double) * NUM_ATOMS * max_alphas);
    double *alphas = malloc(sizeof(double) * num_alphas);
    double *charges = malloc(sizeof(double) * 3 * num_alphas);
    double *table = malloc(sizeof(double) * 5 * NUM_ATOMS * num_alphas);
    int num_terms[NUM_ATOMS];

    status = olcaoml_predict(model, &real_vectors[0][0], NUM_ATOMS,
                             &positions[0][0], element_of, NUM_ATOMS, NULL,
                             0, max_alphas, coeffs, message, sizeof message);
    if (status == OLCAOML_OK)
        status = olcaoml_model_alphas(model, element, num_alphas, alphas,
                                      message, sizeof message);
    if (status == OLCAOML_OK)
        status = olcaoml_model_charge_columns(model, element, num_alphas,
                                              charges, message,
                                              sizeof message);
    if (status == OLCAOML_OK) {
        for (i = 0; i < NUM_ATOMS; i++) {
            num_terms[i] = num_alphas;
            for (k = 0; k < num_alphas; k++) {
                double *row = table + 5 * (i * num_alphas + k);
                row[0] = coeffs[i * max_alphas + k];
                row[1] = alphas[k];
                row[2] = charges[3 * k];
                row[3] = charges[3 * k + 1];
                row[4] = charges[3 * k + 2];
            }
        }
        status = olcaoml_write_scfv(argv[2], NUM_ATOMS, num_terms, table,
                                    NULL, message, sizeof message);
    }
    if (status != OLCAOML_OK)
        fprintf(stderr, "error %d: %s\n", status, message);
    free(coeffs);
    free(alphas);
    free(charges);
    free(table);
    olcaoml_model_free(&model);
    return status == OLCAOML_OK ? 0 : 1;
}
