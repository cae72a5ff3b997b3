/* OpenBLAS on one thread while fastad runs a GEMM.  OpenBLAS's 2-thread GEMMs
   round differently from its 1-thread ones for some inner dimensions, so fastad
   runs the GEMMs of linear layers with OpenBLAS on one thread and splits large
   ones itself.  numpy's OpenBLAS has no per-thread setting (its _local setter is
   global in this pthreads build), so its thread count is 1 from the first begin
   to the last end, and restored after. */
#ifndef FAD_BLAS_H
#define FAD_BLAS_H

#include "fad_common.h"

#include <pthread.h>
typedef void (*fad_blas_set_fn)(int);
typedef int (*fad_blas_get_fn)(void);
static fad_blas_set_fn fad_blas_set;
static fad_blas_get_fn fad_blas_get;
static pthread_mutex_t fad_blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int fad_blas_users, fad_blas_saved = 1;
static void fad_blas_after_fork_in_child(void) {
    pthread_mutex_init(&fad_blas_lock, NULL);
    fad_blas_users = 0;
}
static void fad_blas_threads_init(void *set, void *get) {
    static int registered;
    fad_blas_set = (fad_blas_set_fn)set;
    fad_blas_get = (fad_blas_get_fn)get;
    if (!registered) {
        pthread_atfork(NULL, NULL, fad_blas_after_fork_in_child);
        registered = 1;
    }
}
static int fad_blas_controlled(void) { return fad_blas_set && fad_blas_get; }
/* OpenBLAS on one thread from the first begin to the last end (callers check
   fad_blas_controlled() first) */
static void fad_blas_single_begin(void) {
    pthread_mutex_lock(&fad_blas_lock);
    if (fad_blas_users++ == 0) {
        fad_blas_saved = fad_blas_get();
        if (fad_blas_saved < 1) fad_blas_saved = 1;      /* nothing sensible to restore */
        if (fad_blas_saved != 1) fad_blas_set(1);
    }
    pthread_mutex_unlock(&fad_blas_lock);
}
static void fad_blas_single_end(void) {
    pthread_mutex_lock(&fad_blas_lock);
    if (--fad_blas_users == 0 && fad_blas_saved != 1) fad_blas_set(fad_blas_saved);
    pthread_mutex_unlock(&fad_blas_lock);
}

#endif /* FAD_BLAS_H */
