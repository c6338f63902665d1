/*
 * olcaoml.h -- C interface of libolcaoml (pyolcaoml's library for OLCAO).
 *
 * Predicts the coefficients A_i of OLCAO's site potential
 * V(r) = sum_i A_i exp(-alpha_i r^2) of every atom from its SO(4)
 * bispectrum descriptors, with a model exported by
 *     olcaoml export MODEL -o model.oml
 * and writes them as OLCAO's scfV.dat.
 *
 * Units: lengths in Bohr, coefficients A_i in Hartree, alpha_i in Bohr^-2.
 *
 * Array layouts (C row-major; the Fortran view in brackets):
 *   real_vectors[3][3]   real_vectors[abc][xyz]: the lattice vectors a, b,
 *                        c one after the other   [realVectors(xyz, abc)]
 *   positions[N][3]      Cartesian positions     [positions(xyz, atom)]
 *   element_of[N]        element index of each atom, 1-based, from
 *                        olcaoml_model_element_index
 *   centres[M]           atoms to work on, 1-based; NULL = all (M = N)
 *   descriptors[M][K]    K = olcaoml_model_num_features
 *   coeffs[M][ld]        A_1..A_n of centre m in coeffs[m][0..n-1], n =
 *                        NUM_ALPHAS of its element; the rest set to 0
 *   table[rows][5]       scfV.dat rows of all potential types one after
 *                        the other: A_i, alpha_i, total charge, valence
 *                        charge, spin difference
 *
 * Errors: every function returns an int status (OLCAOML_OK = 0) and, where
 * it has the arguments (char *message, int message_len), copies a
 * NUL-terminated explanation into the caller's buffer (NULL: no message).
 * Nothing in the library prints or stops the process.  A loaded model is
 * never changed, so several threads may use one model at the same time.
 * Each call may itself run OpenMP threads: num_threads <= 0 uses the
 * OpenMP default (OMP_NUM_THREADS); more than 1024 is OLCAOML_ERR_ARGUMENT.
 * A NaN or Inf result is OLCAOML_ERR_NON_FINITE, never OLCAOML_OK.
 */
#ifndef OLCAOML_H
#define OLCAOML_H

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this interface: 10000 * major + 100 * minor + patch.  The
 * major number is also the library's SONAME (libolcaoml.so.2): a new
 * major number breaks callers, a new minor number only adds functions. */
#define OLCAOML_API_VERSION 20500
/* Version of the model file format this library reads. */
#define OLCAOML_MODEL_FORMAT_VERSION 9

enum olcaoml_status {
    OLCAOML_OK = 0,
    OLCAOML_ERR_ARGUMENT = 1,     /* invalid argument (size, count, ...) */
    OLCAOML_ERR_NON_FINITE = 2,   /* NaN or Inf in the input */
    OLCAOML_ERR_LATTICE = 3,      /* singular cell */
    OLCAOML_ERR_OVERLAP = 4,      /* two atoms at the same place */
    OLCAOML_ERR_MEMORY = 5,       /* out of memory */
    OLCAOML_ERR_IO = 6,           /* file could not be read or written */
    OLCAOML_ERR_FORMAT = 7,       /* malformed model file */
    OLCAOML_ERR_ELEMENT = 8,      /* element unknown to the model */
    OLCAOML_ERR_NULL_POINTER = 9, /* a required pointer is NULL */
    OLCAOML_ERR_STATE = 10        /* handle not loaded / already freed */
};

/* A loaded model (opaque). */
typedef struct olcaoml_model_s *olcaoml_model;
/* A model's applicability domain (API 2.3), read from the file that
 * olcaoml export MODEL -o model.oml --domain model.omld writes. */
typedef struct olcaoml_domain_s *olcaoml_domain;

int olcaoml_api_version(void);
int olcaoml_model_format_version(void);

/* Load a model file; *model receives the handle (NULL on failure). */
int olcaoml_model_load(const char *path, olcaoml_model *model,
                       char *message, int message_len);
/* Release a model and set *model = NULL. */
int olcaoml_model_free(olcaoml_model *model);

int olcaoml_model_num_elements(olcaoml_model model, int *n,
                               char *message, int message_len);
int olcaoml_model_num_features(olcaoml_model model, int *n,
                               char *message, int message_len);
int olcaoml_model_max_alphas(olcaoml_model model, int *n,
                             char *message, int message_len);
/* "si", "Si", "si1" name the same element; unknown: OLCAOML_ERR_ELEMENT. */
int olcaoml_model_element_index(olcaoml_model model, const char *symbol,
                                int *element, char *message,
                                int message_len);
/* symbol[symbol_len] receives the NUL-terminated symbol ("Si"); a buffer
 * too small for it gives OLCAOML_ERR_ARGUMENT and an empty string. */
int olcaoml_model_element_symbol(olcaoml_model model, int element,
                                 char *symbol, int symbol_len,
                                 char *message, int message_len);
int olcaoml_model_num_alphas(olcaoml_model model, int element, int *n,
                             char *message, int message_len);
/* alphas[n], n = NUM_ALPHAS of the element (Bohr^-2). */
int olcaoml_model_alphas(olcaoml_model model, int element, int n,
                         double *alphas, char *message, int message_len);
/* Isolated-atom coefficients (Hartree), coeffs[n]. */
int olcaoml_model_isolated_coeffs(olcaoml_model model, int element, int n,
                                  double *coeffs, char *message,
                                  int message_len);
/* charges[n][3]: scfV.dat columns 3-5 written beside predicted A_i. */
int olcaoml_model_charge_columns(olcaoml_model model, int element, int n,
                                 double *charges, char *message,
                                 int message_len);

/* Descriptors of the centres: descriptors[num_centres][num_features]. */
int olcaoml_descriptors(olcaoml_model model, const double *real_vectors,
                        int num_atoms, const double *positions,
                        const int *element_of, int num_centres,
                        const int *centres, int num_threads,
                        int num_features, double *descriptors,
                        char *message, int message_len);

/* Network only: coeffs[num_atoms][ld_coeffs] from given descriptors. */
int olcaoml_predict_from_descriptors(olcaoml_model model, int num_atoms,
                                     const int *element_of,
                                     int num_features,
                                     const double *descriptors,
                                     int num_threads, int ld_coeffs,
                                     double *coeffs, char *message,
                                     int message_len);

/* Descriptors + network: coeffs[num_centres][ld_coeffs] (Hartree). */
int olcaoml_predict(olcaoml_model model, const double *real_vectors,
                    int num_atoms, const double *positions,
                    const int *element_of, int num_centres,
                    const int *centres, int num_threads, int ld_coeffs,
                    double *coeffs, char *message, int message_len);

/* Write scfV.dat (OLCAO's layout; temporary file, then rename).  An
 * existing file at path is REPLACED without asking (as OLCAO itself
 * replaces its scfV files): check first if it must be kept.  On failure
 * the old file, if any, is left as it was. */
int olcaoml_write_scfv(const char *path, int num_types,
                       const int *num_terms, const double *table_up,
                       const double *table_dn, char *message,
                       int message_len);

/* OLCAO's own layout (API 2.0): the coefficients of all potential types
 * one after the other in one flat vector per spin.  Type t owns the terms
 * type_offsets[t-1] .. type_offsets[t-1] + n_t - 1 (0-based; OLCAO's
 * potTypes(t)%cumulAlphaSum), n_t = next offset (or pot_dim) - offset.
 * Every atom's type pot_type_of_atom[i] (1-based) must hold that atom
 * only (the model predicts one potential per atom); each type's n_t and
 * exponents pot_alphas[] (Bohr^-2) must equal the model's for the atom's
 * element (relative 1e-6).  *bad_type (may be NULL) receives the first
 * type that fails, 0 when none does. */
int olcaoml_check_pot_types(olcaoml_model model, int num_atoms,
                            const int *element_of,
                            const int *pot_type_of_atom, int num_types,
                            const int *type_offsets, int pot_dim,
                            const double *pot_alphas, int *bad_type,
                            char *message, int message_len);
/* Check as above, predict every atom, and put each atom's A_k (Hartree)
 * at its type's terms in every spin column:
 * pot_coeffs[num_spins][pot_dim] (Fortran potCoeffs(potDim, spin)).
 * Nothing is written on failure. */
int olcaoml_fill_pot_coeffs(olcaoml_model model, const double *real_vectors,
                            int num_atoms, const double *positions,
                            const int *element_of,
                            const int *pot_type_of_atom, int num_types,
                            const int *type_offsets, int pot_dim,
                            const double *pot_alphas, int num_spins,
                            int num_threads, double *pot_coeffs,
                            int *bad_type, char *message, int message_len);
/* Ensembles (model format 2): networks per element (1: no sigma). */
int olcaoml_model_num_members(olcaoml_model model, int *n,
                              char *message, int message_len);
/* The model's handover threshold (Hartree; model format 7, API 2.2),
 * 0.0 when the model records none.  The rule it serves (pyolcaoml's
 * olcaoml predict applies it): when every atom is Si and the median over
 * the atoms of the sigma from olcaoml_predict_ensemble with this model is
 * above the threshold, the structure is amorphous: predict it with the
 * a-Si model instead (olcaoml export asi -o asi.oml; same descriptors and
 * exponents).  The library applies no rule itself. */
int olcaoml_model_handover_threshold(olcaoml_model model,
                                     double *threshold_hartree,
                                     char *message, int message_len);
/* Ensemble mean coeffs[num_atoms][ld_coeffs] and sigma[num_atoms]
 * (Hartree): sigma is the predicted RMS error of V(r) (r in [0.05, 6]
 * Bohr, weight r^2 dr), the calibrated spread of the members.  A model of
 * one network gives OLCAOML_ERR_STATE.  (olcaoml_predict and
 * olcaoml_predict_from_descriptors give the same mean without sigma.) */
int olcaoml_predict_ensemble_from_descriptors(olcaoml_model model,
                                              int num_atoms,
                                              const int *element_of,
                                              int num_features,
                                              const double *descriptors,
                                              int num_threads,
                                              int ld_coeffs, double *coeffs,
                                              double *sigma, char *message,
                                              int message_len);
/* Descriptors + ensemble: coeffs[num_centres][ld_coeffs], sigma[num_centres]. */
int olcaoml_predict_ensemble(olcaoml_model model, const double *real_vectors,
                             int num_atoms, const double *positions,
                             const int *element_of, int num_centres,
                             const int *centres, int num_threads,
                             int ld_coeffs, double *coeffs, double *sigma,
                             char *message, int message_len);
/* The expected OLCAO iterations (model format 8, API 2.4): how many SCF
 * iterations OLCAO should need from the model's start to its
 * CONVERGENCE_TEST (the reference runs': 1e-4), for a structure of
 * num_atoms atoms whose LARGEST sigma over its atoms (from
 * olcaoml_predict_ensemble, Hartree) is max_sigma_hartree.  OLCAO's
 * convergence value is a maximum over the potential sites, so the
 * worst-predicted atom sets it.  expected[3] and default_expected[3]
 * receive (expected, low, high), the ends of an 80 % range, from the
 * model's start and from OLCAO's default start (-1 each where the model
 * has no such fit); *outside is 1 when the structure lies outside the
 * reference runs (its number of atoms, or its largest sigma for a fit in
 * sigma): the numbers are a rough guide there.  The same integers as
 * olcaoml predict prints.  A model without them (formats 1-7): OK, -1
 * everywhere, *outside 0.  num_atoms < 1 or a sigma that is not finite
 * and > 0: OLCAOML_ERR_ARGUMENT (then too -1 and 0 are written). */
int olcaoml_expected_iterations(olcaoml_model model, int num_atoms,
                                double max_sigma_hartree, int *expected,
                                int *default_expected, int *outside,
                                char *message, int message_len);
/* Iteration groups (model format 9, API 2.5).  A model's reference runs
 * may split their cells into groups recognised from the geometry, each
 * with its own fit, because one fit for all cells can be far off for a
 * kind of cell OLCAO treats differently (the Si vacancy in SiC took 2-3x
 * the iterations of the general fit).  Group g = 1..n holds a structure
 * when the structure has an atom of the group's required element (if it
 * names one) and at least min_atoms atoms of its element have exactly
 * its number of neighbours: atoms of any element, every periodic image,
 * strictly closer than its cutoff (a few Angstrom; cells thinner than
 * the cutoff too).  A structure is in the first group whose rule it
 * matches, else in group 0, the general cells, whose numbers
 * olcaoml_expected_iterations gives.  The same rule and counts as
 * olcaoml predict's (pyolcaoml.model.olcao_iterations).
 * *n: the number of groups (0 for formats 1-8: only group 0). */
int olcaoml_num_iteration_groups(olcaoml_model model, int *n,
                                 char *message, int message_len);
/* name[name_len] receives the NUL-terminated name of group 0..n, as the
 * model file gives it ("si_vacancy"; group 0: "general", at most 32
 * characters).  A group outside 0..n or a buffer too small for the name
 * gives OLCAOML_ERR_ARGUMENT and an empty string. */
int olcaoml_iteration_group_name(olcaoml_model model, int group, char *name,
                                 int name_len, char *message,
                                 int message_len);
/* *group receives the structure's group, 0..n (0 for a model without
 * groups); -1 on failure.  The structure's arguments are those of
 * olcaoml_predict (Bohr) and are checked for every model. */
int olcaoml_iteration_group(olcaoml_model model, const double *real_vectors,
                            int num_atoms, const double *positions,
                            const int *element_of, int num_threads,
                            int *group, char *message, int message_len);
/* olcaoml_expected_iterations for a structure of group 0..n (0: the
 * same as olcaoml_expected_iterations): the group's fit, evaluated the
 * same way, and *outside for the group's reference runs.  A group
 * outside 0..n (-1 included) is OLCAOML_ERR_ARGUMENT, -1 everywhere and
 * *outside 0. */
int olcaoml_expected_iterations_in_group(olcaoml_model model, int group,
                                         int num_atoms,
                                         double max_sigma_hartree,
                                         int *expected,
                                         int *default_expected,
                                         int *outside, char *message,
                                         int message_len);

/* Applicability distance (API 2.3).  The domain file holds the model's
 * training atoms (docs/library.md; fortran/core/OML_Domain.f90 gives the
 * layout).  ratio[i] is atom i's distance to the nearest training atom of
 * its element (standardised descriptors, RMS per feature) over the
 * element's threshold: above 1 the environment is new to the model; NaN
 * for an element the domain has no atoms of.  The handover rule of
 * olcaoml predict: a structure with a C atom whose median ratio over all
 * its atoms (olcaoml_median_domain) exceeds
 * olcaoml_domain_handover_threshold (> 0) is amorphous SiC: predict it
 * with the amorphous SiC model (olcaoml export sicam -o sicam.oml). */
int olcaoml_domain_load(olcaoml_model model, const char *path,
                        olcaoml_domain *domain, char *message,
                        int message_len);
int olcaoml_domain_free(olcaoml_domain *domain);
int olcaoml_domain_ratio(olcaoml_domain domain, int num_atoms,
                         const int *element_of, int num_features,
                         const double *descriptors, int num_threads,
                         double *ratio, char *message, int message_len);
int olcaoml_median_domain(int num_atoms, const double *ratio, double *median,
                          char *message, int message_len);
int olcaoml_domain_handover_threshold(olcaoml_domain domain,
                                      double *threshold, char *message,
                                      int message_len);

#ifdef __cplusplus
}
#endif

#endif /* OLCAOML_H */
