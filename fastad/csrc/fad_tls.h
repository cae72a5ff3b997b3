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

#endif
