# Sourced by host test scripts: tiny_kernel DIR builds two tiny PVH kernels
# (flat 32-bit code that needs no Linux and runs on any KVM, this
# paravirtual one included): DIR/tiny0.elf prints "PVH-TINY hello" on the
# serial port and resets through the i8042 (exit status 0);
# DIR/tiny1.elf prints the line and halts with interrupts off, so the VM
# stays up until a signal stops it. Returns non-zero without binutils.
tiny_kernel() {
	command -v as >/dev/null && command -v ld >/dev/null || return 1
	cat >"$1/tiny.S" <<'EOS'
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18		/* name size, desc size, PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long _start
	.balign 4

	.text
	.code32
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $msg, %esi
1:	lodsb
	test %al, %al
	jz 2f
	out %al, (%dx)
	jmp 1b
2:
.if HANG
	cli			/* wait for a signal to the VMM */
3:	hlt
	jmp 3b
.else
	mov $0xfe, %al		/* i8042 reset */
	out %al, $0x64
	hlt
	jmp 2b
.endif
msg:	.asciz "PVH-TINY hello\n"
EOS
	cat >"$1/tiny.ld" <<'EOS'
ENTRY(_start)
PHDRS { text PT_LOAD; note PT_NOTE; }
SECTIONS {
	. = 0x100000;
	.text : { *(.text) } :text
	.note : { *(.note.Xen) } :text :note
}
EOS
	for h in 0 1; do
		as --64 --defsym HANG=$h -o "$1/tiny$h.o" "$1/tiny.S" &&
			ld -m elf_x86_64 -T "$1/tiny.ld" -o "$1/tiny$h.elf" "$1/tiny$h.o" ||
			return 1
	done
}
