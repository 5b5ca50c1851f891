/*
 * What the extension needs from the system that Rust's standard library
 * does not give: thread signal masks, fork() notification, random bytes, a
 * non-blocking peek at a socket.
 * In C because sigset_t, the SIG_* values, pthread_atfork and getrandom
 * come from the system headers; no Zend API here, so cargo test links it without PHP.
 *
 * Threads the extension starts (reqwest's runtime, a memcached name lookup)
 * must never be where the kernel delivers a process signal: PHP runs the
 * handlers pcntl_signal() installs on its own threads only, and a ZTS PHP
 * applies a signal's default action (SIGUSR1, SIGTERM: the process dies)
 * when it lands on a thread TSRM does not manage. A thread inherits the
 * mask of the thread that creates it, so the creator blocks every signal
 * around the creation and restores its own mask afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* Blocks every signal on the calling thread; returns the previous mask, to
 * give back to weixin_signals_restore (NULL: nothing was changed). */
void *weixin_signals_block_all(void)
{
	sigset_t all;
	sigset_t *previous = malloc(sizeof *previous);
	if (previous == NULL) {
		return NULL;
	}
	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, previous) != 0) {
		free(previous);
		return NULL;
	}
	return previous;
}

void weixin_signals_restore(void *previous)
{
	if (previous != NULL) {
		pthread_sigmask(SIG_SETMASK, previous, NULL);
		free(previous);
	}
}

/* Whether the signals a process is sent (SIGUSR1, SIGUSR2, SIGTERM, SIGINT,
 * SIGHUP, SIGALRM, SIGCHLD) are all blocked on the calling thread. */
int weixin_signals_process_ones_blocked(void)
{
	static const int sent[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGCHLD};
	sigset_t current;
	if (pthread_sigmask(SIG_BLOCK, NULL, &current) != 0) {
		return 0;
	}
	for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
		if (sigismember(&current, sent[i]) != 1) {
			return 0;
		}
	}
	return 1;
}

/* Calls `in_child` in the child of every later fork(), on the forking
 * thread, before fork() returns there. glibc drops the registration when
 * the library is unloaded (it is tied to this object's __dso_handle), so a
 * PHP that unloads the extension and forks later is safe. */
int weixin_process_watch_forks(void (*in_child)(void))
{
	return pthread_atfork(NULL, NULL, in_child);
}

/* `length` random bytes from the kernel's generator into `buffer`;
 * 0, or -1 with errno set. */
int weixin_random_bytes(unsigned char *buffer, size_t length)
{
	while (length > 0) {
		ssize_t got = getrandom(buffer, length, 0);
		if (got < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		buffer += got;
		length -= (size_t) got;
	}
	return 0;
}

/* Peeks at one byte without blocking and without changing the socket's
 * mode (MSG_PEEK | MSG_DONTWAIT, one system call): recv's result, with
 * errno set when it is -1 (EAGAIN: nothing waiting). Works on TCP and unix
 * sockets alike. */
long weixin_socket_peek(int fd)
{
	char byte;
	return (long)recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
}

/* Seconds since boot (CLOCK_BOOTTIME): one clock for every process of this
 * machine, never stepped by a wall-clock change, and counting through a
 * suspend as WeChat's own clock does. -1 if unavailable. */
double weixin_boottime_seconds(void)
{
	struct timespec now;
	if (clock_gettime(CLOCK_BOOTTIME, &now) != 0) {
		return -1.0;
	}
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Connects to the unix socket at path without blocking: a server that does
 * not accept (stopped, hung) leaves its listen queue full, and a blocking
 * connect would then wait for as long as it stays so. Returns the connected
 * descriptor, in blocking mode, or -1 with errno set (EAGAIN: the queue is
 * full, try again; ENAMETOOLONG: the path does not fit). */
int weixin_unix_connect(const char *path)
{
	struct sockaddr_un address;
	size_t length = strlen(path);
	if (length >= sizeof address.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&address, 0, sizeof address);
	address.sun_family = AF_UNIX;
	memcpy(address.sun_path, path, length + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
		int error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		int error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	return fd;
}
