/* The guest's /init for Linux boot tests: a static program (gcc -static).
 *
 * It mounts the pseudo filesystems, writes the boot-timer byte, prints facts
 * about the machine as "MICROVM-INIT key=value" lines that host-side tests
 * grep for, runs the scripts named by mvrun=NAME on the kernel command line
 * (/tests/NAME.sh under busybox sh), optionally an interactive shell
 * (mvshell), and reboots; `reboot`, `poweroff` or `halt` typed in that
 * shell reboot too. With reboot=k the kernel resets through the i8042,
 * which the VMM turns into a clean exit.
 *
 * It never stops early: every failure is reported and the next step still
 * runs, and if reboot() itself fails, exiting makes the kernel panic, which
 * reboots with panic=1. A test sees a missing line, never a hung guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "MICROVM-INIT "
/* The boot timer page: on x86 below the 32-bit PCI hole, on arm64 in the
 * MMIO window below RAM (arch/arm64/layout.h). */
#if defined(__aarch64__)
#define BOOT_TIMER_GPA 0x0A000000UL
#else
#define BOOT_TIMER_GPA 0xC0000000UL
#endif
#define BOOT_TIMER_MAGIC 123
#define MAX_CMDLINE	 4096
#define MAX_NAME	 64

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One write per line, so kernel messages on the same console cannot split a
 * line and nothing sits in a stdio buffer when the machine resets. */
static void say(const char *fmt, ...)
{
	char buf[MAX_CMDLINE + 256];
	va_list ap;
	int n;

	memcpy(buf, PREFIX, sizeof(PREFIX) - 1);
	va_start(ap, fmt);
	n = vsnprintf(buf + sizeof(PREFIX) - 1,
		      sizeof(buf) - sizeof(PREFIX) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += sizeof(PREFIX) - 1;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}

/* If the kernel found no /dev/console in the initramfs, fds 0-2 are closed:
 * open the console from devtmpfs so the output is not lost. */
static void ensure_console(void)
{
	int fd;

	if (fcntl(STDOUT_FILENO, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static void mount_one(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, MS_NOSUID, NULL) < 0 && errno != EBUSY)
		say("mount %s on %s failed: %s", type, dir, strerror(errno));
}

/* The boot timer: a byte 123 written at guest physical BOOT_TIMER_GPA tells
 * the VMM that init has started (the Firecracker convention). */
static void boot_timer(void)
{
	volatile uint8_t *p;
	void *map;
	int fd;

	fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		say("boot-timer: open /dev/mem failed: %s", strerror(errno));
		return;
	}
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)BOOT_TIMER_GPA);
	if (map == MAP_FAILED) {
		say("boot-timer: mmap of 0x%lx failed: %s", BOOT_TIMER_GPA,
		    strerror(errno));
		close(fd);
		return;
	}
	p = map;
	*p = BOOT_TIMER_MAGIC;
	munmap(map, 4096);
	close(fd);
}

/* Reads a whole small file into buf (NUL-terminated); -1 on failure. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((size_t)total < size - 1) {
		n = read(fd, buf + total, size - 1 - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

static long mem_total_kb(void)
{
	char buf[4096];
	char *p;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "MemTotal:");
	if (!p)
		return -1;
	return strtol(p + strlen("MemTotal:"), NULL, 10);
}

/* Runs argv[0] with argv and waits; returns the exit status, 128+signal for a
 * signal, or -1 if it could not start. */
static int run(char *const argv[], int interactive)
{
	int status;
	pid_t pid, w;

	pid = fork();
	if (pid < 0) {
		say("fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (interactive) {
			/* A session with the console as controlling tty gives
			 * the shell job control and ^C. */
			setsid();
			ioctl(STDIN_FILENO, TIOCSCTTY, 1);
		}
		execv(argv[0], argv);
		say("exec %s failed: %s", argv[0], strerror(errno));
		_exit(127);
	}
	do {
		w = waitpid(pid, &status, 0);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		say("waitpid failed: %s", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* A script name must stay inside /tests: letters, digits, '_', '-', '.',
 * and not starting with '.'. */
static int valid_name(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len >= MAX_NAME || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

static void run_script(const char *name, size_t len)
{
	char path[sizeof("/tests/.sh") + MAX_NAME];
	char sh[] = "/bin/sh";
	char *argv[] = {sh, path, NULL};
	int rc;

	if (!valid_name(name, len)) {
		say("run: bad script name '%.*s'", (int)len, name);
		return;
	}
	snprintf(path, sizeof(path), "/tests/%.*s.sh", (int)len, name);
	if (access(path, R_OK) < 0) {
		say("run %.*s: %s: %s", (int)len, name, path, strerror(errno));
		say("run %.*s rc=127", (int)len, name);
		return;
	}
	rc = run(argv, 0);
	say("run %.*s rc=%d", (int)len, name, rc);
}

/* Walks the space-separated command line: each mvrun=NAME runs in order
 * (mvrun=a,b runs a then b); mvshell runs an interactive shell after them. */
static void run_requested(const char *cmdline)
{
	const char *p = cmdline, *end, *name, *comma;
	int shell = 0;

	while (*p) {
		while (*p == ' ' || *p == '\n')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\n')
			end++;
		if (end - p > 6 && !strncmp(p, "mvrun=", 6)) {
			for (name = p + 6; name < end; name = comma + 1) {
				comma = memchr(name, ',', (size_t)(end - name));
				if (!comma)
					comma = end;
				run_script(name, (size_t)(comma - name));
			}
		} else if (end - p == 7 && !strncmp(p, "mvshell", 7)) {
			shell = 1;
		}
		p = end;
	}
	if (shell) {
		char sh[] = "/bin/sh";
		char *argv[] = {sh, NULL};

		say("shell");
		say("shell rc=%d", run(argv, 1));
	}
}

/*
 * busybox's reboot, poweroff and halt (without -f) ask PID 1 with SIGTERM,
 * SIGUSR2 and SIGUSR1. All three end the VM the one way a microVM has:
 * reboot=k resets through the i8042 and the VMM exits 0 (a power-off would
 * only halt the vCPUs, with nothing to turn off).
 */
static void on_reboot_signal(int sig)
{
	static const char msg[] = PREFIX "reboot requested\n";

	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* The reset below happens anyway. */
	}
	sync();
	reboot(RB_AUTOBOOT);
}

static void catch_reboot_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_reboot_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

int main(void)
{
	char cmdline[MAX_CMDLINE];
	ssize_t n;
	long kb;

	mount_one("devtmpfs", "/dev", "devtmpfs");
	ensure_console();
	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");
	mount_one("tmpfs", "/tmp", "tmpfs");

	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/", 1);
	setenv("TERM", "linux", 1);

	say("start");
	catch_reboot_signals();
	boot_timer();

	say("cpus=%ld", sysconf(_SC_NPROCESSORS_ONLN));
	kb = mem_total_kb();
	say("mem_kb=%ld", kb);

	n = read_file("/proc/cmdline", cmdline, sizeof(cmdline));
	if (n < 0) {
		say("reading /proc/cmdline failed: %s", strerror(errno));
		cmdline[0] = '\0';
	}
	while (n > 0 && (cmdline[n - 1] == '\n' || cmdline[n - 1] == ' '))
		cmdline[--n] = '\0';
	say("cmdline=%s", cmdline);

	run_requested(cmdline);

	say("done");
	sync();
	reboot(RB_AUTOBOOT);
	say("reboot failed: %s; exiting so the kernel panics and reboots",
	    strerror(errno));
	return 1;
}
