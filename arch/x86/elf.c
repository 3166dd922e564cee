#include "arch/x86/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "lib/err.h"

int elf_probe(const void *buf, size_t len)
{
	return buf && len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG);
}

/* Tables read from the image are small; anything bigger is corrupt, and a
 * cap keeps a hostile file from making us allocate gigabytes. */
#define ELF_TABLE_MAX (1ULL << 20)

/* Read phdr i from the program header table read from the image (tab). The
 * table may be unaligned, hence memcpy. */
static void elf_phdr(const uint8_t *tab, const Elf64_Ehdr *eh, unsigned i,
		     Elf64_Phdr *ph)
{
	memcpy(ph, tab + (uint64_t)i * eh->e_phentsize, sizeof(*ph));
}

static uint32_t elf_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t elf_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Walk the notes of one PT_NOTE segment looking for Xen's PHYS32_ENTRY.
 * Linux emits it with a pointer-sized descriptor (.quad on x86_64), older
 * producers with 4 bytes; both are accepted if the value fits in 32 bits.
 */
static int elf_scan_notes(const uint8_t *p, uint64_t size, uint64_t align,
			  struct elf_image *out, char *err, size_t errlen)
{
	uint64_t pos = 0;

	while (size - pos >= 12) {
		uint32_t namesz = elf_le32(p + pos);
		uint32_t descsz = elf_le32(p + pos + 4);
		uint32_t type = elf_le32(p + pos + 8);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = elf_align(name_off + namesz, align);
		uint64_t desc_end = desc_off + descsz;

		/* All terms are < 2^33, so no overflow in 64 bits. */
		if (desc_end > size)
			return err_set(err, errlen, -ENOEXEC,
				       "corrupt ELF: note at offset %llu runs "
				       "past its PT_NOTE segment",
				       (unsigned long long)pos);
		if (namesz == 4 && !memcmp(p + name_off, "Xen", 4) &&
		    type == ELF_XEN_NOTE_PHYS32_ENTRY) {
			uint64_t v;

			if (descsz == 4) {
				v = elf_le32(p + desc_off);
			} else if (descsz == 8) {
				v = elf_le32(p + desc_off) |
				    (uint64_t)elf_le32(p + desc_off + 4) << 32;
			} else {
				return err_set(err, errlen, -ENOEXEC,
					       "corrupt ELF: Xen PVH entry "
					       "note has %u-byte descriptor",
					       descsz);
			}
			if (v > UINT32_MAX)
				return err_set(err, errlen, -ENOEXEC,
					       "corrupt ELF: PVH entry 0x%llx "
					       "is above 4 GiB",
					       (unsigned long long)v);
			out->pvh_entry = v;
			out->has_pvh = 1;
		}
		pos = elf_align(desc_end, align);
		if (pos > size)
			break;
	}
	return 0;
}

static int elf_check_header(const Elf64_Ehdr *eh, uint64_t len, char *err,
			    size_t errlen)
{
	uint64_t table_len, table_end;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF kernel is not 64-bit (class %u)",
			       eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF kernel is not little-endian");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: bad version");
	if (eh->e_machine != EM_X86_64)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF kernel is not x86_64 (machine %u)",
			       eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF kernel is not an executable (type %u)",
			       eh->e_type);
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: %u program headers", eh->e_phnum);
	if (eh->e_phentsize < sizeof(Elf64_Phdr))
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: program header size %u < %zu",
			       eh->e_phentsize, sizeof(Elf64_Phdr));
	table_len = (uint64_t)eh->e_phnum * eh->e_phentsize;
	if (__builtin_add_overflow(eh->e_phoff, table_len, &table_end) ||
	    table_end > len)
		return err_set(err, errlen, -ENOEXEC,
			       "truncated ELF: program headers at %llu+%llu "
			       "past the end of the %llu-byte file",
			       (unsigned long long)eh->e_phoff,
			       (unsigned long long)table_len,
			       (unsigned long long)len);
	return 0;
}

static int elf_check_load(const struct guest_mem *gm, const Elf64_Phdr *ph,
			  unsigned i, uint64_t len, char *err, size_t errlen)
{
	uint64_t file_end, mem_end;

	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &file_end) ||
	    file_end > len)
		return err_set(err, errlen, -ENOEXEC,
			       "truncated ELF: segment %u (offset %llu, %llu "
			       "bytes) past the end of the %llu-byte file",
			       i, (unsigned long long)ph->p_offset,
			       (unsigned long long)ph->p_filesz,
			       (unsigned long long)len);
	if (ph->p_filesz > ph->p_memsz)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: segment %u file size %llu > "
			       "memory size %llu",
			       i, (unsigned long long)ph->p_filesz,
			       (unsigned long long)ph->p_memsz);
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &mem_end))
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: segment %u address 0x%llx + "
			       "0x%llx overflows",
			       i, (unsigned long long)ph->p_paddr,
			       (unsigned long long)ph->p_memsz);
	/* Below 1 MiB live the zero page, page tables, cmdline, MP table. */
	if (ph->p_paddr < LAYOUT_HIMEM_START)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF segment %u at 0x%llx is below 1 MiB", i,
			       (unsigned long long)ph->p_paddr);
	if (!guest_mem_ptr(gm, ph->p_paddr, ph->p_memsz))
		return err_set(err, errlen, -ENOMEM,
			       "kernel does not fit in RAM: segment %u "
			       "[0x%llx, 0x%llx) is outside guest memory",
			       i, (unsigned long long)ph->p_paddr,
			       (unsigned long long)mem_end);
	return 0;
}

/* Physical address for e_entry: taken as physical if a segment's physical
 * range holds it (Linux links vmlinux with ENTRY(phys_startup_64)), else
 * translated from a virtual range. 0 if no segment holds it. */
static uint64_t elf_entry_phys(const uint8_t *tab, const Elf64_Ehdr *eh)
{
	Elf64_Phdr ph;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(tab, eh, i, &ph);
		if (ph.p_type == PT_LOAD && eh->e_entry >= ph.p_paddr &&
		    eh->e_entry - ph.p_paddr < ph.p_filesz)
			return eh->e_entry;
	}
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(tab, eh, i, &ph);
		if (ph.p_type == PT_LOAD && eh->e_entry >= ph.p_vaddr &&
		    eh->e_entry - ph.p_vaddr < ph.p_filesz)
			return ph.p_paddr + (eh->e_entry - ph.p_vaddr);
	}
	return 0;
}

static int elf_in_load(const uint8_t *tab, const Elf64_Ehdr *eh, uint64_t pa)
{
	Elf64_Phdr ph;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(tab, eh, i, &ph);
		if (ph.p_type == PT_LOAD && pa >= ph.p_paddr &&
		    pa - ph.p_paddr < ph.p_filesz)
			return 1;
	}
	return 0;
}

/* Scan the notes of PT_NOTE segment ph, read from the image. */
static int elf_read_notes(const struct boot_src *src, const Elf64_Phdr *ph,
			  unsigned i, struct elf_image *img, char *err,
			  size_t errlen)
{
	uint8_t *notes;
	uint64_t end;
	int ret;

	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &end) ||
	    end > src->len)
		return err_set(err, errlen, -ENOEXEC,
			       "truncated ELF: note segment %u past the end "
			       "of the file",
			       i);
	if (ph->p_filesz > ELF_TABLE_MAX)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: note segment %u is %llu bytes", i,
			       (unsigned long long)ph->p_filesz);
	notes = malloc(ph->p_filesz ? ph->p_filesz : 1);
	if (!notes)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	ret = boot_src_read(src, ph->p_offset, notes, ph->p_filesz);
	if (ret)
		ret = err_set(err, errlen, ret, "reading ELF note segment %u",
			      i);
	else
		ret = elf_scan_notes(notes, ph->p_filesz,
				     ph->p_align == 8 ? 8 : 4, img, err,
				     errlen);
	free(notes);
	return ret;
}

/* Pass 1: validate everything, write nothing. */
static int elf_validate(const struct guest_mem *gm, const struct boot_src *src,
			const Elf64_Ehdr *eh, const uint8_t *tab,
			struct elf_image *img, char *err, size_t errlen)
{
	unsigned nload = 0;
	Elf64_Phdr ph;
	int ret;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		elf_phdr(tab, eh, i, &ph);
		if (ph.p_type == PT_NOTE) {
			ret = elf_read_notes(src, &ph, i, img, err, errlen);
			if (ret)
				return ret;
			continue;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		/* An empty segment loads nothing, but it must not carry file
		 * bytes either: the entry lookups trust filesz <= memsz. */
		if (ph.p_memsz == 0 && ph.p_filesz)
			return err_set(err, errlen, -ENOEXEC,
				       "corrupt ELF: segment %u file size "
				       "%llu > memory size 0",
				       i, (unsigned long long)ph.p_filesz);
		if (ph.p_memsz == 0)
			continue;
		ret = elf_check_load(gm, &ph, i, src->len, err, errlen);
		if (ret)
			return ret;
		nload++;
		if (ph.p_paddr < img->load_start)
			img->load_start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > img->load_end)
			img->load_end = ph.p_paddr + ph.p_memsz;
	}
	if (!nload)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF kernel has no loadable segment");
	if (img->has_pvh && !elf_in_load(tab, eh, img->pvh_entry))
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: PVH entry 0x%llx is outside the "
			       "loaded segments",
			       (unsigned long long)img->pvh_entry);
	img->entry64 = elf_entry_phys(tab, eh);
	if (!img->has_pvh && !img->entry64)
		return err_set(err, errlen, -ENOEXEC,
			       "ELF kernel has no usable entry: no PVH note "
			       "and e_entry 0x%llx is in no loaded segment",
			       (unsigned long long)eh->e_entry);
	return 0;
}

/* Pass 2: copy each segment from the image straight into guest memory and
 * zero its bss tail. */
static int elf_copy(const struct guest_mem *gm, const struct boot_src *src,
		    const Elf64_Ehdr *eh, const uint8_t *tab, char *err,
		    size_t errlen)
{
	Elf64_Phdr ph;
	int ret;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		uint8_t *dst;

		elf_phdr(tab, eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		dst = guest_mem_ptr(gm, ph.p_paddr, ph.p_memsz);
		if (!dst) /* checked in pass 1 */
			return err_set(err, errlen, -EFAULT,
				       "segment %u vanished from RAM", i);
		ret = boot_src_read(src, ph.p_offset, dst, ph.p_filesz);
		if (ret)
			return err_set(err, errlen, ret,
				       "reading ELF segment %u", i);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return 0;
}

int elf_load_src(const struct guest_mem *gm, const struct boot_src *src,
		 struct elf_image *out, char *err, size_t errlen)
{
	struct elf_image img = {.load_start = UINT64_MAX};
	uint64_t table_len;
	uint8_t *tab;
	Elf64_Ehdr eh;
	int ret;

	if (src->len < sizeof(eh))
		return err_set(err, errlen, -ENOEXEC,
			       "truncated ELF: %llu bytes, header needs %zu",
			       (unsigned long long)src->len, sizeof(eh));
	ret = boot_src_read(src, 0, &eh, sizeof(eh));
	if (ret)
		return err_set(err, errlen, ret, "reading the ELF header");
	if (!elf_probe(&eh, sizeof(eh)))
		return err_set(err, errlen, -ENOEXEC, "not an ELF file");
	ret = elf_check_header(&eh, src->len, err, errlen);
	if (ret)
		return ret;
	table_len = (uint64_t)eh.e_phnum * eh.e_phentsize;
	if (table_len > ELF_TABLE_MAX)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt ELF: %llu bytes of program headers",
			       (unsigned long long)table_len);
	tab = malloc(table_len);
	if (!tab)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	ret = boot_src_read(src, eh.e_phoff, tab, table_len);
	if (ret)
		ret = err_set(err, errlen, ret,
			      "reading the ELF program headers");
	if (!ret)
		ret = elf_validate(gm, src, &eh, tab, &img, err, errlen);
	if (!ret)
		ret = elf_copy(gm, src, &eh, tab, err, errlen);
	free(tab);
	if (!ret)
		*out = img;
	return ret;
}

int elf_load(const struct guest_mem *gm, const void *image, size_t len,
	     struct elf_image *out, char *err, size_t errlen)
{
	struct boot_src src = boot_src_mem(image, len);

	if (!elf_probe(image, len))
		return err_set(err, errlen, -ENOEXEC, "not an ELF file");
	return elf_load_src(gm, &src, out, err, errlen);
}
