/*
 * Loader for an x86_64 vmlinux (ELF64, ET_EXEC). Works on a memory buffer so
 * it can be fuzzed; every header field is checked against the buffer length
 * and every segment against guest RAM before anything is copied.
 */
#ifndef ARCH_X86_ELF_H
#define ARCH_X86_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "arch/boot_src.h"
#include "mem/guest_mem.h"

/* Xen ELF note carrying the 32-bit PVH entry point (name "Xen"). */
#define ELF_XEN_NOTE_PHYS32_ENTRY 18

struct elf_image {
	uint64_t entry64;    /* 64-bit entry (physical), 0 if none usable */
	uint64_t pvh_entry;  /* PVH 32-bit entry (physical), 0 if no note */
	int has_pvh;	     /* 1 if the Xen PHYS32_ENTRY note was found */
	uint64_t load_start; /* lowest p_paddr of a PT_LOAD */
	uint64_t load_end;   /* highest p_paddr + p_memsz (exclusive) */
};

/* 1 if buf starts with the ELF magic (enough to pick this loader). */
int elf_probe(const void *buf, size_t len);

/*
 * Validate the ELF64 x86_64 executable in [buf, buf+len), copy each PT_LOAD
 * to its physical address (p_paddr) in gm and zero its bss tail. Segments
 * must lie at or above 1 MiB and entirely inside one RAM region. Finds the
 * PVH entry in a PT_NOTE and the 64-bit entry from e_entry (a high virtual
 * e_entry is translated through the segment that contains it). Nothing is
 * written unless the whole image validates.
 * Returns 0, -ENOEXEC (not a usable kernel, corrupt or truncated), -ENOMEM
 * (a segment is outside RAM); err gets a one-line reason.
 */
int elf_load(const struct guest_mem *gm, const void *buf, size_t len,
	     struct elf_image *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same from any image source: headers are read into small buffers and
 * segments copied straight from the source into guest memory. */
int elf_load_src(const struct guest_mem *gm, const struct boot_src *src,
		 struct elf_image *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
