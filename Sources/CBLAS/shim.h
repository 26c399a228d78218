// OpenBLAS: CBLAS for GEMM/GEMV, plus the LAPACK routines MedTransfer uses
// (OpenBLAS exports LAPACK's Fortran symbols; their prototypes are declared
// here so no lapacke package is needed).
#pragma once
#include <cblas.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// The kernel set DYNAMIC_ARCH chose at load time (OPENBLAS_CORETYPE overrides it).
char *openblas_get_corename(void);

// Symmetric eigen-decomposition (divide and conquer), column-major.
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
             float *w, float *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
// Cholesky factorisation and solve, column-major.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);
