/* Recycled output buffers.  A fresh large array costs a page fault per page and
   a pass of the kernel zeroing it before a kernel writes a single value; a
   training loop allocates the same activation and gradient sizes every step.
   Output buffers from glibc's mmap threshold (128 KiB) up are therefore
   allocated through a numpy memory handler that keeps the last few freed blocks,
   by exact size, and hands them out again.  Arrays made by fastad's empty and
   empty_like use it, and every array numpy allocates while a backward sweeps a
   graph of such arrays (fastad._tensor's _pool_on). */
#ifndef FAD_POOL_H
#define FAD_POOL_H

#include "fad_common.h"
#include <pthread.h>
#include <numpy/ndarraytypes.h>
#define FAD_POOL_MIN ((size_t)1 << 17)
#define FAD_POOL_SLOTS 8
#define FAD_POOL_MAX_BYTES ((size_t)256 << 20)
static PyDataMemAllocator *fad_base;   /* numpy's default allocator */
static pthread_mutex_t fad_pool_lock = PTHREAD_MUTEX_INITIALIZER;
/* slots [0, fad_pool_count) hold free blocks, oldest first */
static void *fad_pool_ptr[FAD_POOL_SLOTS];
static size_t fad_pool_size[FAD_POOL_SLOTS];
static int fad_pool_count;
static size_t fad_pool_bytes;
static unsigned long fad_pool_hits;

static void fad_pool_remove(int i) {   /* lock held */
    fad_pool_bytes -= fad_pool_size[i];
    fad_pool_count--;
    memmove(fad_pool_ptr + i, fad_pool_ptr + i + 1, (fad_pool_count - i) * sizeof(void *));
    memmove(fad_pool_size + i, fad_pool_size + i + 1, (fad_pool_count - i) * sizeof(size_t));
}
static void *fad_pool_malloc(void *ctx, size_t n) {
    void *p = NULL;
    int i;
    (void)ctx;
    if (n >= FAD_POOL_MIN) {
        pthread_mutex_lock(&fad_pool_lock);
        for (i = fad_pool_count - 1; i >= 0; i--) {   /* newest first: warmest in cache */
            if (fad_pool_size[i] == n) {
                p = fad_pool_ptr[i];
                fad_pool_remove(i);
                fad_pool_hits++;
                break;
            }
        }
        pthread_mutex_unlock(&fad_pool_lock);
        if (p) return p;
    }
    return fad_base->malloc(fad_base->ctx, n);
}
static void *fad_pool_calloc(void *ctx, size_t k, size_t n) {
    (void)ctx;
    return fad_base->calloc(fad_base->ctx, k, n);
}
static void *fad_pool_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return fad_base->realloc(fad_base->ctx, p, n);
}
static void fad_pool_free(void *ctx, void *p, size_t n) {
    (void)ctx;
    if (p && n >= FAD_POOL_MIN && n <= FAD_POOL_MAX_BYTES) {
        pthread_mutex_lock(&fad_pool_lock);
        while (fad_pool_count == FAD_POOL_SLOTS || fad_pool_bytes + n > FAD_POOL_MAX_BYTES) {
            fad_base->free(fad_base->ctx, fad_pool_ptr[0], fad_pool_size[0]);
            fad_pool_remove(0);
        }
        fad_pool_ptr[fad_pool_count] = p;
        fad_pool_size[fad_pool_count++] = n;
        fad_pool_bytes += n;
        pthread_mutex_unlock(&fad_pool_lock);
        return;
    }
    fad_base->free(fad_base->ctx, p, n);
}
static void fad_pool_release(void) {
    pthread_mutex_lock(&fad_pool_lock);
    while (fad_pool_count) {
        fad_base->free(fad_base->ctx, fad_pool_ptr[0], fad_pool_size[0]);
        fad_pool_remove(0);
    }
    pthread_mutex_unlock(&fad_pool_lock);
}
/* a child forked while another thread held the lock must not wait for it forever */
static void fad_pool_after_fork_in_child(void) {
    pthread_mutex_init(&fad_pool_lock, NULL);
}
static PyDataMem_Handler fad_pool_handler = {
    "fastad_pool", 1,
    {NULL, fad_pool_malloc, fad_pool_calloc, fad_pool_realloc, fad_pool_free}
};
static PyObject *fad_pool_capsule(PyObject *base_capsule) {
    PyDataMem_Handler *h = (PyDataMem_Handler *)PyCapsule_GetPointer(base_capsule, "mem_handler");
    if (!h) return NULL;
    fad_base = &h->allocator;
    pthread_atfork(NULL, NULL, fad_pool_after_fork_in_child);
    return PyCapsule_New(&fad_pool_handler, "mem_handler", NULL);
}
static size_t fad_pool_cached_bytes(void) { return fad_pool_bytes; }
static unsigned long fad_pool_reuses(void) { return fad_pool_hits; }

#endif /* FAD_POOL_H */
