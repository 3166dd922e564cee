#include "arch/arm64/dtb.h"

#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"

/* The GIC's phandle: the root's interrupt-parent, so no device repeats it. */
#define DTB_GIC_PHANDLE 1

/* The GIC's three interrupt cells: type, number within the type, flags
 * (Linux include/dt-bindings/interrupt-controller/arm-gic.h and irq.h). */
#define DTB_GIC_SPI	    0
#define DTB_GIC_PPI	    1
#define DTB_IRQ_EDGE_RISING 1
#define DTB_IRQ_LEVEL_HIGH  4
#define DTB_IRQ_LEVEL_LOW   8
/* GICv2 only: which CPUs a PPI reaches, bits 15:8 of the flags cell. */
#define DTB_GICV2_PPI_CPU_SHIFT 8
/* The last SPI the GIC architecture has (INTID 1019 = SPI 987). */
#define DTB_SPI_MAX 987

/* PSCI 0.2 function ids (SMC64 where there is one), for a kernel that only
 * knows the "arm,psci" (0.1) binding, which names them in properties. */
#define DTB_PSCI_CPU_SUSPEND 0xc4000001u
#define DTB_PSCI_CPU_OFF     0x84000002u
#define DTB_PSCI_CPU_ON	     0xc4000003u
#define DTB_PSCI_MIGRATE     0xc4000005u

/* cpus use one reg cell: MPIDR Aff2..Aff0 (arm/cpus.yaml). */
#define DTB_MPIDR_MASK 0xffffffULL

uint64_t dtb_cpu_mpidr(unsigned n)
{
	return (uint64_t)(n & 0xf) | (uint64_t)((n >> 4) & 0xff) << 8 |
	       (uint64_t)((n >> 12) & 0xff) << 16;
}

static uint64_t cpu_reg(const struct dtb_config *c, unsigned n)
{
	return c->cpu_mpidr ? c->cpu_mpidr[n] : dtb_cpu_mpidr(n);
}

/* A named guest-physical window, for the overlap check. */
struct dtb_window {
	const char *what;
	int idx; /* which memory range or virtio device; -1: the only one */
	struct dtb_range r;
};

/* "memory range 2", "the UART": how an error line names a window. */
static const char *window_name(const struct dtb_window *w, char *buf,
			       size_t len)
{
	if (w->idx < 0)
		snprintf(buf, len, "the %s", w->what);
	else
		snprintf(buf, len, "%s %d", w->what, w->idx);
	return buf;
}

static int range_check(const struct dtb_window *w, char *err, size_t errlen)
{
	char name[40];
	uint64_t end;

	if (!w->r.size || __builtin_add_overflow(w->r.base, w->r.size, &end))
		return err_set(err, errlen, -EINVAL,
			       "device tree: %s at 0x%" PRIx64
			       " size 0x%" PRIx64
			       " is empty or wraps the address space",
			       window_name(w, name, sizeof(name)), w->r.base,
			       w->r.size);
	return 0;
}

static int overlaps(const struct dtb_range *a, const struct dtb_range *b)
{
	/* Both were range_check'ed: base + size does not wrap. */
	return a->base < b->base + b->size && b->base < a->base + a->size;
}

/* Every window is non-empty and apart from every other: two nodes over
 * the same addresses would make the guest drive one device through
 * another, and two equal unit addresses are one node name twice. */
static int check_windows(const struct dtb_config *c, char *err, size_t errlen)
{
	struct dtb_window w[DTB_MAX_MEM + DTB_MAX_VIRTIO + 3];
	char a[40], b[40];
	unsigned n = 0, i, j;
	int ret;

	for (i = 0; i < c->nr_mem; i++)
		w[n++] = (struct dtb_window){"memory range", (int)i, c->mem[i]};
	w[n++] = (struct dtb_window){"GIC distributor", -1, c->gic_dist};
	w[n++] = (struct dtb_window){c->gic == DTB_GIC_V3
					     ? "GIC redistributor region"
					     : "GIC CPU interface",
				     -1, c->gic_cpu};
	w[n++] = (struct dtb_window){"UART", -1, c->uart};
	for (i = 0; i < c->nr_virtio; i++)
		w[n++] = (struct dtb_window){"virtio device", (int)i,
					     c->virtio[i].reg};
	for (i = 0; i < n; i++) {
		ret = range_check(&w[i], err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (overlaps(&w[i].r, &w[j].r))
				return err_set(
					err, errlen, -EINVAL,
					"device tree: %s at 0x%" PRIx64
					" overlaps %s at 0x%" PRIx64
					"; give each window its own addresses",
					window_name(&w[i], a, sizeof(a)),
					w[i].r.base,
					window_name(&w[j], b, sizeof(b)),
					w[j].r.base);
	return 0;
}

static int check_irqs(const struct dtb_config *c, char *err, size_t errlen)
{
	unsigned i, j;

	if (c->uart_spi > DTB_SPI_MAX)
		return err_set(err, errlen, -EINVAL,
			       "device tree: UART SPI %" PRIu32
			       " is past the last SPI %d",
			       c->uart_spi, DTB_SPI_MAX);
	for (i = 0; i < c->nr_virtio; i++) {
		uint32_t spi = c->virtio[i].spi;

		if (spi > DTB_SPI_MAX)
			return err_set(err, errlen, -EINVAL,
				       "device tree: virtio device %u SPI "
				       "%" PRIu32 " is past the last SPI %d",
				       i, spi, DTB_SPI_MAX);
		/* An edge-triggered virtio line shared with another device
		 * would lose interrupts: every device gets its own SPI. */
		if (spi == c->uart_spi)
			return err_set(err, errlen, -EINVAL,
				       "device tree: virtio device %u shares "
				       "SPI %" PRIu32 " with the UART",
				       i, spi);
		for (j = 0; j < i; j++)
			if (c->virtio[j].spi == spi)
				return err_set(err, errlen, -EINVAL,
					       "device tree: virtio devices "
					       "%u and %u share SPI %" PRIu32,
					       j, i, spi);
	}
	return 0;
}

static int check_cpus(const struct dtb_config *c, char *err, size_t errlen)
{
	unsigned i, j;

	if (c->nr_cpus < 1 || c->nr_cpus > DTB_MAX_CPUS)
		return err_set(err, errlen, -EINVAL,
			       "device tree: %u CPUs; give 1 to %d", c->nr_cpus,
			       DTB_MAX_CPUS);
	if (c->gic == DTB_GIC_V2 && c->nr_cpus > DTB_GICV2_MAX_CPUS)
		return err_set(err, errlen, -EINVAL,
			       "device tree: %u CPUs with a GICv2 (this "
			       "host's KVM has no GICv3), which reaches at "
			       "most %d: use --cpus %d or fewer",
			       c->nr_cpus, DTB_GICV2_MAX_CPUS,
			       DTB_GICV2_MAX_CPUS);
	for (i = 0; i < c->nr_cpus; i++) {
		uint64_t r = cpu_reg(c, i);

		if (r & ~DTB_MPIDR_MASK)
			return err_set(err, errlen, -EINVAL,
				       "device tree: cpu %u MPIDR 0x%" PRIx64
				       " has bits past Aff2",
				       i, r);
		for (j = 0; j < i; j++)
			if (cpu_reg(c, j) == r)
				return err_set(err, errlen, -EINVAL,
					       "device tree: cpus %u and %u "
					       "share MPIDR 0x%" PRIx64,
					       j, i, r);
	}
	return 0;
}

static int check_config(const struct dtb_config *c, char *err, size_t errlen)
{
	uint64_t need;
	unsigned i;
	int ret;

	if (c->gic != DTB_GIC_V2 && c->gic != DTB_GIC_V3)
		return err_set(err, errlen, -EINVAL,
			       "device tree: GIC version %d; give 2 or 3",
			       (int)c->gic);
	ret = check_cpus(c, err, errlen);
	if (ret)
		return ret;
	if (c->nr_mem < 1 || c->nr_mem > DTB_MAX_MEM)
		return err_set(err, errlen, -EINVAL,
			       "device tree: %u memory ranges; give 1 to %d",
			       c->nr_mem, DTB_MAX_MEM);
	if (c->nr_virtio > DTB_MAX_VIRTIO)
		return err_set(err, errlen, -EINVAL,
			       "device tree: %u virtio devices; at most %d",
			       c->nr_virtio, DTB_MAX_VIRTIO);
	ret = check_windows(c, err, errlen);
	if (ret)
		return ret;
	need = (uint64_t)c->nr_cpus * DTB_GICV3_REDIST_STRIDE;
	if (c->gic == DTB_GIC_V3 && c->gic_cpu.size < need)
		return err_set(err, errlen, -EINVAL,
			       "device tree: GICv3 redistributor region size "
			       "0x%" PRIx64 " is below 0x%" PRIx64
			       " for %u CPUs",
			       c->gic_cpu.size, need, c->nr_cpus);
	ret = check_irqs(c, err, errlen);
	if (ret)
		return ret;
	if (!c->uart_clock_hz)
		return err_set(err, errlen, -EINVAL,
			       "device tree: UART clock-frequency is 0");
	if (c->bootargs && strlen(c->bootargs) >= DTB_MAX_BOOTARGS)
		return err_set(err, errlen, -EINVAL,
			       "device tree: bootargs are %zu bytes; the arm64 "
			       "kernel takes at most %d",
			       strlen(c->bootargs), DTB_MAX_BOOTARGS - 1);
	if (c->initrd_start == c->initrd_end)
		return 0;
	if (c->initrd_start > c->initrd_end)
		return err_set(err, errlen, -EINVAL,
			       "device tree: initrd end 0x%" PRIx64
			       " is below its start 0x%" PRIx64,
			       c->initrd_end, c->initrd_start);
	/* The kernel reads the initrd from RAM: it lies inside one range. */
	for (i = 0; i < c->nr_mem; i++)
		if (c->initrd_start >= c->mem[i].base &&
		    c->initrd_end <= c->mem[i].base + c->mem[i].size)
			return 0;
	return err_set(err, errlen, -EINVAL,
		       "device tree: initrd 0x%" PRIx64 "-0x%" PRIx64
		       " is not inside one memory range",
		       c->initrd_start, c->initrd_end);
}

/*
 * The sequential-write calls keep the first libfdt error and skip the
 * rest, so the tree reads as a list of nodes and the error is checked once.
 */
struct dtb_writer {
	void *fdt;
	int rc;
};

static void w_begin(struct dtb_writer *w, const char *name)
{
	if (!w->rc)
		w->rc = fdt_begin_node(w->fdt, name);
}

static void w_end(struct dtb_writer *w)
{
	if (!w->rc)
		w->rc = fdt_end_node(w->fdt);
}

static void w_prop(struct dtb_writer *w, const char *name, const void *val,
		   size_t len)
{
	if (!w->rc)
		w->rc = fdt_property(w->fdt, name, val, (int)len);
}

/* A string literal with its NUL; embedded NULs make a string list. */
#define w_str(w, name, lit) w_prop(w, name, lit, sizeof(lit))

static void w_empty(struct dtb_writer *w, const char *name)
{
	w_prop(w, name, "", 0);
}

static void w_u32(struct dtb_writer *w, const char *name, uint32_t v)
{
	if (!w->rc)
		w->rc = fdt_property_u32(w->fdt, name, v);
}

static void w_u64(struct dtb_writer *w, const char *name, uint64_t v)
{
	if (!w->rc)
		w->rc = fdt_property_u64(w->fdt, name, v);
}

/* reg with the root's two address and two size cells, n ranges. */
static void w_reg(struct dtb_writer *w, const struct dtb_range *r, unsigned n)
{
	fdt64_t cells[4];
	unsigned i;

	for (i = 0; i < n && i < 2; i++) {
		cells[2 * i] = cpu_to_fdt64(r[i].base);
		cells[2 * i + 1] = cpu_to_fdt64(r[i].size);
	}
	w_prop(w, "reg", cells, 2 * i * sizeof(cells[0]));
}

/* One interrupt in the GIC's three cells. */
static void w_irq(struct dtb_writer *w, uint32_t type, uint32_t nr,
		  uint32_t flags)
{
	fdt32_t cells[3] = {cpu_to_fdt32(type), cpu_to_fdt32(nr),
			    cpu_to_fdt32(flags)};

	w_prop(w, "interrupts", cells, sizeof(cells));
}

static void w_node_at(struct dtb_writer *w, const char *name, uint64_t addr)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%s@%" PRIx64, name, addr);
	w_begin(w, buf);
}

static void write_cpus(struct dtb_writer *w, const struct dtb_config *c)
{
	unsigned i;

	w_begin(w, "cpus");
	w_u32(w, "#address-cells", 1);
	w_u32(w, "#size-cells", 0);
	for (i = 0; i < c->nr_cpus; i++) {
		uint64_t reg = cpu_reg(c, i);

		w_node_at(w, "cpu", reg);
		w_str(w, "device_type", "cpu");
		w_str(w, "compatible", "arm,arm-v8");
		w_str(w, "enable-method", "psci");
		w_u32(w, "reg", (uint32_t)reg);
		w_end(w);
	}
	w_end(w);

	w_begin(w, "psci");
	w_str(w, "compatible", "arm,psci-0.2\0arm,psci");
	w_str(w, "method", "hvc");
	w_u32(w, "cpu_suspend", DTB_PSCI_CPU_SUSPEND);
	w_u32(w, "cpu_off", DTB_PSCI_CPU_OFF);
	w_u32(w, "cpu_on", DTB_PSCI_CPU_ON);
	w_u32(w, "migrate", DTB_PSCI_MIGRATE);
	w_end(w);
}

static void write_gic_timer(struct dtb_writer *w, const struct dtb_config *c)
{
	struct dtb_range reg[2] = {c->gic_dist, c->gic_cpu};
	/* Secure physical, non-secure physical, virtual, hypervisor timer
	 * (arm,armv8-timer order): PPIs 13, 14, 11, 10. */
	static const uint32_t ppi[4] = {13, 14, 11, 10};
	uint32_t flags = DTB_IRQ_LEVEL_LOW;
	fdt32_t cells[12];
	unsigned i;

	w_node_at(w, "intc", c->gic_dist.base);
	if (c->gic == DTB_GIC_V3) {
		w_str(w, "compatible", "arm,gic-v3");
		w_u32(w, "#redistributor-regions", 1);
	} else {
		w_str(w, "compatible", "arm,cortex-a15-gic");
	}
	/* v3: distributor then redistributors; v2: distributor then CPU
	 * interface. */
	w_reg(w, reg, 2);
	w_empty(w, "interrupt-controller");
	w_u32(w, "#interrupt-cells", 3);
	/* No children (no ITS): 0 address cells, as an interrupt-map
	 * parent unit address would take (dtc's interrupt_provider). */
	w_u32(w, "#address-cells", 0);
	w_u32(w, "phandle", DTB_GIC_PHANDLE);
	w_end(w);

	/* A GICv2 PPI names the CPUs it reaches; a GICv3 one needs no mask
	 * (and must have none). */
	if (c->gic == DTB_GIC_V2)
		flags |= ((1u << c->nr_cpus) - 1) << DTB_GICV2_PPI_CPU_SHIFT;
	for (i = 0; i < 4; i++) {
		cells[3 * i] = cpu_to_fdt32(DTB_GIC_PPI);
		cells[3 * i + 1] = cpu_to_fdt32(ppi[i]);
		cells[3 * i + 2] = cpu_to_fdt32(flags);
	}
	w_begin(w, "timer");
	w_str(w, "compatible", "arm,armv8-timer");
	w_prop(w, "interrupts", cells, sizeof(cells));
	w_empty(w, "always-on");
	w_end(w);
}

static void write_devices(struct dtb_writer *w, const struct dtb_config *c)
{
	unsigned i;

	w_node_at(w, "uart", c->uart.base);
	w_str(w, "compatible", "ns16550a");
	w_reg(w, &c->uart, 1);
	w_u32(w, "clock-frequency", c->uart_clock_hz);
	w_u32(w, "reg-shift", 0);
	w_u32(w, "reg-io-width", 1);
	w_irq(w, DTB_GIC_SPI, c->uart_spi, DTB_IRQ_LEVEL_HIGH);
	w_end(w);

	for (i = 0; i < c->nr_virtio; i++) {
		w_node_at(w, "virtio_mmio", c->virtio[i].reg.base);
		w_str(w, "compatible", "virtio,mmio");
		w_reg(w, &c->virtio[i].reg, 1);
		w_irq(w, DTB_GIC_SPI, c->virtio[i].spi, DTB_IRQ_EDGE_RISING);
		w_empty(w, "dma-coherent");
		w_end(w);
	}
}

static void write_chosen(struct dtb_writer *w, const struct dtb_config *c)
{
	char path[48];

	snprintf(path, sizeof(path), "/uart@%" PRIx64, c->uart.base);
	w_begin(w, "chosen");
	if (c->bootargs)
		w_prop(w, "bootargs", c->bootargs, strlen(c->bootargs) + 1);
	w_prop(w, "stdout-path", path, strlen(path) + 1);
	/* 64-bit cells: the initrd may lie above 4 GiB. */
	if (c->initrd_start != c->initrd_end) {
		w_u64(w, "linux,initrd-start", c->initrd_start);
		w_u64(w, "linux,initrd-end", c->initrd_end);
	}
	w_end(w);
}

int dtb_build(const struct dtb_config *c, void *buf, size_t len, size_t *used,
	      char *err, size_t errlen)
{
	struct dtb_writer w = {buf, 0};
	unsigned i;
	int ret;

	if (!c || !buf || !used)
		return err_set(err, errlen, -EINVAL,
			       "device tree: no config or buffer");
	/* A guest reads the blob in place: fdt headers need 8-byte
	 * alignment, which the kernel requires of the DTB address too. */
	if ((uintptr_t)buf & 7)
		return err_set(err, errlen, -EINVAL,
			       "device tree: buffer %p is not 8-byte aligned",
			       buf);
	ret = check_config(c, err, errlen);
	if (ret)
		return ret;

	w.rc = fdt_create(buf, len > INT_MAX ? INT_MAX : (int)len);
	if (!w.rc)
		w.rc = fdt_finish_reservemap(buf);
	w_begin(&w, "");
	w_u32(&w, "#address-cells", 2);
	w_u32(&w, "#size-cells", 2);
	w_str(&w, "compatible", "linux,dummy-virt");
	w_u32(&w, "interrupt-parent", DTB_GIC_PHANDLE);
	write_cpus(&w, c);
	for (i = 0; i < c->nr_mem; i++) {
		w_node_at(&w, "memory", c->mem[i].base);
		w_str(&w, "device_type", "memory");
		w_reg(&w, &c->mem[i], 1);
		w_end(&w);
	}
	write_gic_timer(&w, c);
	write_devices(&w, c);
	write_chosen(&w, c);
	w_end(&w);
	if (!w.rc)
		w.rc = fdt_finish(buf);
	if (w.rc == -FDT_ERR_NOSPACE)
		return err_set(err, errlen, -ENOSPC,
			       "device tree: does not fit in %zu bytes; give "
			       "a buffer of DTB_MAX_SIZE (%d)",
			       len, DTB_MAX_SIZE);
	if (w.rc)
		return err_set(err, errlen, -EINVAL, "device tree: libfdt: %s",
			       fdt_strerror(w.rc));
	*used = fdt_totalsize(buf);
	return 0;
}
