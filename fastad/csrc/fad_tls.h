/* The tape's per-thread state for the hot path: a borrowed pointer to the
   thread's graph (its owning reference lives in a threading.local, dropped when
   the thread ends) and the thread's no_grad depth, read without the GIL. */
#ifndef FAD_TLS_H
#define FAD_TLS_H

#include <Python.h>

static __thread PyObject *fastad_tls_graph = NULL;
static __thread int fastad_tls_nograd = 0;

#endif
