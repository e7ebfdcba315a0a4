#include <pthread.h>
#include <stdio.h>
pthread_mutex_t a, b;
int main(void){
  pthread_mutexattr_t at; pthread_mutexattr_init(&at);
  pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&a,&at); pthread_mutex_init(&b,NULL);
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);      /* recursive re-entry: cannot block */
  pthread_mutex_unlock(&a); pthread_mutex_unlock(&b); pthread_mutex_unlock(&a);
  puts("done"); return 0;
}
