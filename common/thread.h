/* Threads of our own (watchers, announcer, notifier, alarms, token
 * renewal, searches): started with the signals that end the FUSE loop
 * blocked.  libfuse's loop notices SIGTERM, SIGINT and SIGHUP only in
 * its own threads (the main one waits in sem_wait, the workers in
 * read()): a signal taken by one of ours would end nothing, and the
 * daemon would wait for a request that never comes. */
#ifndef INBOXFS_COMMON_THREAD_H
#define INBOXFS_COMMON_THREAD_H

#include <pthread.h>

/* pthread_create(t, NULL, fn, arg), the new thread blocking SIGTERM,
 * SIGINT, SIGHUP and SIGQUIT; 0 or an errno. */
int thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
