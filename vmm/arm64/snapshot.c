/*
 * Snapshots on arm64: not supported yet (the saved vCPU and GIC state would
 * be arm64's: ONE_REG lists, the vGIC's registers, the timer). Every entry
 * point fails with one error line saying so; nothing is written or read.
 */
#include "vmm/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SNAPSHOT_UNSUPPORTED                                                   \
	"snapshots (ctl snapshot, --restore) are not supported on arm64 yet: " \
	"run the VM without them"

static int snapshot_unsupported(char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", SNAPSHOT_UNSUPPORTED);
	return -EOPNOTSUPP;
}

void snapshot_state_free(struct snapshot_state *s)
{
	/* Nothing is ever allocated here: s is only emptied. */
	s->nr_vcpus = 0;
	s->nr_devs = 0;
}

int snapshot_state_encode(const struct snapshot_state *s, uint8_t **buf,
			  size_t *len)
{
	(void)s;
	*buf = NULL;
	*len = 0;
	return -EOPNOTSUPP;
}

int snapshot_state_decode(const uint8_t *buf, size_t len,
			  struct snapshot_state *s, char *err, size_t errlen)
{
	(void)buf;
	(void)len;
	memset(s, 0, sizeof(*s));
	return snapshot_unsupported(err, errlen);
}

int snapshot_vcpu_save(int kvm_fd, int vcpu_fd, struct snapshot_vcpu *sv,
		       char *err, size_t errlen)
{
	(void)kvm_fd;
	(void)vcpu_fd;
	(void)sv;
	return snapshot_unsupported(err, errlen);
}

int snapshot_vcpu_restore(int vcpu_fd, const struct snapshot_vcpu *sv,
			  char *err, size_t errlen)
{
	(void)vcpu_fd;
	(void)sv;
	return snapshot_unsupported(err, errlen);
}

int snapshot_vm_save(int vm_fd, struct snapshot_state *s, char *err,
		     size_t errlen)
{
	(void)vm_fd;
	(void)s;
	return snapshot_unsupported(err, errlen);
}

int snapshot_vm_restore(int vm_fd, const struct snapshot_state *s, char *err,
			size_t errlen)
{
	(void)vm_fd;
	(void)s;
	return snapshot_unsupported(err, errlen);
}

int snapshot_devs_save(const struct bus *pio, const struct bus *mmio,
		       struct snapshot_state *s, char *err, size_t errlen)
{
	(void)pio;
	(void)mmio;
	(void)s;
	return snapshot_unsupported(err, errlen);
}

int snapshot_devs_restore(const struct bus *pio, const struct bus *mmio,
			  const struct snapshot_state *s, char *err,
			  size_t errlen)
{
	(void)pio;
	(void)mmio;
	(void)s;
	return snapshot_unsupported(err, errlen);
}

int snapshot_dir_create(const char *dir, int *dirfd, char *err, size_t errlen)
{
	(void)dir;
	*dirfd = -1;
	return snapshot_unsupported(err, errlen);
}

int snapshot_state_write(int dirfd, const uint8_t *buf, size_t len, char *err,
			 size_t errlen)
{
	(void)dirfd;
	(void)buf;
	(void)len;
	return snapshot_unsupported(err, errlen);
}

int snapshot_state_read(const char *dir, struct snapshot_state *s, char *err,
			size_t errlen)
{
	(void)dir;
	memset(s, 0, sizeof(*s));
	return snapshot_unsupported(err, errlen);
}
