/*
 * The user's terminal as the guest's console.
 *
 * When stdin is a terminal and microvm is in its foreground process group,
 * the terminal goes to raw mode: every key, Ctrl-C included, goes to the
 * guest. Ctrl-A x stops the VM (as in QEMU); Ctrl-A Ctrl-A sends one
 * Ctrl-A. The terminal's settings are put back on every way out: a normal
 * stop, a fatal error, a fatal signal (SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
 * SIGILL) and the seccomp SIGSYS report. Restoring is one TCSETS ioctl,
 * async-signal-safe and allowed by both seccomp lists.
 *
 * A microvm started in the background (`microvm ... &`) leaves the terminal
 * alone and reads no input: touching it would stop the process with
 * SIGTTOU/SIGTTIN.
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/serial8250.h"
#include "vmm/loop.h"

/* What console_input() found in the bytes typed. */
enum console_event {
	CONSOLE_NONE,
	CONSOLE_QUIT, /* Ctrl-A x: the user asks to stop the VM */
};

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int fd;	 /* stdin when it is our terminal, else -1 */
	int raw; /* raw mode is on and must be restored */
	int escape_pending;
};

/*
 * Take fd (stdin) as the console. When it is a terminal and we are in its
 * foreground process group: save its settings, switch to raw mode and arm
 * the restore on fatal signals; c->fd is then fd and the caller polls it
 * for input. Otherwise c->fd is -1 and the terminal is untouched. Never
 * fails: a console that cannot go raw is only a console without input.
 * One console per process (the terminal is the process's).
 */
void console_open(struct console *c, int fd);

/*
 * Filter len typed bytes from in into out (room for len + 1 bytes: an
 * escape left pending by the previous call may add one) for the guest,
 * handling the escape sequences. Returns the bytes in out; *ev says
 * whether the user asked to stop (the bytes after Ctrl-A x are dropped).
 */
size_t console_input(struct console *c, const char *in, size_t len, char *out,
		     enum console_event *ev);

/* Put the terminal back as it was. Idempotent; safe after a failed
 * console_open. */
void console_close(struct console *c);

/*
 * Console input: typed bytes into the 8250 with flow control. stdin is read
 * only while the UART takes what was read; bytes the receive FIFO refused
 * wait here, stdin is not polled meanwhile, and the UART's rx wakeup fd
 * (an eventfd it writes once the guest drains the FIFO) resumes the feed.
 * Nothing typed or pasted is dropped, however slowly the guest reads.
 *
 * Event loop wiring (console_in_attach does it on a struct loop):
 *   console_in_init(&c, &uart, &term);
 *   poll term.fd (EPOLLIN) -> console_in_read(&c)
 *   poll c.wake_fd (EPOLLIN) -> console_in_wake(&c)
 *   each returns what to do with term.fd: keep polling it, stop polling it
 *   until the wakeup (CONSOLE_IN_WAIT), drop it (CONSOLE_IN_EOF), or stop
 *   the VM (CONSOLE_IN_QUIT: the user typed Ctrl-A x).
 * Level-triggered stdin that is not read would spin the loop: that is why
 * it leaves the loop while bytes wait, instead of staying registered.
 */
enum console_in_state {
	CONSOLE_IN_READ, /* poll the terminal */
	CONSOLE_IN_WAIT, /* do not poll it: bytes wait for FIFO room */
	CONSOLE_IN_EOF,	 /* it ended or failed: stop polling it */
	CONSOLE_IN_QUIT, /* Ctrl-A x: stop the VM */
};

struct console_in {
	struct serial8250 *uart;
	struct console *term; /* not owned: the fd and the escape state */
	int wake_fd;	      /* owned: the UART's rx wakeup eventfd */
	char buf[65];	      /* one read (64) plus a pending Ctrl-A */
	size_t off, len;      /* buf[off, len) waits for the UART */
	/* console_in_attach: the loop term->fd is in while state is READ. */
	struct loop *loop;
	enum console_in_state state;
	void (*quit)(void *opaque);
	void *quit_opaque;
};

/* Create the wakeup eventfd and hand it to the UART; term->fd must be the
 * open console (console_open). 0 or -errno. */
int console_in_init(struct console_in *c, struct serial8250 *uart,
		    struct console *term) __attribute__((warn_unused_result));

/* The terminal is readable: read (only when nothing waits), handle the
 * escapes and feed the UART. */
enum console_in_state console_in_read(struct console_in *c);

/* wake_fd is readable: feed what waits. */
enum console_in_state console_in_wake(struct console_in *c);

/*
 * Run the input on loop l: watch wake_fd, and term->fd while the UART
 * takes what is read (removed on CONSOLE_IN_WAIT, back at the wakeup,
 * removed for good at EOF). Ctrl-A x logs a warning saying so, calls
 * quit(opaque) once and ends the input. 0, or a negative errno with nothing left registered. Call after
 * console_in_init; console_in_close unregisters.
 */
int console_in_attach(struct console_in *c, struct loop *l,
		      void (*quit)(void *opaque), void *opaque)
	__attribute__((warn_unused_result));

/*
 * The whole console: console_open(term, fd), then, when that took the
 * terminal, its input fed to uart through in on loop l (console_in_init,
 * console_in_attach with quit and opaque). A terminal whose input cannot
 * be set up is closed again: never left in raw mode unread. Returns 1 when
 * in was set up (console_in_close it at the end), else 0.
 */
int console_start(struct console *term, struct console_in *in, int fd,
		  struct serial8250 *uart, struct loop *l,
		  void (*quit)(void *opaque), void *opaque);

/* Detach from the UART and the loop, close the eventfd (no-op when not
 * set up). */
void console_in_close(struct console_in *c);

/*
 * Async-signal-safe restore of the saved settings, for signal handlers
 * that are about to let the process die (seccomp's SIGSYS report). Does
 * nothing when no console is in raw mode.
 */
void console_restore_signal_safe(void);

#endif
