/* The tape's per-thread state for the hot path: a borrowed pointer to the
   thread's graph (its owning reference lives in a threading.local, dropped when
   the thread ends), the thread's no_grad depth, read without the GIL, and
   whether fastad.compile traces the thread's calls (fastad/_trace.pxi). */
#ifndef FAD_TLS_H
#define FAD_TLS_H

#include <Python.h>

static __thread PyObject *fastad_tls_graph = NULL;
static __thread int fastad_tls_nograd = 0;
static __thread int fastad_tls_tracing = 0;
/* how many threads trace now: the hot path reads this plain global and reaches
   for the thread-local flag only while some thread traces (a thread-local read
   in a shared library is a call to __tls_get_addr: +2% instructions in W1) */
static int fastad_tracing_threads = 0;
#define fastad_tracing_now (fastad_tracing_threads != 0 && fastad_tls_tracing)

/* under the GIL */
static inline void fastad_set_tracing(int on) {
    if (on != fastad_tls_tracing) {
        fastad_tracing_threads += on ? 1 : -1;
        fastad_tls_tracing = on;
    }
}

#endif
