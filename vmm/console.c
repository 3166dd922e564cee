#include "vmm/console.h"

/*
 * The kernel's own struct termios and TCGETS/TCSETS, not glibc's
 * tcgetattr/tcsetattr: glibc's tcsetattr reads the settings back with
 * TCGETS after setting them, a second ioctl that the seccomp lists would
 * have to allow, and neither is async-signal-safe by contract. One TCSETS
 * with the saved kernel struct is all a restore needs, from anywhere.
 */
#include <asm/termbits.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/log.h"

/*
 * The settings to put back, for the fatal-signal and SIGSYS paths, which
 * have no struct console at hand. The terminal is the process's: there is
 * only one to restore, whatever the number of VMs in a test process.
 */
static struct termios console_saved;
static volatile sig_atomic_t console_saved_fd = -1;

static const int console_fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
					    SIGILL};

void console_restore_signal_safe(void)
{
	int fd = console_saved_fd;

	if (fd >= 0)
		ioctl(fd, TCSETS, &console_saved);
}

/* "0x" and v in hex into p; returns the end. Async-signal-safe. */
static char *console_hex(char *p, uint64_t v)
{
	char tmp[16];
	int n = 0;

	*p++ = '0';
	*p++ = 'x';
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* One line on stderr before the process dies of a fatal signal, so a crash
 * in a log (CI, a pipe) says what and where, not only the exit status. */
static void console_crash_line(int sig, const siginfo_t *si)
{
	static const char *const names[] = {
		[SIGSEGV] = "SIGSEGV", [SIGBUS] = "SIGBUS",
		[SIGABRT] = "SIGABRT", [SIGFPE] = "SIGFPE",
		[SIGILL] = "SIGILL",
	};
	char line[128], *p = line;
	const char *name =
		sig > 0 && sig < (int)(sizeof(names) / sizeof(names[0])) &&
				names[sig]
			? names[sig]
			: "signal";
	const char *head = "\nmicrovm: fatal: ", *at = " at address ";
	int addr = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
		   sig == SIGILL;

	while (*head)
		*p++ = *head++;
	while (*name)
		*p++ = *name++;
	if (si->si_code == SI_USER || si->si_code == SI_TKILL ||
	    si->si_code == SI_QUEUE) {
		at = " sent by another process";
		addr = 0;
	} else if (!addr) {
		at = "";
	}
	while (*at)
		*p++ = *at++;
	if (addr)
		p = console_hex(p, (uint64_t)(uintptr_t)si->si_addr);
	*p++ = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)(p - line));
}

/* Report, restore, then let the default action run: SA_RESETHAND put it
 * back. A synchronous fault re-executes the faulting instruction and
 * abort() raises again by itself; a signal sent with kill() is raised
 * again here. */
static void console_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	console_crash_line(sig, si);
	console_restore_signal_safe();
	if (si->si_code == SI_USER || si->si_code == SI_TKILL ||
	    si->si_code == SI_QUEUE)
		pthread_kill(pthread_self(), sig);
}

static void console_arm_fatal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = console_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(console_fatal_signals) /
				       sizeof(console_fatal_signals[0]);
	     i++)
		sigaction(console_fatal_signals[i], &sa, NULL);
}

void console_open(struct console *c, int fd)
{
	struct termios t;
	pid_t fg;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	/* With or without a terminal: a crash says so on stderr. */
	console_arm_fatal();
	if (!isatty(fd))
		return;
	/* In the background the terminal is not ours to change or read. A
	 * terminal that is not our controlling terminal at all (ENOTTY: a
	 * console handed to us by an init, a serial line) has no job
	 * control to stop us: take it. */
	fg = tcgetpgrp(fd);
	if (fg < 0 ? errno != ENOTTY : fg != getpgrp())
		return;
	if (ioctl(fd, TCGETS, &console_saved))
		return;
	t = console_saved;
	/* cfmakeraw, keeping output post-processing so the guest's "\n"
	 * still starts a new line on the host terminal. */
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR |
				 IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_oflag |= OPOST | ONLCR;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	console_saved_fd = fd;
	if (ioctl(fd, TCSETS, &t)) {
		console_saved_fd = -1;
		return;
	}
	c->fd = fd;
	c->raw = 1;
}

size_t console_input(struct console *c, const char *in, size_t len, char *out,
		     enum console_event *ev)
{
	size_t n = 0;

	*ev = CONSOLE_NONE;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (c->escape_pending) {
			c->escape_pending = 0;
			if (ch == 'x' || ch == 'X') {
				*ev = CONSOLE_QUIT;
				return n;
			}
			/* Ctrl-A Ctrl-A is one Ctrl-A; Ctrl-A then any other
			 * key sends both, as typed. */
			if (ch != CONSOLE_ESCAPE)
				out[n++] = CONSOLE_ESCAPE;
			out[n++] = ch;
			continue;
		}
		if (ch == CONSOLE_ESCAPE) {
			c->escape_pending = 1;
			continue;
		}
		out[n++] = ch;
	}
	return n;
}

void console_close(struct console *c)
{
	if (!c->raw)
		return;
	console_restore_signal_safe();
	/* The fatal-signal handlers stay: with nothing saved they do
	 * nothing, and changing them would be a syscall the seccomp lists
	 * do not allow. */
	console_saved_fd = -1;
	c->raw = 0;
}

int console_in_init(struct console_in *c, struct serial8250 *uart,
		    struct console *term)
{
	c->uart = uart;
	c->term = term;
	c->off = c->len = 0;
	c->loop = NULL;
	c->state = CONSOLE_IN_READ;
	c->quit = NULL;
	c->quit_opaque = NULL;
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0)
		return -errno;
	serial8250_set_rx_wakeup_fd(uart, c->wake_fd);
	return 0;
}

/* Hand what waits to the UART; READ when all of it went in. */
static enum console_in_state console_in_feed(struct console_in *c)
{
	c->off += serial8250_input(c->uart, c->buf + c->off, c->len - c->off);
	if (c->off < c->len)
		return CONSOLE_IN_WAIT; /* the UART wakes us when it drains */
	c->off = c->len = 0;
	return CONSOLE_IN_READ;
}

enum console_in_state console_in_read(struct console_in *c)
{
	enum console_event ev;
	char in[64];
	ssize_t n;

	if (c->off < c->len)
		return console_in_feed(c);
	n = read(c->term->fd, in, sizeof(in));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return CONSOLE_IN_READ;
	if (n <= 0)
		return CONSOLE_IN_EOF; /* the guest just gets no more input */
	c->off = 0;
	c->len = console_input(c->term, in, (size_t)n, c->buf, &ev);
	/* What was typed before Ctrl-A x still reaches the guest. */
	if (ev == CONSOLE_QUIT) {
		console_in_feed(c);
		return CONSOLE_IN_QUIT;
	}
	return console_in_feed(c);
}

enum console_in_state console_in_wake(struct console_in *c)
{
	uint64_t v;

	if (read(c->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wakeup already consumed; feeding is harmless. */
	}
	if (c->off < c->len)
		return console_in_feed(c);
	return CONSOLE_IN_READ;
}

static void console_in_on_term(void *opaque, uint32_t revents);

/* Follow st with the terminal's registration: in the loop only while
 * READ. EOF is final. */
static void console_in_apply(struct console_in *c, enum console_in_state st)
{
	struct event_source src = {.fd = c->term->fd,
				   .events = EPOLLIN,
				   .handle = console_in_on_term,
				   .opaque = c};

	if (st == CONSOLE_IN_QUIT) {
		/* At the default level: the user sees why the VM ended, as
		 * with a signal. */
		if (c->state != CONSOLE_IN_EOF) {
			log_warn("stopped from the console (Ctrl-A x)");
			if (c->quit)
				c->quit(c->quit_opaque);
		}
		st = CONSOLE_IN_EOF;
	}
	if (st == c->state || c->state == CONSOLE_IN_EOF)
		return;
	if (st == CONSOLE_IN_READ) {
		if (loop_add(c->loop, &src)) {
			/* No slot or no memory for it: the guest gets no
			 * more input rather than a spinning loop. */
			st = CONSOLE_IN_EOF;
		}
	} else if (c->state == CONSOLE_IN_READ) {
		loop_del(c->loop, c->term->fd);
	}
	c->state = st;
}

static void console_in_on_term(void *opaque, uint32_t revents)
{
	struct console_in *c = opaque;

	(void)revents;
	console_in_apply(c, console_in_read(c));
}

static void console_in_on_wake(void *opaque, uint32_t revents)
{
	struct console_in *c = opaque;

	(void)revents;
	console_in_apply(c, console_in_wake(c));
}

int console_in_attach(struct console_in *c, struct loop *l,
		      void (*quit)(void *opaque), void *opaque)
{
	struct event_source wake = {.fd = c->wake_fd,
				    .events = EPOLLIN,
				    .handle = console_in_on_wake,
				    .opaque = c};
	struct event_source term = {.fd = c->term->fd,
				    .events = EPOLLIN,
				    .handle = console_in_on_term,
				    .opaque = c};
	int ret;

	ret = loop_add(l, &wake);
	if (ret)
		return ret;
	ret = loop_add(l, &term);
	if (ret) {
		loop_del(l, c->wake_fd);
		return ret;
	}
	c->loop = l;
	c->state = CONSOLE_IN_READ;
	c->quit = quit;
	c->quit_opaque = opaque;
	return 0;
}

int console_start(struct console *term, struct console_in *in, int fd,
		  struct serial8250 *uart, struct loop *l,
		  void (*quit)(void *opaque), void *opaque)
{
	console_open(term, fd);
	if (term->fd < 0)
		return 0;
	if (console_in_init(in, uart, term)) {
		console_close(term);
		return 0;
	}
	if (console_in_attach(in, l, quit, opaque)) {
		console_close(term);
		return 1; /* the UART's wakeup fd is still ours to close */
	}
	return 1;
}

void console_in_close(struct console_in *c)
{
	if (c->wake_fd < 0)
		return;
	if (c->loop) {
		loop_del(c->loop, c->wake_fd);
		if (c->state == CONSOLE_IN_READ)
			loop_del(c->loop, c->term->fd);
		c->loop = NULL;
	}
	serial8250_set_rx_wakeup_fd(c->uart, -1);
	close(c->wake_fd);
	c->wake_fd = -1;
}
