/* The embedder's report callback (lg_set_report_callback) and lg_reports().
 *
 * The callback runs on the reporting thread after the record was written,
 * holding no lock of ours: it may take the program's own locks (which the
 * reporting thread of another record may hold while it waits for ours) and
 * call wrapped functions, which forward without looking because the
 * reporting thread is inside the shim (lg__tls.in_shim). Each call formats
 * into a buffer of its own, taken from a free list that grows to the number
 * of threads inside a callback at once and is never freed (arena memory). */
#include <errno.h>
#include <string.h>

#include "lg-internal.h"
#include "loopguard.h"

struct cb_buf {
    struct cb_buf *next;
    char text[LG__RECORD_MAX];
};

/* cb and data change together under cb_lock; a reporting thread reads the
 * pair under it, then calls outside it. */
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static lg_report_cb cb_fn;
static void *cb_data;
static uint8_t cb_on;             /* atomic: a callback is set */
static struct cb_buf *free_bufs;  /* under cb_lock */

void lg__cb_init(void)
{
    lg__lock_register(&cb_lock);
}

int lg__cb_set(void)
{
    return __atomic_load_n(&cb_on, __ATOMIC_ACQUIRE);
}

int lg_set_report_callback(lg_report_cb cb, void *data)
{
    pthread_mutex_lock(&cb_lock);
    cb_fn = cb;
    cb_data = data;
    __atomic_store_n(&cb_on, cb != NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&cb_lock);
    /* The callback may use the program's descriptors: a watchdog outside
     * its table comes back (watchdog-fds.c). */
    if (cb)
        lg__watch_reshare();
    return 0;
}

uint64_t lg_reports(void)
{
    return lg__reports();
}

char *lg__cb_take(void)
{
    /* Not on a watchdog outside the program's descriptor table: set while
     * it was out, the callback is called from the one that replaces it. */
    if (!__atomic_load_n(&cb_on, __ATOMIC_ACQUIRE) || lg__tls.fd_private)
        return NULL;
    pthread_mutex_lock(&cb_lock);
    struct cb_buf *b = free_bufs;
    if (b)
        free_bufs = b->next;
    pthread_mutex_unlock(&cb_lock);
    if (!b)
        b = lg__arena_alloc(sizeof *b);
    return b ? b->text : NULL;
}

void lg__cb_give(char *text, size_t len)
{
    struct cb_buf *b =
        (struct cb_buf *)(text - offsetof(struct cb_buf, text));
    if (len > 0 && text[len - 1] == '\n')
        len--;
    text[len] = '\0';
    pthread_mutex_lock(&cb_lock);
    lg_report_cb fn = cb_fn;
    void *data = cb_data;
    pthread_mutex_unlock(&cb_lock);
    if (fn) {
        int saved = errno;
        fn(text, len, data);
        errno = saved;
    }
    pthread_mutex_lock(&cb_lock);
    b->next = free_bufs;
    free_bufs = b;
    pthread_mutex_unlock(&cb_lock);
}
