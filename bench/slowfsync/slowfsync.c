/*
 * slowfsync: an LD_PRELOAD shim that makes every fsync() and fdatasync() of the process it is loaded into
 * take PGTQ_FSYNC_DELAY_US microseconds longer (default 1000): the real call runs first, then the thread
 * sleeps. Loaded into the benchmark cluster's postgres processes only (withpg -fsync-delay), it turns this
 * machine's disk into one whose flushes cost what cloud block storage charges (0.5-2 ms), for PGTQ and River
 * alike.
 *
 * What it does not simulate: reads, the latency of writes that are not flushed, a cap on IOPS or bandwidth,
 * and flushes issued through other calls (sync_file_range, O_DSYNC/O_SYNC writes: wal_sync_method open_datasync
 * or open_sync would bypass it; the default on Linux is fdatasync). The sleep holds no CPU, so a flush costs
 * time but not work, as on a network disk.
 *
 * Build: gcc -shared -fPIC -O2 -o slowfsync.so slowfsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static long delay_us = 1000;

__attribute__((constructor)) static void slowfsync_init(void)
{
	const char *v = getenv("PGTQ_FSYNC_DELAY_US");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (v != NULL && *v != '\0') {
		char *end;
		long d = strtol(v, &end, 10);
		if (*end == '\0' && d >= 0)
			delay_us = d;
	}
}

/* pause_after_flush sleeps delay_us, resuming after signals, and keeps errno as the real call left it. */
static void pause_after_flush(void)
{
	int saved = errno;
	struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
	while (delay_us > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	errno = saved;
}

int fsync(int fd)
{
	if (real_fsync == NULL)
		real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	int rc = real_fsync(fd);
	pause_after_flush();
	return rc;
}

int fdatasync(int fd)
{
	if (real_fdatasync == NULL)
		real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	int rc = real_fdatasync(fd);
	pause_after_flush();
	return rc;
}
