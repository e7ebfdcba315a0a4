#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER; pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static void cleanup(void *arg){ (void)arg; pthread_mutex_unlock(&m);
  /* slow but finite cleanup: 3 s of work */
  struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC,&t0);
  do clock_gettime(CLOCK_MONOTONIC,&t); while (t.tv_sec - t0.tv_sec < 3); }
static void *worker(void *a){ (void)a; pthread_mutex_lock(&m);
  pthread_cleanup_push(cleanup, NULL);
  for(;;) pthread_cond_wait(&c,&m);
  pthread_cleanup_pop(1); return NULL; }
int main(void){ pthread_t t; pthread_create(&t,NULL,worker,NULL); sleep(1);
  pthread_cancel(t); pthread_join(t,NULL); puts("done"); return 0; }
