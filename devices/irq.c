#include "devices/irq.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "lib/log.h"

void irq_pulse(struct irq_line *l)
{
	if (l->irqfd >= 0) {
		uint64_t one = 1;
		ssize_t n;

		do
			n = write(l->irqfd, &one, sizeof(one));
		while (n < 0 && errno == EINTR);
		if (n == sizeof(one))
			return;
		/* Only a saturated counter (EAGAIN) or a broken fd gets
		 * here; fall back to the line so the edge is not lost. */
		log_ratelimited(&l->rl, LOG_WARN, "irqfd write for gsi %u: %s",
				l->gsi, n < 0 ? "failed" : "short");
	}
	if (l->set) {
		l->set(l->opaque, l->gsi, 1);
		l->set(l->opaque, l->gsi, 0);
	}
}

void irq_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->opaque, l->gsi, level);
}
