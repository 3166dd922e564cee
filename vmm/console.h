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
 * Async-signal-safe restore of the saved settings, for signal handlers
 * that are about to let the process die (seccomp's SIGSYS report). Does
 * nothing when no console is in raw mode.
 */
void console_restore_signal_safe(void);

#endif
