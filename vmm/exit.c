#include "vmm/exit.h"

#include <stdio.h>
#include <string.h>

#include "lib/log.h"

static enum exit_action exit_io(struct kvm_run *run, struct exit_ctx *ctx,
				char *why, size_t whylen)
{
	uint32_t size = run->io.size, count = run->io.count;
	uint64_t off = run->io.data_offset, total = (uint64_t)size * count;
	uint8_t *data;

	/* The data lives inside the kvm_run mapping; never trust the offset
	 * blindly, even if KVM wrote it. */
	if ((size != 1 && size != 2 && size != 4) || !count ||
	    off < sizeof(*run) || off > ctx->run_size ||
	    total > ctx->run_size - off) {
		snprintf(why, whylen,
			 "bad IO exit: port %#x size %u count %u offset %llu",
			 run->io.port, size, count, (unsigned long long)off);
		return EXIT_ERROR;
	}
	data = (uint8_t *)run + off;
	for (uint32_t i = 0; i < count; i++, data += size) {
		int claimed;

		if (run->io.direction == KVM_EXIT_IO_OUT)
			claimed = bus_write(ctx->pio, run->io.port, data, size);
		else
			claimed = bus_read(ctx->pio, run->io.port, data, size);
		if (!claimed)
			log_ratelimited(&ctx->pio_rl, LOG_INFO,
					"unclaimed port %s at %#x size %u",
					run->io.direction == KVM_EXIT_IO_OUT
						? "write"
						: "read",
					run->io.port, size);
	}
	return EXIT_CONTINUE;
}

static enum exit_action exit_mmio(struct kvm_run *run, struct exit_ctx *ctx)
{
	uint32_t len = run->mmio.len;
	int claimed;

	if (!len || len > sizeof(run->mmio.data)) {
		log_ratelimited(&ctx->mmio_rl, LOG_WARN,
				"MMIO exit with bad length %u at %#llx", len,
				(unsigned long long)run->mmio.phys_addr);
		return EXIT_CONTINUE;
	}
	if (run->mmio.is_write)
		claimed = bus_write(ctx->mmio, run->mmio.phys_addr,
				    run->mmio.data, len);
	else
		claimed = bus_read(ctx->mmio, run->mmio.phys_addr,
				   run->mmio.data, len);
	if (!claimed)
		log_ratelimited(&ctx->mmio_rl, LOG_INFO,
				"unclaimed MMIO %s at %#llx size %u",
				run->mmio.is_write ? "write" : "read",
				(unsigned long long)run->mmio.phys_addr, len);
	return EXIT_CONTINUE;
}

enum exit_action exit_dispatch(struct kvm_run *run, struct exit_ctx *ctx,
			       char *why, size_t whylen)
{
	why[0] = 0;
	switch (run->exit_reason) {
	case KVM_EXIT_IO: return exit_io(run, ctx, why, whylen);
	case KVM_EXIT_MMIO: return exit_mmio(run, ctx);
	case KVM_EXIT_INTR:
		/* A signal kicked us out; the caller checks for a stop. */
		return EXIT_CONTINUE;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC: nothing will wake us. */
		snprintf(why, whylen, "guest halted");
		return EXIT_GUEST_STOP;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: Linux's last resort for reboot. */
		snprintf(why, whylen, "guest reset (triple fault)");
		return EXIT_GUEST_STOP;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			snprintf(why, whylen, "guest powered off");
			return EXIT_GUEST_STOP;
		case KVM_SYSTEM_EVENT_RESET:
			snprintf(why, whylen, "guest reset");
			return EXIT_GUEST_STOP;
		default:
			snprintf(why, whylen, "guest system event %u",
				 run->system_event.type);
			return EXIT_ERROR;
		}
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(
			why, whylen,
			"KVM could not enter the guest (hardware reason %#llx)",
			(unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
		return EXIT_ERROR;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(
			why, whylen, "KVM internal error %u%s",
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				? " (instruction emulation failed; this host's "
				  "KVM may be paravirtual: see README, nested "
				  "boot)"
				: "");
		return EXIT_ERROR;
	default:
		snprintf(why, whylen, "unhandled KVM exit reason %u",
			 run->exit_reason);
		return EXIT_ERROR;
	}
}
